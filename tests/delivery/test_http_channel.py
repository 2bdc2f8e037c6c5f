"""The http channel adapter against a local carrier: accepted, rejected, timeout, 500 — and no
message is ever lost or handed over twice."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import Channel, Message, MessageStatus, Reason
from delivery.services.dispatch import due_messages_dispatch
from intercepts.models import Intercept, Scope
from smsconsole import clock
from smsconsole.models import Account
from tests.factories import TemplateFactory
from tests.pipeline.carrier import FakeCarrier
from tests.pipeline.helpers import events, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def carrier(account):
    channel = Channel.objects.create(code="carrier", kind="http", send_url="http://placeholder")
    with FakeCarrier(secret=channel.webhook_secret) as fake:
        channel.send_url = fake.url
        channel.save()
        Account.objects.filter(pk=account.pk).update(default_channel=channel)
        fake.channel = channel
        yield fake


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Your parcel {{order}} is on its way")


def dispatch_later(minutes):
    with clock.frozen(timezone.now() + dt.timedelta(minutes=minutes)):
        return due_messages_dispatch()


def test_accepted_messages_await_their_receipt(api, template, carrier):
    first, second = send(api, template, "+819011110001", "+819011110002")
    for message in (first, second):
        assert message.status == MessageStatus.AWAITING_RECEIPT
        assert message.channel_message_id == f"c-{message.pk}"
        assert message.channel.code == "carrier"
        assert events(message) == ["requested", "checks_passed", "handed_to_channel"]
    assert carrier.refs() == [first.pk, second.pk]
    assert carrier.received[0] == {
        "ref": first.pk,
        "to": "+819011110001",
        "content": "Your parcel A-1 is on its way",
    }
    assert carrier.bad_signatures == 0


def test_rejected_message_fails_with_the_code_and_its_intercept(api, account, template, carrier):
    carrier.mode = "reject"
    [message] = send(api, template, "+819011110001")
    assert message.status == MessageStatus.SEND_FAILED
    assert (message.return_code, message.reason, message.failure_detail) == (
        520,
        Reason.BLACKLISTED,
        "BLACKLISTED",
    )
    assert events(message) == ["requested", "checks_passed", "channel_rejected", "intercepted"]
    record = Intercept.objects.get(phone="+819011110001")
    assert (record.scope, record.account_id, record.return_code) == (Scope.LOCAL, account.pk, 520)


@pytest.mark.parametrize("mode", ["error", "slow"])
def test_channel_down_keeps_messages_requesting_and_retries_with_backoff(
    api, template, carrier, settings, mode
):
    settings.SMS_CHANNEL_TIMEOUT_SECONDS = 0.3
    carrier.mode, carrier.delay = mode, 1.0
    [message] = send(api, template, "+819011110001")
    assert message.status == MessageStatus.REQUESTING
    error = message.events.get(kind="channel_error").detail
    assert error["attempt"] == 1
    assert ("500" in error["error"]) if mode == "error" else ("Timeout" in error["error"])
    first_retry_at = message.next_attempt_at
    assert first_retry_at > timezone.now()

    # Not due yet: nothing happens.
    assert due_messages_dispatch().claimed == 0
    dispatch_later(1)
    message.refresh_from_db()
    assert message.status == MessageStatus.REQUESTING
    assert message.next_attempt_at - first_retry_at > dt.timedelta(seconds=30)  # backing off
    assert [
        e["attempt"] for e in message.events.filter(kind="channel_error").values_list("detail", flat=True)
    ] == [1, 2]

    carrier.mode = "accept"
    dispatch_later(10)
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    dispatch_later(60)
    assert events(message).count("handed_to_channel") == 1
    assert Message.objects.get(pk=message.pk).channel_message_id == f"c-{message.pk}"
    if mode == "error":
        assert carrier.refs() == [message.pk]  # refused attempts never reached the carrier
    else:
        # A timed-out request may still have reached the carrier: every attempt carries the same
        # ref, the carrier's idempotency key, and we record one hand-over.
        assert set(carrier.refs()) == {message.pk}


def test_a_message_is_never_handed_over_twice(api, template, carrier):
    [message] = send(api, template, "+819011110001")
    assert message.status == MessageStatus.AWAITING_RECEIPT
    for minutes in (1, 10, 120):
        dispatch_later(minutes)
    assert carrier.refs() == [message.pk]
    assert events(message).count("handed_to_channel") == 1


def test_messages_the_carrier_does_not_answer_are_retried(api, template, carrier):
    carrier.mode = "partial"
    first, second = send(api, template, "+819011110001", "+819011110002")
    assert first.status == MessageStatus.AWAITING_RECEIPT
    assert second.status == MessageStatus.REQUESTING
    carrier.mode = "accept"
    dispatch_later(5)
    second.refresh_from_db()
    assert second.status == MessageStatus.AWAITING_RECEIPT
    assert carrier.refs() == [first.pk, second.pk]


def test_a_channel_down_for_good_fails_the_message_as_other_eventually(api, template, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 3
    carrier.mode = "error"
    [message] = send(api, template, "+819011110001")
    dispatch_later(5)
    dispatch_later(30)
    message.refresh_from_db()
    assert message.status == MessageStatus.PROCESSING_FAILED and message.reason == Reason.OTHER
    # What the customer (and the API) reads: a sentence, not the channel's exception text.
    assert message.failure_detail == (
        "The carrier connection was unavailable; the platform retried 3 times over 30 minutes."
    )
    assert events(message).count("channel_error") == 3
    # The attempt that failed comes before the failure it caused; staff keep its technical error.
    assert events(message)[-2:] == ["channel_error", "check_failed"]
    last_error = message.events.filter(kind="channel_error").order_by("id").last()
    assert "HTTP 500" in last_error.detail["error"] and "next_attempt_at" not in last_error.detail


def test_a_rejection_code_outside_the_return_codes_fails_as_other_with_the_carriers_code(
    api, template, carrier
):
    carrier.mode = "scripted"
    carrier.script = lambda messages: {
        "accepted": [],
        "rejected": [{"ref": m["ref"], "code": 600, "detail": "NO ROUTE"} for m in messages],
    }
    [message] = send(api, template, "+819011110001")
    assert message.status == MessageStatus.SEND_FAILED
    assert (message.return_code, message.reason) == (590, Reason.OTHER)
    assert message.failure_detail == "carrier code 600: NO ROUTE"


@pytest.mark.parametrize(
    "bad_ids",
    [
        pytest.param(lambda refs: ["same", "same"], id="one id for two messages"),
        pytest.param(lambda refs: ["x" * 65, "ok-2"], id="an id longer than we store"),
        pytest.param(lambda refs: ["", "ok-2"], id="an empty id"),
    ],
)
def test_accepted_with_an_unusable_id_is_never_sent_again(api, template, carrier, bad_ids):
    carrier.mode = "scripted"
    carrier.script = lambda messages: {
        "accepted": [
            {"ref": m["ref"], "id": channel_id}
            for m, channel_id in zip(messages, bad_ids([m["ref"] for m in messages]), strict=True)
        ],
        "rejected": [],
    }
    first, second = send(api, template, "+819011110001", "+819011110002")
    for minutes in (10, 60):
        dispatch_later(minutes)
    assert len(carrier.received) == 2  # handed over once each, never again
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.AWAITING_RECEIPT
    untracked = [m for m in (first, second) if m.channel_message_id is None]
    assert untracked
    for message in untracked:
        assert events(message)[-1] == "channel_error"
        assert "cannot be matched" in message.events.get(kind="channel_error").detail["error"]


def test_an_id_the_channel_already_gave_another_message_is_not_stored_twice(api, template, carrier):
    [earlier] = send(api, template, "+819011110001")
    carrier.mode = "scripted"
    carrier.script = lambda messages: {
        "accepted": [{"ref": m["ref"], "id": f"c-{earlier.pk}"} for m in messages]
    }
    [later] = send(api, template, "+819011110002")
    dispatch_later(10)
    later.refresh_from_db()
    assert later.status == MessageStatus.AWAITING_RECEIPT and later.channel_message_id is None
    assert Message.objects.get(pk=earlier.pk).channel_message_id == f"c-{earlier.pk}"
    # Seen before it is stored: the log says why receipts cannot be matched, not that the answer
    # could not be recorded at all (which the unique id would cause if it were stored).
    assert [e.kind for e in later.events.order_by("id")] == ["requested", "checks_passed", "channel_error"]
    assert "already in use" in later.events.get(kind="channel_error").detail["error"]


def test_an_answer_the_database_refuses_for_good_is_outcome_unknown_never_a_resend_or_a_retry_advice(
    api, template, carrier, monkeypatch
):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr("delivery.services.dispatch.handover.handed_record", broken)
    [message] = send(api, template, "+819011110001")
    monkeypatch.undo()
    dispatch_later(10)
    message.refresh_from_db()
    # The carrier has it: not "processing failed, retry later", and never handed over again.
    assert message.status == MessageStatus.AWAITING_RECEIPT and message.reason == ""
    assert message.channel.code == "carrier" and message.channel_message_id is None
    unknown = message.events.get(kind="outcome_unknown").detail
    assert "could not be recorded" in unknown["error"] and "disk full" in unknown["cause"]
    assert carrier.refs() == [message.pk]


def test_a_message_whose_attempts_all_ended_unrecorded_fails_at_its_next_claim(
    api, template, carrier, settings
):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    carrier.mode = "error"
    [message] = send(api, template, "+819011110001")
    # As if a worker had died after each claim: the lease lapsed with nothing recorded.
    Message.objects.filter(pk=message.pk).update(dispatch_attempts=2, next_attempt_at=timezone.now())
    carrier.mode = "accept"
    dispatch_later(1)
    message.refresh_from_db()
    assert message.status == MessageStatus.PROCESSING_FAILED and message.reason == Reason.OTHER
    assert "gave up after 2 attempts" in message.failure_detail
    assert message.events.get(kind="check_failed").detail["problem"] == "attempts_exhausted"
    assert carrier.refs() == []


def test_a_receipt_that_raced_the_answer_is_applied_when_the_hand_over_is_recorded(api, template, carrier):
    from delivery.models import EarlyReceipt
    from tests.pipeline.helpers import post_webhook

    carrier.mode = "error"
    [message] = send(api, template, "+819011110001")
    # The carrier delivered it and reported so before its answer reached us.
    done_at = timezone.now().isoformat()
    receipt = {"id": f"c-{message.pk}", "status": "delivered", "done_at": done_at}
    assert post_webhook(carrier.channel, "receipts", {"receipts": [receipt]}).status_code == 202
    assert EarlyReceipt.objects.filter(channel_message_id=f"c-{message.pk}").exists()

    carrier.mode = "accept"
    dispatch_later(5)  # no early-receipt retry run in between
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert events(message)[-2:] == ["handed_to_channel", "receipt"]
    assert not EarlyReceipt.objects.exists()
