"""Which messages a dispatch run takes, for how long it holds them, and when it gives up on one.

What an operator sees: which messages went out in which channel call, the run's report, a dead
worker's messages held until their lease lapses, and a message failed after its attempts ran out.
"""

import datetime as dt
import types

import pytest

from delivery.channels.base import Accepted, SendResult
from delivery.models import Message, MessageStatus, Reason
from delivery.services import dispatch
from delivery.services.dispatch import claim, run
from smsconsole import clock
from tests.delivery.test_dispatch_outcomes import T0, carrier_for, due_message, report
from tests.delivery.test_dispatch_outcomes import carriers as carriers  # noqa: F401 — a fixture
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

GAVE_UP = "The platform gave up after 2 attempts without the carrier's answer on record."


@pytest.fixture
def carrier(carriers, account):  # noqa: F811
    return carrier_for(carriers, account)


def dispatch_at(moment, **kwargs) -> dict:
    with clock.frozen(moment):
        return dispatch.due_messages_dispatch(**kwargs).as_dict()


# --- what is claimed ----------------------------------------------------------------------------


def test_the_longest_waiting_messages_are_taken_first_one_batch_at_a_time(account, carrier, settings):
    settings.SMS_DISPATCH_BATCH_SIZE = 2
    newest = due_message(account, at=T0 - dt.timedelta(minutes=1))
    oldest = due_message(account, at=T0 - dt.timedelta(minutes=3))
    middle = due_message(account, at=T0 - dt.timedelta(minutes=2))

    result = dispatch_at(T0)

    assert result == report(claimed=3, handed=3)
    assert [sorted(batch) for batch in carrier.batches] == [sorted([oldest.pk, middle.pk]), [newest.pk]]


def test_messages_due_at_the_same_time_go_in_the_order_they_were_stored(account, carrier, settings):
    settings.SMS_DISPATCH_BATCH_SIZE = 1
    first, second, third = (due_message(account) for _ in range(3))

    dispatch_at(T0)

    assert carrier.batches == [[first.pk], [second.pk], [third.pk]]


def test_only_requesting_messages_whose_time_has_come_are_taken(account, carrier):
    due = due_message(account, at=T0)
    later = due_message(account, at=T0 + dt.timedelta(seconds=1))
    handed = due_message(account, at=T0 - dt.timedelta(minutes=1))
    Message.objects.filter(pk=handed.pk).update(status=MessageStatus.AWAITING_RECEIPT)

    result = dispatch_at(T0)

    assert result == report(claimed=1, handed=1)
    assert carrier.refs() == [due.pk]
    later.refresh_from_db()
    assert (later.status, later.dispatch_attempts, later.next_attempt_at) == (
        MessageStatus.REQUESTING,
        0,
        T0 + dt.timedelta(seconds=1),
    )
    assert Message.objects.get(pk=handed.pk).dispatch_attempts == 0


def test_dispatching_named_messages_takes_only_those(account, carrier, settings):
    settings.SMS_DISPATCH_BATCH_SIZE = 2
    named = [due_message(account) for _ in range(3)]
    other = due_message(account)

    with clock.frozen(T0):
        result = dispatch.messages_dispatch(message_ids=[m.pk for m in named]).as_dict()

    assert result == report(claimed=3, handed=3)
    assert [len(batch) for batch in carrier.batches] == [2, 1]
    assert sorted(carrier.refs()) == sorted(m.pk for m in named)
    other.refresh_from_db()
    assert other.status == MessageStatus.REQUESTING and other.dispatch_attempts == 0


def test_a_run_out_of_time_takes_nothing_more(account, carrier):
    message = due_message(account)

    assert dispatch_at(T0, max_seconds=0) == report()
    with clock.frozen(T0):
        assert dispatch.messages_dispatch(message_ids=[message.pk], max_seconds=0).as_dict() == report()

    assert carrier.batches == []
    assert Message.objects.get(pk=message.pk).dispatch_attempts == 0


def test_a_claimed_batch_goes_to_its_channel_in_the_order_it_was_requested(account, carrier):
    # All due at once (claimed together); stored in another order than requested.
    last = due_message(account, requested_at=T0 - dt.timedelta(minutes=1))
    first = due_message(account, requested_at=T0 - dt.timedelta(minutes=3))
    second = due_message(account, requested_at=T0 - dt.timedelta(minutes=2))

    dispatch_at(T0)

    assert carrier.batches == [[first.pk, second.pk, last.pk]]


def test_of_two_messages_to_one_number_the_one_requested_first_goes_out(account, carrier):
    later = due_message(account, phone="+819011119999", requested_at=T0 - dt.timedelta(minutes=1))
    earlier = due_message(account, phone="+819011119999", requested_at=T0 - dt.timedelta(minutes=2))

    dispatch_at(T0)  # the default rule: one message a minute to a number

    assert carrier.refs() == [earlier.pk]
    later.refresh_from_db()
    assert (later.status, later.reason) == (MessageStatus.PROCESSING_FAILED, Reason.FREQUENCY_EXCEEDED)


def test_a_channel_call_carries_at_most_a_channel_batch(account, carrier, monkeypatch):
    monkeypatch.setattr(run, "CHANNEL_BATCH_SIZE", 2)
    messages = [due_message(account) for _ in range(5)]

    result = dispatch_at(T0)

    assert result == report(claimed=5, handed=5)
    assert carrier.batches == [[m.pk for m in messages[:2]], [m.pk for m in messages[2:4]], [messages[4].pk]]


def test_each_account_goes_to_its_own_channel(account, other_account, carriers):  # noqa: F811
    mine_channel = carrier_for(carriers, account, code="carrier-a")
    theirs_channel = carrier_for(carriers, other_account, code="carrier-b")
    mine = due_message(account, requested_at=T0 - dt.timedelta(minutes=2))
    theirs = due_message(other_account, requested_at=T0 - dt.timedelta(minutes=1))

    dispatch_at(T0)

    assert (mine_channel.batches, theirs_channel.batches) == ([[mine.pk]], [[theirs.pk]])
    assert Message.objects.get(pk=theirs.pk).channel.code == "carrier-b"


def test_the_queries_of_a_run_do_not_grow_with_its_batch(account, carrier):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(count, at):
        for _ in range(count):
            due_message(account, at=at)
        with CaptureQueriesContext(connection) as queries:
            dispatch_at(at)
        return len(queries)

    # The process keeps the keyword matcher once built (delivery.content): the first run reads the
    # keywords, whichever test came first, so both runs compared come after one that built it.
    queries_for(1, T0 - dt.timedelta(hours=1))
    assert queries_for(5, T0 + dt.timedelta(hours=1)) == queries_for(1, T0)


def test_a_run_given_no_time_takes_nothing_even_on_a_clock_that_stands_still(account, carrier, monkeypatch):
    due_message(account)
    monkeypatch.setattr(run, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))

    assert dispatch_at(T0, max_seconds=0) == report()
    assert carrier.batches == []


# --- the lease --------------------------------------------------------------------------------------


def test_a_claimed_message_is_held_for_the_channel_call_and_recording_then_comes_back(
    account, carrier, settings
):
    settings.SMS_CHANNEL_TIMEOUT_SECONDS = 10
    settings.SMS_DISPATCH_RECORD_RETRY_SECONDS = 120
    message = due_message(account, attempts=1)

    held = claim.messages_claim(now=T0, message_ids=None)  # this worker dies here

    assert held.message_ids == [message.pk]
    message.refresh_from_db()
    lease = dt.timedelta(seconds=2 * 10 + 120 + 15)
    assert claim.claim_lease() == lease
    assert message.status == MessageStatus.REQUESTING
    assert (message.next_attempt_at, message.dispatch_attempts) == (T0 + lease, 2)
    assert dispatch_at(T0 + lease - dt.timedelta(seconds=1)) == report()
    assert dispatch_at(T0 + lease) == report(claimed=1, handed=1)
    assert carrier.refs() == [message.pk]


def test_a_channel_call_late_in_a_run_starts_the_lease_of_its_batch_again(
    account,
    other_account,
    carriers,
    monkeypatch,  # noqa: F811
):
    """A claim spanning several channel calls: a call coming after the lease margin gets a lease
    of its own, so no other worker hands the batch over while it is under way."""
    first_channel = carrier_for(carriers, account, code="carrier-a")
    second_channel = carrier_for(carriers, other_account, code="carrier-b")
    early = due_message(account, at=T0 - dt.timedelta(minutes=2))
    late = due_message(other_account, at=T0 - dt.timedelta(minutes=1))
    scheduled = due_message(account, at=T0 + dt.timedelta(minutes=10))  # someone else's retry
    moment = {"now": T0, "monotonic": 1000.0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    monkeypatch.setattr(run, "time", types.SimpleNamespace(monotonic=lambda: moment["monotonic"]))
    held_until = {}

    def slow_then_accept(batch):
        held_until[early.pk] = Message.objects.get(pk=early.pk).next_attempt_at
        moment["now"] += dt.timedelta(seconds=20)
        moment["monotonic"] += 20
        return SendResult(accepted=[Accepted(ref=o.ref, channel_message_id=f"a-{o.ref}") for o in batch])

    def accept(batch):
        held_until[late.pk] = Message.objects.get(pk=late.pk).next_attempt_at
        return SendResult(accepted=[Accepted(ref=o.ref, channel_message_id=f"b-{o.ref}") for o in batch])

    first_channel.answer, second_channel.answer = slow_then_accept, accept

    result = dispatch.due_messages_dispatch().as_dict()

    assert result == report(claimed=2, handed=2)
    lease = claim.claim_lease()
    assert held_until == {early.pk: T0 + lease, late.pk: T0 + dt.timedelta(seconds=20) + lease}
    assert Message.objects.get(pk=scheduled.pk).next_attempt_at == T0 + dt.timedelta(minutes=10)


def test_a_channel_call_within_the_lease_margin_keeps_the_claims_lease(
    account, other_account, carriers, monkeypatch
):  # noqa: F811
    first_channel = carrier_for(carriers, account, code="carrier-a")
    second_channel = carrier_for(carriers, other_account, code="carrier-b")
    due_message(account, at=T0 - dt.timedelta(minutes=2))
    late = due_message(other_account, at=T0 - dt.timedelta(minutes=1))
    moment = {"now": T0, "monotonic": 1000.0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    monkeypatch.setattr(run, "time", types.SimpleNamespace(monotonic=lambda: moment["monotonic"]))
    held_until = {}
    accept = first_channel.answer

    def quick(batch):
        moment["now"] += dt.timedelta(seconds=15)
        moment["monotonic"] += 15
        return accept(batch)

    def look(batch):
        held_until["late"] = Message.objects.get(pk=late.pk).next_attempt_at
        return accept(batch)

    first_channel.answer, second_channel.answer = quick, look

    dispatch.due_messages_dispatch()

    assert held_until == {"late": T0 + claim.claim_lease()}


# --- attempts that all ended unrecorded -------------------------------------------------------------


def test_a_message_out_of_attempts_fails_at_its_claim_and_its_neighbours_go_out(
    api, account, carrier, settings
):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    exhausted = due_message(account, attempts=2)
    last_try = due_message(account, attempts=1)
    waiting = due_message(account, at=T0 + dt.timedelta(minutes=5))
    now = T0 + dt.timedelta(seconds=7)

    result = dispatch_at(now)

    assert result == report(claimed=1, handed=1, processing_failed=1)  # the run counts the one it failed
    assert carrier.refs() == [last_try.pk]
    exhausted.refresh_from_db()
    assert (exhausted.status, exhausted.reason) == (MessageStatus.PROCESSING_FAILED, Reason.OTHER)
    assert exhausted.failure_detail == GAVE_UP
    assert (exhausted.next_attempt_at, exhausted.updated_at, exhausted.dispatch_attempts) == (None, now, 2)
    [event] = exhausted.events.all()
    assert (event.kind, event.at) == ("check_failed", now)
    assert event.detail == {
        "reason": "other",
        "cause": GAVE_UP,
        "problem": "attempts_exhausted",
        "attempts": 2,
    }
    shown = api.get(f"/api/v1/messages/{exhausted.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert shown["failure_detail"] == GAVE_UP
    assert shown["send_log"][-1]["summary"] == (
        "Not sent: the platform gave up after 2 attempts without the carrier's answer on record."
    )
    assert Message.objects.get(pk=last_try.pk).status == MessageStatus.AWAITING_RECEIPT
    waiting.refresh_from_db()
    assert waiting.status == MessageStatus.REQUESTING and waiting.failure_detail == ""


def test_a_message_another_worker_already_moved_on_is_not_failed_as_out_of_attempts(account):
    message = MessageFactory(account=account, status=MessageStatus.AWAITING_RECEIPT)

    claim.messages_fail_as_other([message.pk], cause=GAVE_UP, now=T0, attempts=2)

    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT and message.failure_detail == ""
    assert not message.events.exists()


def test_a_run_whose_first_claim_holds_only_exhausted_messages_goes_on(account, carrier, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 2
    settings.SMS_DISPATCH_BATCH_SIZE = 2
    exhausted = [due_message(account, attempts=2) for _ in range(2)]
    fresh = due_message(account, attempts=0, at=T0 + dt.timedelta(seconds=1))

    result = dispatch_at(T0 + dt.timedelta(seconds=7))

    assert result == report(claimed=1, handed=1, processing_failed=2)
    assert carrier.refs() == [fresh.pk]
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in exhausted])} == {
        MessageStatus.PROCESSING_FAILED
    }


# --- a number another worker holds -------------------------------------------------------------


def test_a_message_whose_number_another_worker_holds_waits_without_losing_an_attempt(
    account, carrier, monkeypatch
):
    """The number lock (PostgreSQL advisory locks) as another worker holding one number: its
    message goes back to the queue for a few seconds, uncounted as an attempt; the rest go out."""
    from contextlib import contextmanager

    busy = due_message(account, phone="+819011110001", requested_at=T0 - dt.timedelta(minutes=2), attempts=2)
    free = due_message(account, phone="+819011110002", requested_at=T0 - dt.timedelta(minutes=1))
    held_elsewhere = f"dispatch:{account.pk}:{busy.phone}"

    @contextmanager
    def locks_but_one(keys):
        yield set(keys) - {held_elsewhere}  # read at each run: set to None, the other worker let go

    monkeypatch.setattr(run, "advisory_locks_try", locks_but_one)
    result = dispatch_at(T0)

    retry_at = T0 + run.BUSY_NUMBER_DELAY
    assert result == report(claimed=2, handed=1, retrying=1, next_attempt_at=retry_at.isoformat())
    assert carrier.batches == [[free.pk]]
    busy.refresh_from_db()
    assert (busy.status, busy.dispatch_attempts, busy.next_attempt_at) == (
        MessageStatus.REQUESTING,
        2,
        retry_at,
    )
    assert list(busy.events.values_list("kind", flat=True)) == []  # nothing checked, nothing logged
    free.refresh_from_db()
    assert (free.status, free.dispatch_attempts) == (MessageStatus.AWAITING_RECEIPT, 1)

    # Once the other worker lets go, the message goes out on its next turn, as its third attempt.
    held_elsewhere = None
    assert dispatch_at(retry_at - dt.timedelta(seconds=1))["claimed"] == 0  # not due before then
    assert dispatch_at(retry_at) == report(claimed=1, handed=1)
    busy.refresh_from_db()
    assert (busy.status, busy.dispatch_attempts) == (MessageStatus.AWAITING_RECEIPT, 3)


def test_messages_submitted_together_beyond_one_batch_all_go_out_at_once(account, carrier, settings):
    """The send API hands its new messages to dispatch directly: more than a batch of them go
    out batch after batch in that one run, not left for the periodic run."""
    settings.SMS_DISPATCH_BATCH_SIZE = 2
    messages = [due_message(account) for _ in range(5)]

    with clock.frozen(T0):
        result = dispatch.messages_dispatch(message_ids=[m.pk for m in messages]).as_dict()

    assert result == report(claimed=5, handed=5)
    assert sorted(carrier.refs()) == sorted(m.pk for m in messages)
