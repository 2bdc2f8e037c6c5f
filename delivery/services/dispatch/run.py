"""A dispatch run: claim a batch, hold its numbers, check it, hand it over; repeat within a budget."""

import datetime as dt
import time
from collections import defaultdict

from django.conf import settings
from django.db import transaction

from delivery.models import EVENT_ROW_FIELDS, Message, MessageEvent, MessageStatus
from delivery.services.dispatch.checks import SendChecks, check_failures_record
from delivery.services.dispatch.claim import (
    LEASE_MARGIN_SECONDS,
    Claim,
    claim_release_busy,
    claim_renew,
    messages_claim,
)
from delivery.services.dispatch.handover import batch_hand_over
from delivery.services.dispatch.report import DispatchReport
from smsconsole import clock
from smsconsole.bulk import rows_insert
from smsconsole.locks import advisory_locks_try

# The most messages one channel call carries.
CHANNEL_BATCH_SIZE = 100
BUSY_NUMBER_DELAY = dt.timedelta(seconds=5)
# A run stops claiming new batches after this long. The batch in hand may take up to its lease
# more; the dispatch tasks' time limits are set from both, so a limit never interrupts a batch
# between handing it to a channel and recording the answer.
DISPATCH_RUN_SECONDS = 60


def messages_dispatch(*, message_ids: list[int], max_seconds: float = DISPATCH_RUN_SECONDS) -> DispatchReport:
    """Run the checks on these requesting messages and hand the ones that pass to their channel.

    One claim (a channel batch) at a time; what the time budget leaves is dispatched by the
    periodic run, since those messages are due."""
    report = DispatchReport()
    deadline = time.monotonic() + max_seconds
    size = settings.SMS_DISPATCH_BATCH_SIZE
    for start in range(0, len(message_ids), size):
        if time.monotonic() >= deadline:
            break
        report.add(
            _dispatch_claimed(messages_claim(now=clock.now(), message_ids=message_ids[start : start + size]))
        )
    return report


def due_messages_dispatch(*, max_seconds: float = DISPATCH_RUN_SECONDS) -> DispatchReport:
    """Dispatch requesting messages whose attempt time has come (first tries and retries)."""
    report = DispatchReport()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        claim = messages_claim(now=clock.now(), message_ids=None)
        if not claim:
            break
        report.add(_dispatch_claimed(claim))
    return report


def _dispatch_claimed(claim: Claim) -> DispatchReport:
    message_ids = claim.message_ids
    report = DispatchReport(claimed=len(message_ids), processing_failed=claim.exhausted)
    if not message_ids:
        return report
    claimed_at = time.monotonic()
    now = clock.now()
    messages = list(
        Message.objects.filter(pk__in=message_ids, status=MessageStatus.REQUESTING)
        .select_related("account", "account__default_channel", "template")
        .order_by("requested_at", "id")
    )
    # The frequency check counts what was handed to a channel. Two workers checking messages to
    # the same number at once would each count the other's hand-over as not yet made, so each
    # number is held from its check until its hand-over is recorded; a number another worker
    # holds waits a few seconds for the next run.
    with advisory_locks_try({_number_key(m) for m in messages}) as held:
        busy = [m.pk for m in messages if _number_key(m) not in held]
        if busy:
            claim_release_busy(busy, now=now, delay=BUSY_NUMBER_DELAY)
            report.add(DispatchReport(retrying=len(busy), next_attempt_at=now + BUSY_NUMBER_DELAY))
        ready = [m for m in messages if _number_key(m) in held]
        report.add(_check_and_hand_over(ready, now=now, claimed_at=claimed_at))
    return report


def _number_key(message: Message) -> str:
    return f"dispatch:{message.account_id}:{message.phone}"


def _check_and_hand_over(messages: list[Message], *, now: dt.datetime, claimed_at: float) -> DispatchReport:
    report = DispatchReport()
    checks = SendChecks(messages, now=now)
    failed, passed = [], []
    for message in messages:
        failure = checks.first_failure(message)
        (failed if failure else passed).append((message, failure))

    with transaction.atomic():
        check_failures_record(failed, now=now)
        rows_insert(
            MessageEvent,
            EVENT_ROW_FIELDS,
            [(message.pk, now, MessageEvent.Kind.CHECKS_PASSED, {}) for message, _ in passed],
        )
    report.processing_failed = len(failed)

    by_channel: dict[int, list[Message]] = defaultdict(list)
    for message, _ in passed:
        by_channel[message.account.default_channel_id].append(message)
    for channel_messages in by_channel.values():
        channel = channel_messages[0].account.default_channel
        for start in range(0, len(channel_messages), CHANNEL_BATCH_SIZE):
            batch = channel_messages[start : start + CHANNEL_BATCH_SIZE]
            # A claim spanning several channel calls: the later ones get a lease of their own.
            if time.monotonic() - claimed_at > LEASE_MARGIN_SECONDS:
                claim_renew([m.pk for m in batch], now=clock.now())
            report.add(batch_hand_over(channel, batch))
    return report
