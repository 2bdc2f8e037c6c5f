"""The intercept list opens on live records; an operator deletes several of the account's own at once."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from intercepts.models import Intercept, InterceptEvent, InterceptRule
from tests.factories import InterceptFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = reverse("intercepts:intercept-list")
BULK = reverse("intercepts:intercept-bulk-delete")


def expired(account, **kwargs):
    now = timezone.now()
    return InterceptFactory(
        account=account,
        intercepted_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=2),
        **kwargs,
    )


def listed_ids(response) -> list[int]:
    return [record.pk for record in response.context["table"].data.data]


def test_the_list_shows_live_records_by_default_and_expired_ones_behind_the_filter(operator_client, account):
    live = InterceptFactory(account=account)
    gone = expired(account)

    default = operator_client.get(URL)
    assert listed_ids(default) == [live.pk]
    assert 'value="live" selected' in default.content.decode()  # the filter says what it shows
    assert listed_ids(operator_client.get(URL, {"state": "expired"})) == [gone.pk]
    assert set(listed_ids(operator_client.get(URL, {"state": ""}))) == {live.pk, gone.pk}


def test_the_csv_exports_what_the_list_shows_live_by_default(operator_client, account):
    InterceptFactory(account=account, phone="+819011110000")
    expired(account, phone="+819022220000")

    default = b"".join(operator_client.get(reverse("intercepts:intercept-export")).streaming_content).decode()
    every = b"".join(
        operator_client.get(reverse("intercepts:intercept-export"), {"state": ""}).streaming_content
    ).decode()

    assert "+819011110000" in default and "+819022220000" not in default
    assert "+819011110000" in every and "+819022220000" in every


def test_an_expired_record_offers_no_delete_and_refuses_one(operator_client, account):
    gone = expired(account)
    delete = reverse("intercepts:intercept-delete", kwargs={"intercept_id": gone.pk})

    listed = operator_client.get(URL, {"state": "expired"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert delete not in listed
    assert 'name="intercept"' not in listed  # no checkbox either

    response = operator_client.post(delete, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert Intercept.objects.filter(pk=gone.pk).exists()
    assert "no longer blocks" in operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_select_several_confirm_once_and_each_deletion_is_audited(operator_client, operator, account):
    first, second, kept = (InterceptFactory(account=account) for _ in range(3))
    listed = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for record in (first, second, kept):
        assert f'name="intercept" value="{record.pk}" form="intercept-selection"' in listed

    confirm = operator_client.get(BULK, {"intercept": [first.pk, second.pk]}, HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200
    assert "Yes, delete all 2" in confirm.content.decode()
    assert Intercept.objects.count() == 3  # asking is not deleting

    response = operator_client.post(BULK, {"intercept": [first.pk, second.pk]}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302 and response["Location"] == URL
    assert list(Intercept.objects.values_list("pk", flat=True)) == [kept.pk]
    audits = InterceptEvent.objects.filter(kind="deleted").order_by("intercept_id")
    assert [(a.intercept_id, a.source, a.actor_user, a.actor_account) for a in audits] == [
        (first.pk, "console", operator, account),
        (second.pk, "console", operator, account),
    ]
    assert (
        "2 intercept records were deleted."
        in operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )


def test_bulk_delete_leaves_what_the_operator_may_not_delete(operator_client, account, other_account):
    mine = InterceptFactory(account=account)
    gone = expired(account)
    InterceptRule.objects.filter(return_code=510).update(is_customer_deletable=False)
    support_only = InterceptFactory(account=account, return_code=510)
    theirs_local = InterceptFactory(account=other_account, scope="local")
    theirs_global = InterceptFactory(account=other_account, scope="global")
    MessageFactory(
        account=account,
        status="processing_failed",
        reason="global_intercept",
        blocking_intercept=theirs_global,
    )
    ids = [mine.pk, gone.pk, support_only.pk, theirs_local.pk, theirs_global.pk, 987654]

    confirm = operator_client.get(BULK, {"intercept": ids}, HTTP_ACCEPT_LANGUAGE="en")
    assert [record.pk for record in confirm.context["records"]] == [mine.pk]
    assert confirm.context["skipped"] == 5
    operator_client.post(BULK, {"intercept": ids})

    assert not Intercept.objects.filter(pk=mine.pk).exists()
    assert set(Intercept.objects.values_list("pk", flat=True)) == {
        gone.pk,
        support_only.pk,
        theirs_local.pk,
        theirs_global.pk,
    }
    assert list(InterceptEvent.objects.filter(kind="deleted").values_list("intercept_id", flat=True)) == [
        mine.pk
    ]


def test_another_account_cannot_bulk_delete_our_records(other_operator_client, account):
    ours = InterceptFactory(account=account)

    confirm = other_operator_client.get(BULK, {"intercept": [ours.pk]})
    other_operator_client.post(BULK, {"intercept": [ours.pk]})

    assert confirm.status_code == 302  # nothing it may delete: back to its list
    assert Intercept.objects.filter(pk=ours.pk).exists()
    assert not InterceptEvent.objects.exists()


def test_bulk_delete_ignores_garbage_and_needs_post_and_csrf(operator, account):
    record = InterceptFactory(account=account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    assert client.get(BULK, {"intercept": ["x", "-1", "99999999999999999999"]}).status_code == 302
    client.get(BULK, {"intercept": [record.pk]})
    assert client.post(BULK, {"intercept": [record.pk]}).status_code == 403  # no token
    assert Intercept.objects.filter(pk=record.pk).exists()
    token = client.cookies["csrftoken"].value
    assert client.post(BULK, {"intercept": [record.pk], "csrfmiddlewaretoken": token}).status_code == 302
    assert not Intercept.objects.filter(pk=record.pk).exists()
