"""One message's page and one number's thread."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from intercepts.models import InterceptRule
from tests.factories import (
    InterceptEventFactory,
    InterceptFactory,
    MessageEventFactory,
    MessageFactory,
    ReplyFactory,
    UnsubscribeFactory,
)

PHONE = "+819012345678"


def detail_url(message):
    return reverse("delivery:message-detail", kwargs={"message_id": message.pk})


def thread_url(phone):
    return reverse("delivery:number-thread", kwargs={"phone": phone})


@pytest.mark.django_db
def test_detail_shows_fields_content_and_send_log_in_order(operator_client, account, sms_user):
    message = MessageFactory(
        account=account, sms_user=sms_user, tag="orders", content="ご注文 #42 を発送しました", phone=PHONE
    )
    now = timezone.now()
    MessageEventFactory(message=message, kind="requested", at=now)
    MessageEventFactory(message=message, kind="handed_to_channel", at=now, detail={"channel": "sim"})
    MessageEventFactory(
        message=message,
        kind="receipt",
        at=now,
        detail={"id": "sim-1", "status": "delivered", "done_at": now.isoformat(), "part": None},
    )

    response = operator_client.get(detail_url(message), HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert response.status_code == 200
    assert "ご注文 #42 を発送しました" in content
    assert "backend" in content and "orders" in content
    assert (
        content.index("Requested")
        < content.index("Handed to channel")
        < content.index("The carrier reports it delivered to the handset")
    )
    assert thread_url(PHONE) in content


@pytest.mark.django_db
def test_blocked_message_links_to_the_record_that_blocked_it(operator_client, account, other_account):
    record = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    message = MessageFactory(
        account=account,
        phone=PHONE,
        status="processing_failed",
        reason="global_intercept",
        blocking_intercept=record,
    )

    content = operator_client.get(detail_url(message)).content.decode()

    assert reverse("intercepts:intercept-detail", kwargs={"intercept_id": record.pk}) in content
    assert other_account.name not in content


@pytest.mark.django_db
def test_blocking_record_that_is_gone_is_said_so(operator_client, account):
    message = MessageFactory(
        account=account, status="processing_failed", reason="local_intercept", blocking_intercept_id=987654
    )

    content = operator_client.get(detail_url(message), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "has since expired or been deleted" in content


@pytest.mark.django_db
def test_failed_message_says_whether_to_retry(operator_client, account):
    InterceptRule.objects.filter(return_code=500).update(
        is_permanent_failure=True, suggested_action="Remove the number from your list."
    )
    permanent = MessageFactory(
        account=account, status="send_failed", reason="invalid_number", return_code=500
    )
    busy = MessageFactory(account=account, status="send_failed", reason="busy", return_code=530)

    permanent_page = operator_client.get(detail_url(permanent), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    busy_page = operator_client.get(detail_url(busy), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Permanent failure" in permanent_page
    assert "Remove the number from your list." in permanent_page
    assert "worth retrying" in busy_page


@pytest.mark.django_db
def test_another_accounts_message_is_404(operator_client, other_account):
    message = MessageFactory(account=other_account)

    assert operator_client.get(detail_url(message)).status_code == 404


@pytest.mark.django_db
def test_thread_shows_messages_receipts_replies_intercepts_and_unsubscribes_in_time_order(
    operator_client, account
):
    now = timezone.now()
    message = MessageFactory(account=account, phone=PHONE, requested_at=now - dt.timedelta(hours=5))
    MessageEventFactory(
        message=message, kind="receipt", at=now - dt.timedelta(hours=4), detail={"code": "X1"}
    )
    ReplyFactory(
        account=account, phone=PHONE, content="Who is this?", received_at=now - dt.timedelta(hours=3)
    )
    InterceptEventFactory(
        account=account, phone=PHONE, scope="local", kind="created", at=now - dt.timedelta(hours=2)
    )
    UnsubscribeFactory(account=account, phone=PHONE, created_at=now - dt.timedelta(hours=1))

    response = operator_client.get(thread_url(PHONE))

    kinds = [entry.kind for entry in response.context["entries"]]
    assert kinds == ["message", "receipt", "reply", "intercept", "unsubscribe"]
    assert "Who is this?" in response.content.decode()


@pytest.mark.django_db
def test_thread_accepts_a_national_number_and_redirects_to_e164(operator_client, account):
    MessageFactory(account=account, phone=PHONE)

    response = operator_client.get(thread_url("09012345678"))

    assert response.status_code == 302
    assert response["Location"] == thread_url(PHONE)


@pytest.mark.django_db
def test_thread_of_a_number_only_another_account_used_is_404(operator_client, other_account):
    MessageFactory(account=other_account, phone=PHONE)
    ReplyFactory(account=other_account, phone=PHONE)
    InterceptEventFactory(account=other_account, phone=PHONE, scope="local")

    assert operator_client.get(thread_url(PHONE)).status_code == 404
    assert operator_client.get(thread_url("not-a-number")).status_code == 404


@pytest.mark.django_db
def test_thread_does_not_name_other_accounts_or_their_people(
    operator_client, account, other_account, other_sms_user
):
    MessageFactory(account=account, phone=PHONE)
    InterceptEventFactory(
        account=other_account,
        phone=PHONE,
        scope="global",
        kind="created",
        actor_sms_user=other_sms_user,
        actor_account=other_account,
    )
    InterceptEventFactory(account=other_account, phone=PHONE, scope="local", kind="created")

    response = operator_client.get(thread_url(PHONE))

    content = response.content.decode()
    assert [entry.kind for entry in response.context["entries"]].count("intercept") == 1
    assert other_sms_user.name not in content
    assert other_account.name not in content and other_account.slug not in content


@pytest.mark.django_db
def test_an_outcome_unknown_message_is_explained_and_not_called_a_failure_to_retry(operator_client, account):
    message = MessageFactory(
        account=account, phone=PHONE, status="awaiting_receipt", channel=account.default_channel
    )
    MessageEventFactory(message=message, kind="outcome_unknown", at=timezone.now(), detail={"channel": "sim"})

    content = operator_client.get(detail_url(message), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'data-testid="unmatchable-notice"' in content
    assert "Outcome unknown" in content and "It was not sent again" in content
    assert "worth retrying" not in content and 'data-testid="failure-advice"' not in content


@pytest.mark.django_db
def test_a_message_awaiting_a_receipt_it_can_get_has_no_notice(operator_client, account):
    message = MessageFactory(
        account=account,
        phone=PHONE,
        status="awaiting_receipt",
        channel=account.default_channel,
        channel_message_id="sim-1",
    )
    content = operator_client.get(detail_url(message), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Awaiting receipt" in content
    assert 'data-testid="unmatchable-notice"' not in content
