"""Kannel's callbacks: DLRs through the dlr-url, replies through the sms-service URL. Each goes
through the one inbox and ingestion; a callback without the right token changes nothing."""

import datetime as dt
import time
import urllib.parse

import pytest
from django.conf import settings
from django.utils import timezone

from delivery.channels import kannel as kannel_channel
from delivery.models import EarlyReceipt, InboxItem, MessageStatus, Reason, SmppErrorMapping
from delivery.services.kannel import kannel_mo_url
from delivery.services.receipts import early_receipts_retry
from delivery.services.setup import channel_create
from intercepts.models import Intercept, Scope
from replies.models import Reply, Unsubscribe
from tests.kannel.smsc import FAILURES
from tests.pipeline.helpers import pipeline, send

pytestmark = pytest.mark.django_db


def receipt(stat="DELIVRD", err="000", smsc_id="1796186578001", text="Your code"):
    """An SMPP receipt as the SMSC words it; done a minute ago (UTC), so intercepts are still live."""
    done = (timezone.now() - dt.timedelta(minutes=1)).astimezone(dt.UTC).strftime("%y%m%d%H%M")
    return (
        f"id:{smsc_id} sub:001 dlvrd:001 submit date:{done} done date:{done} "
        f"stat:{stat} err:{err} text:{text}"
    )


def soon() -> int:
    """A reply's time (Kannel's %T, whole seconds): after the message it answers was handed over."""
    return int(time.time()) + 2


def dlr(client, channel, message_id, dlr_type, answer="", *, token=None, **extra):
    query = {
        "id": message_id,
        "token": token if token is not None else kannel_channel.dlr_token(channel.webhook_secret, message_id),
        "type": dlr_type,
        "smsc": "carrier-a",
        "smsc_id": "1796186578001",
        "at": "1796186578",
        "answer": answer,
        **extra,
    }
    with pipeline():
        return client.get(f"/api/v1/channels/{channel.code}/kannel/dlr?" + urllib.parse.urlencode(query))


def mo(client, channel, query: str, *, method="get", body=b"", content_type="text/plain"):
    token = kannel_channel.mo_token(channel.webhook_secret)
    url = f"/api/v1/channels/{channel.code}/kannel/replies?token={token}&"
    with pipeline():
        if method == "post":
            return client.post(url + query, data=body, content_type=content_type)
        return client.get(url + query)


@pytest.fixture
def handed(api, template, kannel):
    """One message handed to Kannel, awaiting its receipt."""
    [message] = send(api, template, {"to": "+819011110001", "vars": {"text": "Your code is 4821"}})
    assert message.status == MessageStatus.AWAITING_RECEIPT
    return message


def test_kannel_delivered_report_delivers_the_message(client, kannel, handed):
    response = dlr(client, kannel, handed.pk, 1, receipt())
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1}
    handed.refresh_from_db()
    assert handed.status == MessageStatus.DELIVERED
    assert handed.receipt_at < timezone.now() - dt.timedelta(seconds=50)  # the SMSC's done date
    [item] = InboxItem.objects.all()
    assert item.content_type.startswith("text/plain")
    assert item.body.startswith(
        f"id:kannel-{handed.pk} sub:001"
    )  # stored as a receipt line about our message


@pytest.mark.parametrize("code", sorted(FAILURES))
def test_kannel_failed_report_takes_its_return_code_from_stat_and_err(client, account, kannel, handed, code):
    stat, err = FAILURES[code]
    assert dlr(client, kannel, handed.pk, 2, receipt(stat, err)).status_code == 202
    handed.refresh_from_db()
    assert (handed.status, handed.return_code) == (MessageStatus.SEND_FAILED, code)
    assert handed.failure_detail.startswith(f"stat:{stat} err:{err}")
    intercepted = {500: Scope.GLOBAL, 510: Scope.GLOBAL, 520: Scope.LOCAL, 550: Scope.LOCAL}
    intercepted |= {560: Scope.GLOBAL, 570: Scope.GLOBAL}
    records = list(Intercept.objects.filter(phone=handed.phone))
    if code in intercepted:
        [record] = records
        assert (record.scope, record.return_code) == (intercepted[code], code)
    else:
        assert records == []  # 530, 540, 580, 590 intercept for 0 s


def test_kannel_return_code_follows_the_table_staff_edit(client, kannel, handed):
    SmppErrorMapping.objects.filter(stat="UNDELIV", err="031").update(return_code=540)
    assert dlr(client, kannel, handed.pk, 2, receipt("UNDELIV", "031")).status_code == 202
    handed.refresh_from_db()
    assert handed.return_code == 540 and handed.reason == Reason.NO_ANSWER


@pytest.mark.parametrize(
    ("dlr_type", "answer", "logged"),
    [
        (8, "ACK/", "stat:ACCEPTD err:000 text:SMSC carrier-a took it as 1796186578001"),
        (4, receipt("ENROUTE", "000"), "stat:ENROUTE err:000 text:Your code"),
        (4, "", "stat:ENROUTE err:000"),
    ],
)
def test_kannel_smsc_ack_and_buffered_are_logged_not_final(client, kannel, handed, dlr_type, answer, logged):
    assert dlr(client, kannel, handed.pk, dlr_type, answer).status_code == 202
    handed.refresh_from_db()
    assert handed.status == MessageStatus.AWAITING_RECEIPT
    [event] = handed.events.filter(kind="receipt")
    assert (event.detail["status"], event.detail["detail"]) == ("pending", logged)
    assert dlr(client, kannel, handed.pk, 1, receipt()).status_code == 202
    handed.refresh_from_db()
    assert handed.status == MessageStatus.DELIVERED


def test_kannel_smsc_reject_fails_with_rejectd_and_the_smpp_error(client, kannel, handed):
    SmppErrorMapping.objects.create(stat="REJECTD", err="00B", return_code=500, note="Invalid destination")
    response = dlr(client, kannel, handed.pk, 16, "NACK/0x0000000b/Invalid Destination Address", smsc_id="")
    assert response.status_code == 202
    handed.refresh_from_db()
    assert (handed.status, handed.return_code) == (MessageStatus.SEND_FAILED, 500)
    assert handed.failure_detail == "stat:REJECTD err:00B text:NACK/0x0000000b/Invalid Destination Address"


def test_kannel_report_without_a_receipt_text_takes_the_stat_its_type_implies(client, kannel, handed):
    assert dlr(client, kannel, handed.pk, 2, "no receipt here").status_code == 202
    handed.refresh_from_db()
    assert (handed.status, handed.return_code) == (MessageStatus.SEND_FAILED, 590)  # UNDELIV/*
    assert handed.failure_detail == "stat:UNDELIV err:000 text:no receipt here"


@pytest.mark.parametrize("forgery", ["wrong", "other_message", "missing"])
def test_kannel_forged_report_is_refused_and_changes_nothing(client, api, template, kannel, handed, forgery):
    [other] = send(api, template, {"to": "+819011110002", "vars": {"text": "hi"}})
    token = {
        "wrong": "0" * 32,
        "other_message": kannel_channel.dlr_token(
            kannel.webhook_secret, other.pk
        ),  # replayed from other's URL
        "missing": "",
    }[forgery]
    response = dlr(client, kannel, handed.pk, 2, receipt("UNDELIV", "001"), token=token)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_token"
    assert not InboxItem.objects.exists() and not EarlyReceipt.objects.exists()
    handed.refresh_from_db()
    assert handed.status == MessageStatus.AWAITING_RECEIPT
    assert not Intercept.objects.exists()


def test_kannel_token_of_another_channel_is_refused(client, kannel, handed):
    other = channel_create(
        code="kannel-b",
        kind="kannel",
        send_url="http://kannel-b.example/cgi-bin/sendsms",
        send_username="u",
        send_password="p",
    )
    token = kannel_channel.dlr_token(other.webhook_secret, handed.pk)
    assert dlr(client, kannel, handed.pk, 1, receipt(), token=token).status_code == 401


def test_kannel_callback_for_a_channel_that_is_not_kannel_is_404(client, kannel, handed, simulator):
    assert dlr(client, simulator, handed.pk, 1, receipt()).status_code == 404
    assert client.get("/api/v1/channels/nowhere/kannel/dlr?id=1&token=x&type=1").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "3"}, "type"),
        ({"type": ""}, "type"),
        ({"at": "yesterday"}, "at"),
        ({"answer": "x" * 2001}, "answer"),
    ],
)
def test_kannel_unreadable_report_is_a_400_naming_the_parameter(client, kannel, handed, change, field):
    query = {
        "id": handed.pk,
        "token": kannel_channel.dlr_token(kannel.webhook_secret, handed.pk),
        "type": "1",
        "answer": receipt(),
        **change,
    }
    response = client.get("/api/v1/channels/kannel/kannel/dlr?" + urllib.parse.urlencode(query))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not InboxItem.objects.exists()


def test_kannel_bad_message_id_is_a_400(client, kannel):
    for value in ("abc", "0", "-1", str(2**63)):
        response = client.get(f"/api/v1/channels/kannel/kannel/dlr?id={value}&token=x&type=1")
        assert response.status_code == 400, value


def test_kannel_repeated_report_changes_nothing(client, kannel, handed):
    for _ in range(2):
        assert dlr(client, kannel, handed.pk, 2, receipt("UNDELIV", "027")).status_code == 202
    handed.refresh_from_db()
    assert handed.return_code == 580
    assert handed.events.filter(kind="receipt").count() == 1
    # A contradicting report after the final one is logged, never applied.
    assert dlr(client, kannel, handed.pk, 1, receipt()).status_code == 202
    handed.refresh_from_db()
    assert handed.status == MessageStatus.SEND_FAILED
    assert handed.events.filter(kind="receipt_ignored").count() == 1


def test_kannel_report_before_the_hand_over_is_recorded_waits_and_is_applied(
    client, api, template, kannel, smsbox
):
    smsbox.answer = lambda params: "drop"
    [message] = send(api, template, {"to": "+819011110001", "vars": {"text": "hi"}})
    assert message.status == MessageStatus.REQUESTING
    assert dlr(client, kannel, message.pk, 1, receipt()).status_code == 202
    message.refresh_from_db()
    assert message.status == MessageStatus.REQUESTING  # not known as handed over yet
    assert EarlyReceipt.objects.filter(channel=kannel, channel_message_id=f"kannel-{message.pk}").count() == 1
    # The next attempt finds Kannel's callback: recorded as handed over, then the receipt applies.
    from delivery.services.dispatch import due_messages_dispatch
    from smsconsole import clock

    with clock.frozen(message.next_attempt_at):
        due_messages_dispatch()
    early_receipts_retry()
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert len(smsbox.requests) == 1


def test_kannel_dlr_endpoint_is_not_rate_limited_per_address(client, kannel, handed, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "client_ip": "2/min"},
    }
    for dlr_type in (8, 4, 8, 1):
        assert dlr(client, kannel, handed.pk, dlr_type, receipt() if dlr_type == 1 else "").status_code == 202


# --- replies (MO) ----------------------------------------------------------------------------------


def test_kannel_reply_stop_unsubscribes_the_number(client, account, kannel, handed):
    response = mo(
        client,
        kannel,
        f"from=%2B819011110001&to=12345&at={soon()}&smsc=carrier-a&coding=0&charset=UTF-8&text=STOP",
    )
    assert response.status_code == 202, response.content
    [reply] = Reply.objects.all()
    assert (reply.phone, reply.content, reply.carrier, reply.message_id) == (
        "+819011110001",
        "STOP",
        "carrier-a",
        handed.pk,
    )
    assert reply.is_unsubscribe
    assert Unsubscribe.objects.filter(account=account, phone="+819011110001").exists()


def test_kannel_reply_in_ucs2_arrives_intact(client, kannel, handed):
    text = urllib.parse.quote_from_bytes("配信停止 お願いします".encode("utf-16-be"))
    response = mo(client, kannel, f"from=%2B819011110001&at={soon()}&coding=2&charset=UTF-16BE&text={text}")
    assert response.status_code == 202, response.content
    assert Reply.objects.get().content == "配信停止 お願いします"


def test_kannel_reply_by_post_url_reads_the_body_in_its_charset(client, kannel, handed):
    response = mo(
        client,
        kannel,
        f"from=%2B819011110001&at={soon()}",
        method="post",
        body="停止",  # the test client encodes it in the content type's charset
        content_type="text/plain; charset=UTF-16BE",
    )
    assert response.status_code == 202, response.content
    reply = Reply.objects.get()
    assert reply.content == "停止" and reply.is_unsubscribe


def test_kannel_reply_from_bare_international_digits(client, kannel, handed):
    assert mo(client, kannel, f"from=819011110001&at={soon()}&text=hello").status_code == 202
    assert Reply.objects.get().phone == "+819011110001"


def test_kannel_reply_with_a_wrong_token_is_refused(client, kannel, handed):
    with pipeline():
        response = client.get(
            f"/api/v1/channels/{kannel.code}/kannel/replies?token={'0' * 32}&from=%2B819011110001&text=STOP"
        )
    assert response.status_code == 401
    assert not Reply.objects.exists() and not InboxItem.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "text=STOP",
        "from=%2B819011110001",
        "from=not-a-number&text=STOP",
        "from=%2B819011110001&text=STOP&coding=7",
        "from=%2B819011110001&text=STOP&at=1234567890123",
    ],
)
def test_kannel_unreadable_reply_is_a_400(client, kannel, query):
    assert mo(client, kannel, query).status_code == 400
    assert not InboxItem.objects.exists()


def test_kannel_mo_url_is_what_kannel_is_configured_with(kannel):
    token = kannel_channel.mo_token(kannel.webhook_secret)
    assert kannel_mo_url(kannel) == (
        f"{settings.SMS_PUBLIC_BASE_URL}/api/v1/channels/kannel/kannel/replies?token={token}"
        "&from=%p&to=%P&at=%T&smsc=%i&coding=%c&charset=%C&text=%b"
    )
