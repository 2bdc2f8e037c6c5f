"""The replies list: filters, the period rule, escaping, opt-out flags, scoping."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ReplyFactory, TemplateFactory

URL = reverse("replies:reply-list")
PHONE = "+819012345678"


def listed_ids(response) -> list[int]:
    return [reply.pk for reply in response.context["table"].data.data]


def ago(**kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kwargs)


def local_input(at: dt.datetime) -> str:
    return timezone.localtime(at, timezone.get_fixed_timezone(9 * 60)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db
def test_default_list_is_the_last_24_hours_newest_first(operator_client, account):
    ReplyFactory(account=account, received_at=ago(hours=30))
    older = ReplyFactory(account=account, received_at=ago(hours=2))
    newer = ReplyFactory(account=account, received_at=ago(hours=1))

    assert listed_ids(operator_client.get(URL)) == [newer.pk, older.pk]


@pytest.mark.django_db
def test_reply_content_is_escaped(operator_client, account):
    ReplyFactory(account=account, content='<script>alert("x")</script><img src=x onerror=alert(1)>')

    content = operator_client.get(URL).content.decode()

    assert "<script>alert" not in content
    assert "<img src=x" not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content


@pytest.mark.django_db
def test_reply_content_is_escaped_in_the_number_thread(operator_client, account):
    ReplyFactory(account=account, phone=PHONE, content="<b>bold</b>")

    content = operator_client.get(reverse("delivery:number-thread", kwargs={"phone": PHONE})).content.decode()

    assert "<b>bold</b>" not in content
    assert "&lt;b&gt;bold&lt;/b&gt;" in content


@pytest.mark.django_db
def test_opt_out_like_and_unsubscribe_replies_stand_out(operator_client, account):
    ReplyFactory(account=account, content="please stop", is_optout_like=True)
    ReplyFactory(account=account, content="STOP", is_unsubscribe=True)
    ReplyFactory(account=account, content="thanks")

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert content.count('class="optout ') == 2
    assert "Looks like an opt-out" in content and "Unsubscribed" in content


@pytest.mark.django_db
def test_phone_filter(operator_client, account):
    wanted = ReplyFactory(account=account, phone=PHONE)
    ReplyFactory(account=account, phone="+819087654321")

    assert listed_ids(operator_client.get(URL, {"phone": "09012345678"})) == [wanted.pk]


@pytest.mark.django_db
def test_template_filter_lists_only_own_templates(operator_client, account, other_account):
    template = TemplateFactory(account=account, name="shipping")
    wanted = ReplyFactory(account=account, template=template)
    ReplyFactory(account=account, template=TemplateFactory(account=account))
    foreign = TemplateFactory(account=other_account, name="bobs-secret-template")

    response = operator_client.get(URL, {"template": template.pk})

    assert listed_ids(response) == [wanted.pk]
    assert "bobs-secret-template" not in response.content.decode()
    assert "template" in operator_client.get(URL, {"template": foreign.pk}).context["filter"].form.errors


@pytest.mark.django_db
def test_tag_filter(operator_client, account):
    wanted = ReplyFactory(account=account, tag="spring")
    ReplyFactory(account=account, tag="summer")

    assert listed_ids(operator_client.get(URL, {"tag": "spring"})) == [wanted.pk]


@pytest.mark.django_db
def test_period_filter_and_all_filters_combined(operator_client, account):
    template = TemplateFactory(account=account)
    wanted = ReplyFactory(account=account, phone=PHONE, template=template, tag="t", received_at=ago(days=3))
    ReplyFactory(account=account, phone=PHONE, template=template, tag="t", received_at=ago(days=6))
    ReplyFactory(account=account, phone=PHONE, template=template, tag="u", received_at=ago(days=3))

    response = operator_client.get(
        URL,
        {
            "phone": PHONE,
            "template": template.pk,
            "tag": "t",
            "received_from": local_input(ago(days=4)),
            "received_to": local_input(ago(days=2)),
        },
    )

    assert listed_ids(response) == [wanted.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"received_from": "garbage"}, "received_from"),
        ({"received_from": local_input(ago(days=31))}, "received_from"),
        (
            {"received_from": local_input(ago(hours=2)), "received_to": local_input(ago(hours=3))},
            "received_to",
        ),
        ({"template": "x"}, "template"),
    ],
)
def test_form_errors(operator_client, account, params, field):
    ReplyFactory(account=account)

    response = operator_client.get(URL, params)

    assert response.status_code == 200
    assert field in response.context["filter"].form.errors
    assert listed_ids(response) == []


@pytest.mark.django_db
def test_other_accounts_and_unmatched_replies_are_never_listed(operator_client, account, other_account):
    mine = ReplyFactory(account=account, phone=PHONE)
    ReplyFactory(account=other_account, phone=PHONE)
    ReplyFactory(account=None, phone=PHONE)

    assert listed_ids(operator_client.get(URL)) == [mine.pk]
    assert listed_ids(operator_client.get(URL, {"phone": PHONE})) == [mine.pk]
