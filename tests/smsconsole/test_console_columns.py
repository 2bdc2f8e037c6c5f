"""The column chooser: each user picks a list's less-used columns, and the choice is remembered."""

import pytest
from django.test import Client
from django.urls import reverse

from smsconsole.models import ListColumnChoice
from tests.factories import MembershipFactory, MessageFactory

pytestmark = pytest.mark.django_db

STATUS = reverse("delivery:message-list")


def headers(client, url=STATUS, **params) -> list[str]:
    return [
        column.name for column in client.get(url, params, HTTP_ACCEPT_LANGUAGE="en").context["table"].columns
    ]


def test_a_choice_survives_a_new_login(operator, account):
    MessageFactory(account=account)
    first = Client()
    first.force_login(operator)
    assert "segments" not in headers(first)

    response = first.post(f"{STATUS}?tag=x", {"column": ["segments", "template"]})

    assert response.status_code == 302 and response["Location"] == f"{STATUS}?tag=x"  # back to the same list
    again = Client()
    again.force_login(operator)
    shown = headers(again)
    assert "segments" in shown and "template" in shown
    # Choosable columns left unticked are hidden; the key and the sort time always show.
    assert "tag" not in shown and "receipt_at" not in shown
    assert {"id", "status", "phone", "requested_at"} <= set(shown)


def test_each_user_and_each_list_has_its_own_choice(operator_client, account):
    other = Client()
    other.force_login(MembershipFactory(account=account, user__username="alice2").user)
    operator_client.post(STATUS, {"column": ["segments"]})

    assert "segments" not in headers(other)
    assert "history" not in headers(operator_client, reverse("intercepts:intercept-list"))
    assert ListColumnChoice.objects.get().list_name == "messages"


def test_default_columns_come_back(operator_client):
    operator_client.post(STATUS, {"column": ["segments"]})
    operator_client.post(STATUS, {"reset": "1"})

    assert "segments" not in headers(operator_client)
    assert "tag" in headers(operator_client)
    assert not ListColumnChoice.objects.exists()


def test_unknown_column_names_are_ignored(operator_client):
    operator_client.post(STATUS, {"column": ["segments", "account", "__class__"]})

    assert set(ListColumnChoice.objects.get().columns) == set(
        [
            "sms_user",
            "segments",
            "template",
            "template_type",
            "tag",
            "channel_delivered_at",
            "receipt_at",
            "updated_at",
        ]
    )


def test_the_chooser_lists_each_choosable_column_with_its_state(operator_client):
    choices = operator_client.get(STATUS, HTTP_ACCEPT_LANGUAGE="en").context["column_choices"]

    assert [(choice.name, choice.is_shown) for choice in choices] == [
        ("sms_user", True),
        ("segments", False),
        ("template", True),
        ("template_type", False),
        ("tag", True),
        ("channel_delivered_at", False),
        ("receipt_at", True),
        ("updated_at", True),
    ]


def test_saving_a_choice_needs_a_login_and_the_csrf_token(client, operator):
    response = client.post(STATUS, {"column": ["segments"]})
    assert response.status_code == 302 and "/login/" in response["Location"]

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert strict.post(STATUS, {"column": ["segments"]}).status_code == 403
    assert not ListColumnChoice.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        reverse("delivery:message-list"),
        reverse("intercepts:intercept-list"),
        reverse("replies:reply-list"),
        reverse("unsubscribes:unsubscribe-list"),
    ],
)
def test_every_list_has_the_chooser(operator_client, url):
    content = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'class="column-chooser"' in content and 'name="column"' in content
