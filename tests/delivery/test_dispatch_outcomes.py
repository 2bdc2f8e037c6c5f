"""What a dispatch run leaves behind for each kind of channel answer, as people read it.

A channel down (retry, or fail after the last attempt), accepted (with or without a note, with an
id that can or cannot be used), and an answer the database refuses for good: the message's
status and times, its send log, the failure detail the API returns, and the run's report.
"""

import datetime as dt
import logging

import pytest
from django.db import connection

from delivery.channels import ChannelUnavailable
from delivery.channels.base import Accepted, Outbound, Rejected, SendResult
from delivery.models import Channel, Message, MessageStatus, Reason
from delivery.services import dispatch
from delivery.services.dispatch import handover
from intercepts.models import Intercept, Scope
from smsconsole import clock
from smsconsole.models import Account
from tests.factories import MessageFactory, TemplateFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
DOWN = "ConnectionError: [Errno 111] Connection refused"
UNUSABLE_ID_ERROR = (
    "accepted with an id that cannot be used (missing, too long, given twice or already in use); "
    "receipts for this message cannot be matched"
)


class ScriptedCarrier:
    """A channel that answers as the test says: `answer(batch)` returns a SendResult or raises
    ChannelUnavailable. Accepts everything, with id "c-<ref>", unless told otherwise."""

    def __init__(self, channel):
        self.channel = channel
        self.batches: list[list[int]] = []
        self.received = []  # each Outbound as handed over
        self.answer = lambda batch: SendResult(
            accepted=[Accepted(ref=o.ref, channel_message_id=f"c-{o.ref}") for o in batch]
        )

    def send(self, batch):
        self.batches.append([o.ref for o in batch])
        self.received.extend(batch)
        return self.answer(batch)

    def down(self, error=DOWN):
        def answer(batch):
            raise ChannelUnavailable(error)

        self.answer = answer

    def refs(self) -> list[int]:
        return [ref for batch in self.batches for ref in batch]


@pytest.fixture
def carriers(monkeypatch):
    """Carriers by channel code; dispatch reaches them instead of a network."""
    by_code = {}
    monkeypatch.setattr(handover, "adapter_for", lambda channel: by_code[channel.code])
    return by_code


def carrier_for(carriers, account, code="carrier-b") -> ScriptedCarrier:
    channel = Channel.objects.create(code=code, kind="http", send_url=f"http://{code}.invalid/send")
    Account.objects.filter(pk=account.pk).update(default_channel=channel)
    carriers[code] = ScriptedCarrier(channel)
    return carriers[code]


@pytest.fixture
def carrier(carriers, account):
    return carrier_for(carriers, account)


def due_message(account, *, at=T0, attempts=0, **fields):
    """A requesting message, due at `at`, that passes every check; `attempts` made before."""
    template = TemplateFactory(account=account, body="Your parcel is on its way")
    return MessageFactory(
        account=account,
        template=template,
        content="Your parcel is on its way",
        requested_at=fields.pop("requested_at", at),
        updated_at=at,
        next_attempt_at=at,
        dispatch_attempts=attempts,
        **fields,
    )


def dispatch_at(moment) -> dict:
    """Run the periodic dispatch at `moment`; its report as the task returns it."""
    with clock.frozen(moment):
        return dispatch.due_messages_dispatch().as_dict()


def send_log(message) -> list[tuple[str, dict]]:
    return [(event.kind, event.detail) for event in message.events.order_by("id")]


def api_view(api, message) -> dict:
    response = api.get(f"/api/v1/messages/{message.pk}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.json()


def report(**counts) -> dict:
    empty = {
        "claimed": 0,
        "processing_failed": 0,
        "handed": 0,
        "rejected": 0,
        "retrying": 0,
        "unrecorded": 0,
        "outcome_unknown": 0,
        "next_attempt_at": None,
    }
    return {**empty, **counts}


# --- the channel is down: try again later ----------------------------------------------------------


def test_a_channel_down_leaves_the_batch_requesting_with_its_next_attempt_logged(account, carrier, caplog):
    first, second = due_message(account), due_message(account)
    carrier.down()
    now = T0 + dt.timedelta(seconds=5)

    with caplog.at_level(logging.WARNING, logger="delivery.services.dispatch"):
        result = dispatch_at(now)

    retry_at = now + dt.timedelta(seconds=30)
    assert result == report(claimed=2, retrying=2, next_attempt_at=retry_at.isoformat())
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.REQUESTING and message.reason == ""
        assert (message.next_attempt_at, message.updated_at) == (retry_at, now)
        assert send_log(message)[-1] == (
            "channel_error",
            {"channel": "carrier-b", "attempt": 1, "error": DOWN, "next_attempt_at": retry_at.isoformat()},
        )
        assert message.events.order_by("id").last().at == now
    assert caplog.messages == [f"channel carrier-b unavailable for 2 messages: {DOWN}"]


def test_each_retry_waits_longer_and_the_report_wakes_for_the_earliest(account, carrier):
    third = due_message(account, attempts=2)  # this is its third attempt: 2 minutes
    second = due_message(account, attempts=1)  # its second: 1 minute
    carrier.down()

    result = dispatch_at(T0)

    assert result["retrying"] == 2
    assert result["next_attempt_at"] == (T0 + dt.timedelta(minutes=1)).isoformat()
    third.refresh_from_db()
    second.refresh_from_db()
    assert third.next_attempt_at == T0 + dt.timedelta(minutes=2)
    assert second.next_attempt_at == T0 + dt.timedelta(minutes=1)
    assert third.events.get(kind="channel_error").detail["attempt"] == 3


def test_a_long_channel_error_is_kept_to_500_characters(account, carrier):
    message = due_message(account)
    carrier.down("HTTP 502: " + "x" * 700)

    dispatch_at(T0)

    error = message.events.get(kind="channel_error").detail["error"]
    assert error == ("HTTP 502: " + "x" * 700)[:500]


def test_the_customer_reads_a_waiting_message_as_waiting_for_the_carrier(api, account, carrier):
    message = due_message(account)
    carrier.down()

    dispatch_at(T0)

    shown = api_view(api, message)
    assert shown["status"] == "requesting" and shown["failure_detail"] == ""
    line = shown["send_log"][-1]
    assert line["kind"] == "channel_error"
    assert line["summary"].startswith("The carrier connection was unavailable (attempt 1). Next attempt at")
    assert "error" not in line["detail"]  # the exception text is for staff


# --- the channel is down on the last attempt: fail as "other" ------------------------------------


def test_the_last_attempt_on_a_channel_still_down_fails_the_message_as_other(api, account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 3
    message = due_message(account, attempts=2)
    carrier.down()
    now = T0 + dt.timedelta(hours=2)

    result = dispatch_at(now)

    assert result == report(claimed=1, processing_failed=1)
    message.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.PROCESSING_FAILED, Reason.OTHER)
    assert message.failure_detail == (
        "The carrier connection was unavailable; the platform retried 3 times over 2 hours."
    )
    assert message.next_attempt_at is None and message.updated_at == now
    # The attempt first, then the failure it caused; no next attempt is announced.
    assert send_log(message)[-2:] == [
        ("channel_error", {"channel": "carrier-b", "attempt": 3, "error": DOWN}),
        (
            "check_failed",
            {"reason": "other", "problem": "channel_unavailable", "channel": "carrier-b", "attempts": 3},
        ),
    ]
    assert {event.at for event in message.events.filter(kind__in=["channel_error", "check_failed"])} == {now}
    shown = api_view(api, message)
    assert shown["failure_detail"] == message.failure_detail
    assert shown["send_log"][-1]["summary"] == (
        "Not sent: the carrier could not be reached in 3 attempts, so the platform gave up."
    )


def test_one_attempt_before_the_last_is_still_retried(account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 3
    message = due_message(account, attempts=1)
    carrier.down()

    result = dispatch_at(T0)

    message.refresh_from_db()
    assert message.status == MessageStatus.REQUESTING
    assert result["retrying"] == 1 and result["processing_failed"] == 0


def test_a_batch_with_a_last_attempt_and_a_retry_reports_each(account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    last = due_message(account, attempts=1)
    retried = due_message(account)
    carrier.down()

    result = dispatch_at(T0)

    retry_at = T0 + dt.timedelta(seconds=30)
    assert result == report(claimed=2, processing_failed=1, retrying=1, next_attempt_at=retry_at.isoformat())
    last.refresh_from_db()
    retried.refresh_from_db()
    assert last.status == MessageStatus.PROCESSING_FAILED and last.next_attempt_at is None
    assert retried.status == MessageStatus.REQUESTING and retried.next_attempt_at == retry_at
    assert retried.reason == "" and retried.failure_detail == ""


def test_every_message_on_its_last_attempt_counts_in_the_report(account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    for _ in range(2):
        due_message(account, attempts=1)
    carrier.down()

    assert dispatch_at(T0) == report(claimed=2, processing_failed=2)


def test_after_many_attempts_the_wait_stays_at_an_hour(account, carrier):
    message = due_message(account, attempts=9)  # its tenth attempt: 30 s doubled nine times is over an hour
    carrier.down()

    dispatch_at(T0)

    message.refresh_from_db()
    assert message.next_attempt_at == T0 + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("after", "span"),
    [
        pytest.param(dt.timedelta(0), "0 seconds", id="at once"),
        pytest.param(dt.timedelta(seconds=1), "1 second", id="one second"),
        pytest.param(dt.timedelta(seconds=59), "59 seconds", id="under a minute"),
        pytest.param(dt.timedelta(seconds=59.5), "1 minute", id="59.5 s reads as a minute"),
        pytest.param(dt.timedelta(seconds=91), "2 minutes", id="91 s"),
        pytest.param(dt.timedelta(seconds=3569), "59 minutes", id="just under an hour"),
        pytest.param(dt.timedelta(seconds=3570), "1 hour", id="59.5 minutes reads as an hour"),
        pytest.param(dt.timedelta(seconds=5401), "2 hours", id="an hour and a half and a second"),
        pytest.param(dt.timedelta(hours=5), "5 hours", id="five hours"),
        pytest.param(-dt.timedelta(seconds=30), "0 seconds", id="a clock behind the request"),
    ],
)
def test_the_failure_detail_says_how_long_the_platform_kept_trying(account, carrier, settings, after, span):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    message = due_message(account, attempts=1, at=T0 + min(after, dt.timedelta(0)))
    Message.objects.filter(pk=message.pk).update(requested_at=T0)
    carrier.down()

    dispatch_at(T0 + after)

    message.refresh_from_db()
    assert message.failure_detail == (
        f"The carrier connection was unavailable; the platform retried 2 times over {span}."
    )


def test_a_message_another_worker_already_moved_on_is_not_failed_by_a_late_outage_record(account, carrier):
    """Written twice, or after another worker moved the message on, an outage record changes nothing."""
    from delivery.services.dispatch.outcomes import unavailable_record

    message = due_message(account, attempts=12)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.AWAITING_RECEIPT, next_attempt_at=None)

    unavailable_record(carrier.channel, [message], error=DOWN, now=T0)

    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT and message.reason == ""
    assert message.failure_detail == "" and message.next_attempt_at is None


def test_a_message_another_worker_already_moved_on_is_not_marked_outcome_unknown(account, carrier):
    from delivery.services.dispatch.outcomes import outcome_unknown_record

    message = due_message(account)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED, next_attempt_at=None)

    assert outcome_unknown_record(carrier.channel, [message], cause="DatabaseError: disk full", now=T0) == 0

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.channel_id is None
    assert not message.events.filter(kind="outcome_unknown").exists()


# --- accepted ---------------------------------------------------------------------------------------


def test_accepted_messages_await_their_receipt_with_the_channels_id(api, account, carrier):
    first, second = due_message(account), due_message(account)
    now = T0 + dt.timedelta(seconds=3)

    result = dispatch_at(now)

    assert result == report(claimed=2, handed=2)
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.AWAITING_RECEIPT
        assert message.channel_id == carrier.channel.pk and message.channel_message_id == f"c-{message.pk}"
        assert (message.channel_delivered_at, message.updated_at, message.next_attempt_at) == (now, now, None)
        assert send_log(message)[-1] == (
            "handed_to_channel",
            {"channel": "carrier-b", "channel_message_id": f"c-{message.pk}"},
        )
        assert message.events.get(kind="handed_to_channel").at == now
    shown = api_view(api, first)
    assert (shown["channel"], shown["channel_message_id"]) == ("carrier-b", f"c-{first.pk}")
    assert shown["send_log"][-1]["summary"] == "Handed to the carrier; waiting for its delivery receipt."


def test_what_the_channel_said_about_a_message_is_kept_in_its_send_log(api, account, carrier):
    queued, plain, chatty = due_message(account), due_message(account), due_message(account)
    notes = {queued.pk: "3: Queued for later delivery", chatty.pk: "n" * 400}
    carrier.answer = lambda batch: SendResult(
        accepted=[
            Accepted(ref=o.ref, channel_message_id=f"c-{o.ref}", note=notes.get(o.ref, "")) for o in batch
        ]
    )

    dispatch_at(T0)

    assert queued.events.get(kind="handed_to_channel").detail["note"] == "3: Queued for later delivery"
    assert "note" not in plain.events.get(kind="handed_to_channel").detail
    assert chatty.events.get(kind="handed_to_channel").detail["note"] == "n" * 300
    assert api_view(api, queued)["send_log"][-1]["summary"] == (
        "Handed to the carrier, which queued it for later delivery."
    )


def test_accepted_with_an_id_that_cannot_be_stored_is_sent_once_and_says_so(api, account, carrier):
    tracked, too_long = due_message(account), due_message(account)
    long_id = "L" * 250
    carrier.answer = lambda batch: SendResult(
        accepted=[
            Accepted(ref=tracked.pk, channel_message_id="c-ok"),
            Accepted(ref=too_long.pk, channel_message_id=long_id),
        ]
    )
    now = T0 + dt.timedelta(seconds=2)

    result = dispatch_at(now)

    assert result == report(claimed=2, handed=2)
    too_long.refresh_from_db()
    assert too_long.status == MessageStatus.AWAITING_RECEIPT and too_long.channel_message_id is None
    assert too_long.channel_id == carrier.channel.pk and too_long.channel_delivered_at == now
    assert send_log(too_long)[-1] == (
        "channel_error",
        {
            "channel": "carrier-b",
            "error": UNUSABLE_ID_ERROR,
            "channel_message_id": long_id[:200],
        },
    )
    assert too_long.events.get(kind="channel_error").at == now
    assert api_view(api, too_long)["send_log"][-1]["summary"] == (
        "The carrier accepted it without an id its delivery receipts can be matched by."
    )
    tracked.refresh_from_db()
    assert tracked.channel_message_id == "c-ok"
    # Nothing is handed over again later.
    dispatch_at(now + dt.timedelta(hours=1))
    assert carrier.refs() == [tracked.pk, too_long.pk]


def test_a_batch_answered_in_every_way_adds_up_in_the_report(account, carrier):
    accepted, rejected, unanswered = due_message(account), due_message(account), due_message(account)
    carrier.answer = lambda batch: SendResult(
        accepted=[Accepted(ref=accepted.pk, channel_message_id="c-1")],
        rejected=[Rejected(ref=rejected.pk, code=530, detail="SUBSCRIBER_BUSY")],
    )

    result = dispatch_at(T0)

    retry_at = T0 + dt.timedelta(seconds=30)
    assert result == report(claimed=3, handed=1, rejected=1, retrying=1, next_attempt_at=retry_at.isoformat())
    unanswered.refresh_from_db()
    assert unanswered.status == MessageStatus.REQUESTING and unanswered.next_attempt_at == retry_at
    assert unanswered.events.get(kind="channel_error").detail["error"] == (
        "the channel's answer did not mention these messages (or mentioned them twice)"
    )
    assert Message.objects.get(pk=rejected.pk).status == MessageStatus.SEND_FAILED


def test_the_carrier_gets_each_messages_number_text_and_part_count(account, carrier):
    message = due_message(account, phone="+819055556666", segments=2)

    dispatch_at(T0)

    assert carrier.received == [
        Outbound(ref=message.pk, to="+819055556666", content="Your parcel is on its way", segments=2)
    ]


def test_a_rejected_message_fails_with_the_carriers_code_and_its_number_is_intercepted(api, account, carrier):
    message = due_message(account, phone="+819077778888")
    carrier.answer = lambda batch: SendResult(
        rejected=[Rejected(ref=o.ref, code=520, detail="BLACKLISTED") for o in batch]
    )
    now = T0 + dt.timedelta(seconds=6)

    result = dispatch_at(now)

    assert result == report(claimed=1, rejected=1)
    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code) == (
        MessageStatus.SEND_FAILED,
        Reason.BLACKLISTED,
        520,
    )
    assert (message.failure_detail, message.updated_at, message.next_attempt_at) == ("BLACKLISTED", now, None)
    assert send_log(message)[1] == ("channel_rejected", {"return_code": 520, "detail": "BLACKLISTED"})
    record = Intercept.objects.get(phone="+819077778888")
    assert (record.scope, record.account_id, record.return_code, record.intercepted_at) == (
        Scope.LOCAL,
        account.pk,
        520,
        now,
    )
    assert [kind for kind, _ in send_log(message)] == ["checks_passed", "channel_rejected", "intercepted"]
    lines = {line["kind"]: line["summary"] for line in api_view(api, message)["send_log"]}
    assert lines["channel_rejected"] == "Refused by the carrier: return code 520 Blacklisted."


@pytest.mark.parametrize(
    ("code", "recorded", "detail"),
    [
        pytest.param(500, 500, "NO SUCH NUMBER", id="the lowest return code"),
        pytest.param(599, 599, "NO SUCH NUMBER", id="the highest return code"),
        pytest.param(499, 590, "carrier code 499: NO SUCH NUMBER", id="below the return codes"),
        pytest.param(600, 590, "carrier code 600: NO SUCH NUMBER", id="above the return codes"),
    ],
)
def test_a_rejection_keeps_a_return_code_and_turns_a_foreign_code_into_other(
    account, carrier, code, recorded, detail
):
    message = due_message(account)
    carrier.answer = lambda batch: SendResult(
        rejected=[Rejected(ref=o.ref, code=code, detail="NO SUCH NUMBER") for o in batch]
    )

    dispatch_at(T0)

    message.refresh_from_db()
    assert message.status == MessageStatus.SEND_FAILED
    assert (message.return_code, message.failure_detail) == (recorded, detail)


def test_an_id_of_the_longest_length_is_kept_and_one_longer_is_not(account, carrier):
    longest, too_long = due_message(account), due_message(account)
    ids = {longest.pk: "a" * 64, too_long.pk: "b" * 65}
    carrier.answer = lambda batch: SendResult(
        accepted=[Accepted(ref=o.ref, channel_message_id=ids[o.ref]) for o in batch]
    )

    dispatch_at(T0)

    assert Message.objects.get(pk=longest.pk).channel_message_id == "a" * 64
    assert Message.objects.get(pk=too_long.pk).channel_message_id is None
    assert too_long.events.get(kind="channel_error").detail["channel_message_id"] == "b" * 65


def test_an_id_in_use_on_another_channel_is_no_obstacle(account, other_account, carriers, carrier):
    other_channel = Channel.objects.create(code="carrier-z", kind="http", send_url="http://z.invalid/send")
    MessageFactory(
        account=other_account, channel=other_channel, channel_message_id="shared-1", status="awaiting_receipt"
    )
    message = due_message(account)
    carrier.answer = lambda batch: SendResult(
        accepted=[Accepted(ref=o.ref, channel_message_id="shared-1") for o in batch]
    )

    dispatch_at(T0)

    assert Message.objects.get(pk=message.pk).channel_message_id == "shared-1"


def test_a_message_the_answer_mentions_twice_is_tried_again_and_the_others_are_recorded(account, carrier):
    twice, once, stranger = due_message(account), due_message(account), 10**9
    carrier.answer = lambda batch: SendResult(
        accepted=[
            Accepted(ref=twice.pk, channel_message_id="c-twice"),
            Accepted(ref=once.pk, channel_message_id="c-once"),
            Accepted(ref=stranger, channel_message_id="c-stranger"),
        ],
        rejected=[Rejected(ref=twice.pk, code=530, detail="BUSY")],
    )

    result = dispatch_at(T0)

    assert (result["handed"], result["rejected"], result["retrying"]) == (1, 0, 1)
    twice.refresh_from_db()
    assert twice.status == MessageStatus.REQUESTING and twice.channel_message_id is None
    assert twice.events.get(kind="channel_error").detail["error"] == (
        "the channel's answer did not mention these messages (or mentioned them twice)"
    )
    assert Message.objects.get(pk=once.pk).channel_message_id == "c-once"


def test_an_answer_for_a_message_another_worker_moved_on_meanwhile_changes_nothing(account, carrier):
    moved, sent = due_message(account), due_message(account)
    accept = carrier.answer

    def moved_on_during_the_call(batch):
        Message.objects.filter(pk=moved.pk).update(status=MessageStatus.DELIVERED)
        return accept(batch)

    carrier.answer = moved_on_during_the_call

    result = dispatch_at(T0)

    assert result == report(claimed=2, handed=1)
    moved.refresh_from_db()
    assert moved.status == MessageStatus.DELIVERED and moved.channel_message_id is None
    assert "handed_to_channel" not in {kind for kind, _ in send_log(moved)}
    assert Message.objects.get(pk=sent.pk).channel_message_id == f"c-{sent.pk}"


def test_a_database_that_stays_away_leaves_the_batch_to_its_lease_then_it_is_handed_over_again(
    account, carrier, monkeypatch, caplog
):
    from django.db import OperationalError

    first, second = due_message(account), due_message(account)

    def away(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(handover, "handed_record", away)
    with caplog.at_level(logging.ERROR, logger="delivery.services.dispatch"):
        result = dispatch_at(T0)
    monkeypatch.undo()
    monkeypatch.setattr(handover, "adapter_for", lambda channel: carrier)

    assert result == report(claimed=2, unrecorded=2)
    assert caplog.messages == [
        "channel carrier-b's answer for 2 messages could not be recorded: the database stayed away; they are "
        "handed over again with the same ref when their claim lapses"
    ]
    lease = dispatch.claim_lease()
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.REQUESTING and message.next_attempt_at == T0 + lease
    assert dispatch_at(T0 + lease) == report(claimed=2, handed=2)
    assert carrier.refs() == [first.pk, second.pk, first.pk, second.pk]  # the same refs: dropped as repeats


# --- an answer the database refuses for good ---------------------------------------------------------


@pytest.fixture
def refuse():
    """refuse(message, kind): the database refuses, for good, to log an event of `kind` for `message`
    (a trigger, as a full disk or a broken constraint would)."""
    made = []

    def install(message, kind):
        name = f"refuse_{kind}_{message.pk}"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.message_id = {int(message.pk)} AND NEW.kind = '{kind}' THEN "
                    "RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON delivery_messageevent "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            else:
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON delivery_messageevent "
                    f"WHEN NEW.message_id = {int(message.pk)} AND NEW.kind = '{kind}' "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
        made.append(name)

    return install


def test_a_message_whose_answer_cannot_be_written_is_outcome_unknown_and_the_rest_are_recorded(
    api, account, carrier, refuse, caplog
):
    first, refused, third = due_message(account), due_message(account), due_message(account)
    refuse(refused, "handed_to_channel")
    now = T0 + dt.timedelta(seconds=4)

    with caplog.at_level(logging.ERROR, logger="delivery.services.dispatch"):
        result = dispatch_at(now)

    assert result == report(claimed=3, handed=2, outcome_unknown=1)
    for message in (first, third):
        message.refresh_from_db()
        assert message.status == MessageStatus.AWAITING_RECEIPT
        assert message.channel_message_id == f"c-{message.pk}"
    refused.refresh_from_db()
    # The carrier has it: awaiting a receipt that cannot be matched, never "failed, retry later".
    assert refused.status == MessageStatus.AWAITING_RECEIPT and refused.reason == ""
    assert refused.channel_id == carrier.channel.pk and refused.channel_message_id is None
    assert (refused.channel_delivered_at, refused.updated_at, refused.next_attempt_at) == (now, now, None)
    [(kind, detail)] = send_log(refused)[-1:]
    assert kind == "outcome_unknown"
    assert detail["channel"] == "carrier-b"
    assert detail["error"] == (
        "the channel has this message, but its answer could not be recorded; "
        "receipts for this message cannot be matched, and it is not handed over again"
    )
    exception_name, _, text = detail["cause"].partition(": ")
    assert exception_name in (
        "IntegrityError",
        "ProgrammingError",
    )  # SQLite, PostgreSQL and text.startswith("disk full")
    assert refused.events.get(kind="outcome_unknown").at == now
    assert api_view(api, refused)["send_log"][-1]["summary"] == (
        "Handed to the carrier, but its answer could not be recorded: the outcome is unknown. "
        "It was not sent again."
    )
    assert caplog.messages == [
        "recording channel carrier-b's answer failed; recording it message by message",
        f"recording channel carrier-b's answer for message {refused.pk} failed",
    ]
    # Never handed over again.
    dispatch_at(now + dt.timedelta(hours=1))
    assert carrier.refs() == [first.pk, refused.pk, third.pk]


def test_a_long_database_error_is_kept_to_500_characters_in_the_outcome_unknown_log(
    account, carrier, monkeypatch
):
    from django.db import DatabaseError

    message = due_message(account)

    def refused(*args, **kwargs):
        raise DatabaseError("disk full " + "y" * 600)

    monkeypatch.setattr(handover, "handed_record", refused)

    dispatch_at(T0)

    cause = message.events.get(kind="outcome_unknown").detail["cause"]
    assert cause == ("DatabaseError: disk full " + "y" * 600)[:500]


def test_when_not_even_outcome_unknown_can_be_written_the_message_waits_for_its_lease(
    account, carrier, refuse, caplog
):
    first, refused = due_message(account), due_message(account)
    refuse(refused, "handed_to_channel")
    refuse(refused, "outcome_unknown")

    with caplog.at_level(logging.ERROR, logger="delivery.services.dispatch"):
        result = dispatch_at(T0)

    assert result == report(claimed=2, handed=1, unrecorded=1)
    refused.refresh_from_db()
    # Still claimed: handed over again with the same ref once its lease lapses.
    assert refused.status == MessageStatus.REQUESTING
    assert refused.next_attempt_at == T0 + dispatch.claim_lease()
    assert caplog.messages[-1] == (
        "marking 1 messages of channel carrier-b as outcome unknown failed; they are handed over again "
        "with the same ref when their claim lapses"
    )
    assert Message.objects.get(pk=first.pk).status == MessageStatus.AWAITING_RECEIPT


# --- the simulator ------------------------------------------------------------------------------------


def test_in_a_replay_the_simulators_receipts_arrive_when_the_simulator_says_they_were_done(account):
    from tests.pipeline.helpers import pipeline

    message = due_message(account)  # the account's channel is the embedded simulator
    scheduled = []
    with clock.replaying(lambda at, callback: scheduled.append((at, callback))), pipeline():
        dispatch_at(T0)

    [(at, deliver)] = scheduled
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert T0 + dt.timedelta(seconds=1) <= at <= T0 + dt.timedelta(seconds=31)
    with pipeline():
        deliver()
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.receipt_at == at


def test_a_message_that_had_a_single_attempt_says_tried_1_time(account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 1
    message = due_message(account, attempts=0, at=T0)
    carrier.down()

    dispatch_at(T0 + dt.timedelta(seconds=5))

    message.refresh_from_db()
    assert message.status == MessageStatus.PROCESSING_FAILED
    assert message.failure_detail == (
        "The carrier connection was unavailable; the platform tried 1 time over 5 seconds."
    )


def test_a_ref_the_batch_did_not_hold_is_ignored_and_the_rest_of_the_answer_recorded(account, carrier):
    """A carrier that echoes a stray ref (another batch's, or garbage) first: the messages it did
    answer for are still recorded, accepted and rejected alike."""
    accepted, rejected = due_message(account), due_message(account)
    stray = accepted.pk + rejected.pk + 1000
    carrier.answer = lambda batch: SendResult(
        accepted=[
            Accepted(ref=stray, channel_message_id="c-stray"),
            Accepted(ref=accepted.pk, channel_message_id="c-1"),
        ],
        rejected=[
            Rejected(ref=stray, code=530, detail="?"),
            Rejected(ref=rejected.pk, code=520, detail="BLACKLISTED"),
        ],
    )

    assert dispatch_at(T0) == report(claimed=2, handed=1, rejected=1)
    assert Message.objects.get(pk=accepted.pk).channel_message_id == "c-1"
    assert Message.objects.get(pk=rejected.pk).status == MessageStatus.SEND_FAILED
