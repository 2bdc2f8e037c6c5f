"""The unsubscribe list page: the account's numbers, the reply that put each there, filters, CSV,
and removing a number (a note required, audited); the message page links to the entry that blocked it."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from delivery.models import MessageStatus, Reason
from replies.models import Unsubscribe, UnsubscribeRemoval
from smsconsole import clock
from tests.factories import MessageFactory, ReplyFactory, TemplateFactory, UnsubscribeFactory
from tests.pipeline.helpers import send

pytestmark = pytest.mark.django_db

URL = reverse("unsubscribes:unsubscribe-list")
PHONE = "+819012345678"


def listed_ids(response) -> list[int]:
    return [entry.pk for entry in response.context["table"].data.data]


def remove_url(entry):
    return reverse("unsubscribes:unsubscribe-remove", kwargs={"unsubscribe_id": entry.pk})


def ago(**kwargs):
    return timezone.now() - dt.timedelta(**kwargs)


@pytest.fixture
def stop_entry(account):
    message = MessageFactory(account=account, phone=PHONE, requested_at=ago(days=40))
    reply = ReplyFactory(account=account, phone=PHONE, content="STOP", is_unsubscribe=True, message=message)
    return UnsubscribeFactory(account=account, phone=PHONE, created_at=ago(days=40), source_reply=reply)


def test_lists_every_entry_newest_first_with_its_reply_however_old(operator_client, account, stop_entry):
    newer = UnsubscribeFactory(account=account, created_at=ago(hours=1))

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert listed_ids(response) == [newer.pk, stop_entry.pk]  # not a log: no 30-day window
    content = response.content.decode()
    assert "+81 90-1234-5678" in content and ">STOP<" in content
    message_url = reverse(
        "delivery:message-detail", kwargs={"message_id": stop_entry.source_reply.message_id}
    )
    assert message_url in content
    assert remove_url(stop_entry) in content


def test_only_the_accounts_own_entries_are_listed(operator_client, account, other_account, stop_entry):
    UnsubscribeFactory(account=other_account, phone=PHONE)

    assert listed_ids(operator_client.get(URL)) == [stop_entry.pk]
    assert listed_ids(operator_client.get(URL, {"phone": PHONE})) == [stop_entry.pk]


def test_phone_and_period_filters(operator_client, account, stop_entry):
    recent = UnsubscribeFactory(account=account, created_at=ago(days=2))
    start = timezone.localtime(ago(days=3), account.zone).strftime("%Y-%m-%d %H:%M")

    assert listed_ids(operator_client.get(URL, {"phone": "090-1234-5678"})) == [stop_entry.pk]
    assert listed_ids(operator_client.get(URL, {"created_from": start})) == [recent.pk]
    assert listed_ids(operator_client.get(URL, {"created_to": start})) == [stop_entry.pk]
    reversed_period = operator_client.get(URL, {"created_from": start, "created_to": "2020-01-01 00:00"})
    assert "created_to" in reversed_period.context["filter"].form.errors


def test_csv_exports_the_filter_with_the_reply(operator_client, stop_entry):
    response = operator_client.get(reverse("unsubscribes:unsubscribe-export"), {"phone": PHONE})

    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert PHONE in body and "STOP" in body and str(stop_entry.source_reply.message_id) in body


def test_remove_needs_a_note_then_takes_the_number_off_with_an_audit_row(
    operator_client, operator, account, stop_entry
):
    page = operator_client.get(remove_url(stop_entry), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "customer opted back in by phone" in page.content.decode()

    refused = operator_client.post(remove_url(stop_entry), {"note": "   "}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 200
    assert "Say why the number may be sent to again." in refused.content.decode()
    assert Unsubscribe.objects.filter(pk=stop_entry.pk).exists()

    done = operator_client.post(remove_url(stop_entry), {"note": "customer opted back in by phone"})

    assert done.status_code == 302 and done["Location"] == URL
    assert not Unsubscribe.objects.filter(pk=stop_entry.pk).exists()
    audit = UnsubscribeRemoval.objects.get()
    assert (audit.account, audit.phone, audit.removed_by, audit.removed_by_name, audit.note) == (
        account,
        PHONE,
        operator,
        "alice",
        "customer opted back in by phone",
    )
    assert audit.unsubscribed_at == stop_entry.created_at
    assert audit.source_reply_id == stop_entry.source_reply_id


def test_after_removal_messages_to_the_number_are_sent_again(api, operator_client, account, simulator):
    template = TemplateFactory(account=account, body="Sale today")
    entry = UnsubscribeFactory(account=account, phone=PHONE)
    [blocked] = send(api, template, PHONE)
    assert (blocked.status, blocked.reason) == (MessageStatus.PROCESSING_FAILED, Reason.UNSUBSCRIBED)

    operator_client.post(remove_url(entry), {"note": "opted back in at the shop counter"})
    with clock.frozen(timezone.now() + dt.timedelta(minutes=5)):
        [sent] = send(api, template, PHONE)

    assert sent.status == MessageStatus.DELIVERED


def test_another_accounts_entry_cannot_be_seen_or_removed(other_operator_client, stop_entry):
    assert other_operator_client.get(remove_url(stop_entry)).status_code == 404
    assert other_operator_client.post(remove_url(stop_entry), {"note": "not mine"}).status_code == 404
    assert Unsubscribe.objects.filter(pk=stop_entry.pk).exists()
    assert not UnsubscribeRemoval.objects.exists()


def test_remove_is_post_only_and_needs_the_csrf_token(operator, stop_entry):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get(remove_url(stop_entry))

    assert client.post(remove_url(stop_entry), {"note": "x"}).status_code == 403
    assert Unsubscribe.objects.filter(pk=stop_entry.pk).exists()


def test_the_message_page_links_to_the_entry_that_blocked_it_then_to_its_removal(
    operator_client, account, stop_entry
):
    message = MessageFactory(account=account, phone=PHONE, status="processing_failed", reason="unsubscribed")
    url = reverse("delivery:message-detail", kwargs={"message_id": message.pk})

    page = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="blocking-unsubscribe"' in page
    assert f"{URL}?phone=%2B819012345678" in page
    assert listed_ids(operator_client.get(URL, {"phone": PHONE})) == [stop_entry.pk]

    operator_client.post(remove_url(stop_entry), {"note": "customer opted back in by phone"})
    page = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="blocking-unsubscribe"' not in page
    assert "taken off your unsubscribe list" in page and "customer opted back in by phone" in page


def test_a_message_not_blocked_by_the_list_says_nothing_of_it(operator_client, account, stop_entry):
    message = MessageFactory(account=account, phone=PHONE, status="delivered")

    page = operator_client.get(reverse("delivery:message-detail", kwargs={"message_id": message.pk}))

    assert "blocking-unsubscribe" not in page.content.decode()


def test_admin_cannot_delete_an_entry_without_the_audit(staff_client, stop_entry):
    page = staff_client.get(reverse("admin:replies_unsubscribe_change", args=[stop_entry.pk]))
    assert page.status_code == 200
    assert (
        staff_client.post(
            reverse("admin:replies_unsubscribe_delete", args=[stop_entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Unsubscribe.objects.filter(pk=stop_entry.pk).exists()


def test_an_id_too_large_for_the_column_is_a_404(operator_client):
    too_large = 2**63

    assert operator_client.get(f"/unsubscribes/{too_large}/remove/").status_code == 404
    assert operator_client.post(f"/unsubscribes/{too_large}/remove/", {"note": "x"}).status_code == 404
