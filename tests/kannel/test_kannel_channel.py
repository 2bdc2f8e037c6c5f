"""The kannel channel's hand-over to smsbox's sendsms: what it sends, how it reads Kannel's answers,
its time budget, and that a message is never handed over twice because an answer was lost.

Against a stand-in smsbox on a real socket (tests/kannel/fake_smsbox.py); the real Kannel is in
test_kannel_e2e.py."""

import datetime as dt
import time
import urllib.parse

import pytest
from django.conf import settings
from django.utils import timezone

from delivery.channels import kannel as kannel_channel
from delivery.models import EarlyReceipt, Message, MessageStatus, Reason
from delivery.services.dispatch import due_messages_dispatch
from delivery.services.kannel import HELD_NOTE
from delivery.services.receipts import early_receipts_retry
from intercepts.models import Intercept
from smsconsole import clock
from tests.kannel import fake_smsbox
from tests.kannel.fake_smsbox import FakeSmsbox
from tests.pipeline.helpers import events, pipeline, send

pytestmark = pytest.mark.django_db


def texts(*pairs):
    return [{"to": to, "vars": {"text": text}} for to, text in pairs]


def dispatch_later(minutes):
    with clock.frozen(timezone.now() + dt.timedelta(minutes=minutes)):
        return due_messages_dispatch()


def dlr(client, channel, message, dlr_type, answer="", *, token=None):
    query = {
        "id": message.pk,
        "token": token or kannel_channel.dlr_token(channel.webhook_secret, message.pk),
        "type": dlr_type,
        "smsc": "carrier-a",
        "smsc_id": "4711",
        "at": int(time.time()),
        "answer": answer,
    }
    with pipeline():
        return client.get(f"/api/v1/channels/{channel.code}/kannel/dlr?" + urllib.parse.urlencode(query))


def handed_note(message) -> str:
    return message.events.get(kind="handed_to_channel").detail.get("note", "")


def test_kannel_message_goes_to_sendsms_with_every_dlr_type_and_a_dlr_url_back(api, template, kannel, smsbox):
    [message] = send(api, template, *texts(("+819011110001", "Your code is 4821")))
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert (
        message.channel_message_id == f"kannel-{message.pk}"
    )  # ours: receipts match without Kannel's answer
    assert events(message) == ["requested", "checks_passed", "handed_to_channel"]
    assert handed_note(message) == "Kannel: 0: Accepted for delivery"
    [params] = smsbox.requests
    assert {
        k: params[k] for k in ("username", "password", "to", "text", "charset", "coding", "dlr-mask")
    } == {
        "username": "console",
        "password": "console-password",
        "to": "+819011110001",
        "text": "Your code is 4821",
        "charset": "UTF-8",
        "coding": "0",
        "dlr-mask": "31",  # delivered, failed, buffered, SMSC ack, SMSC reject
    }
    token = kannel_channel.dlr_token(kannel.webhook_secret, message.pk)
    assert params["dlr-url"] == (
        f"{settings.SMS_PUBLIC_BASE_URL}/api/v1/channels/kannel/kannel/dlr?id={message.pk}&token={token}"
        "&type=%d&smsc=%i&smsc_id=%F&at=%T&answer=%A"
    )


def test_kannel_dlr_url_starts_with_the_public_base_url(api, template, kannel, smsbox, settings):
    settings.SMS_PUBLIC_BASE_URL = "https://console.example.com"
    send(api, template, *texts(("+819011110001", "hi")))
    assert smsbox.requests[0]["dlr-url"].startswith(
        "https://console.example.com/api/v1/channels/kannel/kannel/dlr?id="
    )


def test_kannel_japanese_goes_as_ucs2_intact(api, template, kannel, smsbox):
    text = (
        "ご注文の商品を発送しました。お届けまでしばらくお待ちください。配信停止は「停止」と返信してください。"
        * 2
    )
    [message] = send(api, template, *texts(("+819011110001", text)))
    assert message.segments == 2
    assert (smsbox.requests[0]["coding"], smsbox.requests[0]["text"]) == ("2", text)


def test_kannel_queued_for_later_delivery_is_handed_over(api, template, kannel, smsbox):
    smsbox.answer = lambda params: fake_smsbox.QUEUED
    [message] = send(api, template, *texts(("+819011110001", "hi")))
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert handed_note(message) == "Kannel: 3: Queued for later delivery"


@pytest.mark.parametrize("refusal", [fake_smsbox.NOT_ROUTABLE, fake_smsbox.DENIED])
def test_kannel_refusal_that_says_never_fails_the_message_without_an_intercept(
    api, template, kannel, smsbox, refusal
):
    smsbox.answer = lambda params: refusal
    [message] = send(api, template, *texts(("+819011110001", "hi")))
    assert (message.status, message.return_code, message.reason) == (
        MessageStatus.SEND_FAILED,
        590,
        Reason.OTHER,
    )
    assert message.failure_detail == f"Kannel: {refusal[1]}"
    assert not Intercept.objects.exists()
    dispatch_later(60)
    assert len(smsbox.requests) == 1


@pytest.mark.parametrize("trouble", ["temporal", "auth", "refused", "timeout"])
def test_kannel_trouble_keeps_messages_requesting_and_retries_with_backoff(
    api, template, kannel, smsbox, settings, trouble
):
    settings.SMS_CHANNEL_TIMEOUT_SECONDS = 0.5
    if trouble == "refused":
        kannel.send_url = "http://127.0.0.1:9/cgi-bin/sendsms"  # nothing listens there
        kannel.save()
    else:
        smsbox.answer = {
            "temporal": lambda params: fake_smsbox.TEMPORAL,
            "auth": lambda params: fake_smsbox.AUTH_FAILED,
            "timeout": lambda params: time.sleep(1.2) or fake_smsbox.ACCEPTED,
        }[trouble]
    numbers = [f"+8190111100{n:02d}" for n in range(12)]
    messages = send(api, template, *texts(*[(number, "hi") for number in numbers]))
    for message in messages:
        assert message.status == MessageStatus.REQUESTING
        assert message.next_attempt_at > timezone.now()
    error = messages[0].events.get(kind="channel_error").detail["error"]
    expected = {
        "temporal": "HTTP 503",
        "auth": "HTTP 403",
        "refused": "ConnectionError",
        "timeout": "Timeout",
    }
    assert expected[trouble] in error
    assert "console-password" not in error  # the send URL's query is never logged
    # The first problem stops the batch: only the requests already in flight were made.
    assert len(smsbox.requests) <= (0 if trouble == "refused" else kannel_channel.CONCURRENCY)

    kannel.send_url = smsbox.url
    kannel.save()
    smsbox.answer = lambda params: fake_smsbox.ACCEPTED
    dispatch_later(5)
    for message in messages:
        message.refresh_from_db()
        assert message.status == MessageStatus.AWAITING_RECEIPT
        assert events(message).count("handed_to_channel") == 1


def test_kannel_batch_stops_starting_requests_once_its_budget_is_spent(
    api, template, kannel, smsbox, settings
):
    settings.SMS_CHANNEL_TIMEOUT_SECONDS = 0.5  # the batch may take 1 s
    smsbox.delay = 0.05  # four at a time: about 80 messages a second, so not all 100 fit
    recipients = texts(*[(f"+819011{n:06d}", f"message {n}") for n in range(100)])
    started = time.monotonic()
    messages = send(api, template, *recipients)
    took = time.monotonic() - started
    assert took < 1.0 + 1.0  # the budget, and the API request around it
    handed = [m for m in messages if m.status == MessageStatus.AWAITING_RECEIPT]
    waiting = [m for m in messages if m.status == MessageStatus.REQUESTING]
    assert handed and waiting and len(handed) + len(waiting) == 100
    assert len(smsbox.requests) == len(handed)  # the rest were never started
    assert {e.detail["error"] for m in waiting for e in m.events.filter(kind="channel_error")} == {
        "the channel's answer did not mention these messages (or mentioned them twice)"
    }

    smsbox.delay = 0
    for minutes in (5, 30, 120):
        dispatch_later(minutes)
    assert Message.objects.filter(status=MessageStatus.AWAITING_RECEIPT).count() == 100
    assert sorted(smsbox.tos()) == sorted(r["to"] for r in recipients)  # each reached Kannel once


def test_kannel_lost_answer_is_not_sent_again_once_kannel_called_back(api, client, template, kannel, smsbox):
    smsbox.answer = lambda params: "drop"  # Kannel took it; its answer never arrived
    [message] = send(api, template, *texts(("+819011110001", "hi")))
    assert message.status == MessageStatus.REQUESTING
    # Kannel submits it and reports the SMSC's ack: the callback waits as an early receipt.
    assert dlr(client, kannel, message, 8, "ACK/").status_code == 202
    assert EarlyReceipt.objects.filter(channel_message_id=f"kannel-{message.pk}").exists()

    smsbox.answer = lambda params: fake_smsbox.ACCEPTED
    dispatch_later(5)
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert handed_note(message) == HELD_NOTE
    assert len(smsbox.requests) == 1  # never sent again

    early_receipts_retry()
    answer = (
        "id:77 sub:001 dlvrd:001 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000 text:hi"
    )
    assert dlr(client, kannel, message, 1, answer).status_code == 202
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert [e.detail["status"] for e in message.events.filter(kind="receipt").order_by("id")] == [
        "pending",
        "delivered",
    ]


def test_kannel_lost_answer_without_a_callback_is_sent_again(api, template, kannel, smsbox):
    smsbox.answer = lambda params: "drop"  # nothing reached bearerbox: no callback will come
    [message] = send(api, template, *texts(("+819011110001", "hi")))
    assert message.status == MessageStatus.REQUESTING
    smsbox.answer = lambda params: fake_smsbox.ACCEPTED
    dispatch_later(5)
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert handed_note(message) == "Kannel: 0: Accepted for delivery"
    assert smsbox.tos() == ["+819011110001", "+819011110001"]


def test_kannel_adapter_raises_unavailable_when_nothing_could_be_said():
    adapter = kannel_channel.KannelChannel(
        send_url="http://127.0.0.1:9/cgi-bin/sendsms",
        username="u",
        password="secret-password",
        secret="s",
        dlr_endpoint="http://console/dlr",
        timeout=0.5,
    )
    from delivery.channels.base import ChannelUnavailable, Outbound

    with pytest.raises(ChannelUnavailable) as raised:
        adapter.send([Outbound(ref=1, to="+819011110001", content="hi")])
    assert "secret-password" not in str(raised.value)


def test_kannel_adapter_sends_several_at_once():
    with FakeSmsbox() as box:
        box.delay = 0.2
        adapter = kannel_channel.KannelChannel(
            send_url=box.url, username="u", password="p", secret="s", dlr_endpoint="http://c/dlr", timeout=5
        )
        from delivery.channels.base import Outbound

        started = time.monotonic()
        result = adapter.send([Outbound(ref=n, to=f"+8190111100{n:02d}", content="x") for n in range(8)])
        took = time.monotonic() - started
    assert sorted(a.ref for a in result.accepted) == list(range(8))
    assert took < 8 * 0.2 / 2  # four in flight at a time
