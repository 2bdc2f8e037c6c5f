"""Handing one batch to its channel, and recording the channel's answer.

Once the channel has answered, the answer exists only in this process: if the database drops
meanwhile, recording it is tried again on a new connection (`SMS_DISPATCH_RECORD_RETRY_SECONDS`,
within the claim's lease, so nobody else sends the batch meanwhile). Only if the database stays
away that long does the batch stay unrecorded: its lease lapses and it is handed over again with
the same `ref`, which the channel uses to drop the repeat (at-least-once hand-over). An answer the
database refuses for good (not a connection problem) is recorded message by message, and any
message that still cannot be written becomes "outcome unknown" rather than being sent again.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from delivery.channels import ChannelUnavailable, adapter_for
from delivery.channels.base import Outbound, Rejected, SendResult
from delivery.channels.payloads import MAX_CHANNEL_MESSAGE_ID_LENGTH
from delivery.models import RETURN_CODE_MAX, RETURN_CODE_MIN, Channel, Message, MessageStatus, ReturnCode
from delivery.services.dispatch.outcomes import handed_record, outcome_unknown_record, unavailable_record
from delivery.services.dispatch.report import DispatchReport
from delivery.services.failures import SendFailure, send_failures_record
from delivery.services.receipts import early_receipts_apply_for
from smsconsole import clock
from smsconsole.queueing import task_queue
from smsconsole.reconnect import TRANSIENT_DATABASE_ERRORS, run_reconnecting

logger = logging.getLogger("delivery.services.dispatch")


@dataclass
class ChannelAnswer:
    """A channel's answer to one batch, checked so that recording it cannot fail."""

    accepted: list[tuple[Message, str]]
    rejected: list[tuple[Message, Rejected]]
    # Accepted, but with an id we cannot store (missing, too long, given twice or already in use):
    # sent, so never sent again, but its receipts cannot be matched.
    untracked: list[tuple[Message, str]]
    unanswered: list[Message]
    error: str


def answer_check(
    channel: Channel, messages: list[Message], result: SendResult | None, error: str
) -> ChannelAnswer:
    """Sort the channel's answer into what can be recorded as it is, and what cannot."""
    by_ref = {m.pk: m for m in messages}
    answer = ChannelAnswer(accepted=[], rejected=[], untracked=[], unanswered=[], error=error)
    if result is None:
        answer.unanswered = list(messages)
        return answer
    mentions = [a.ref for a in result.accepted] + [r.ref for r in result.rejected]
    ambiguous = {ref for ref in mentions if mentions.count(ref) > 1}
    ids = [a.channel_message_id for a in result.accepted]
    in_use = set(
        Message.objects.filter(channel=channel, channel_message_id__in=ids).values_list(
            "channel_message_id", flat=True
        )
    )
    for item in result.accepted:
        if item.ref not in by_ref or item.ref in ambiguous:
            continue
        usable = (
            item.channel_message_id
            and len(item.channel_message_id) <= MAX_CHANNEL_MESSAGE_ID_LENGTH
            and ids.count(item.channel_message_id) == 1
            and item.channel_message_id not in in_use
        )
        (answer.accepted if usable else answer.untracked).append((by_ref[item.ref], item.channel_message_id))
    for item in result.rejected:
        if item.ref not in by_ref or item.ref in ambiguous:
            continue
        if not RETURN_CODE_MIN <= item.code <= RETURN_CODE_MAX:
            item = Rejected(
                ref=item.ref, code=ReturnCode.OTHER, detail=f"carrier code {item.code}: {item.detail}"
            )
        answer.rejected.append((by_ref[item.ref], item))
    answered = {m.pk for m, _ in answer.accepted + answer.rejected + answer.untracked}
    answer.unanswered = [m for m in messages if m.pk not in answered]
    if answer.unanswered:
        answer.error = "the channel's answer did not mention these messages (or mentioned them twice)"
    return answer


def batch_hand_over(channel: Channel, messages: list[Message]) -> DispatchReport:
    """Send one batch to its channel and record the answer (see the module docstring)."""
    adapter = adapter_for(channel)
    outbound = [Outbound(ref=m.pk, to=m.phone, content=m.content, segments=m.segments) for m in messages]
    try:
        result, error = adapter.send(outbound), ""
    except ChannelUnavailable as exc:
        result, error = None, str(exc)
    answered_at = clock.now()

    def record(batch: list[Message]) -> DispatchReport:
        return _answer_record(channel, batch, adapter, outbound, result, error, now=answered_at)

    try:
        return run_reconnecting(
            lambda: record(messages),
            within_seconds=settings.SMS_DISPATCH_RECORD_RETRY_SECONDS,
            what=f"recording channel {channel.code}'s answer",
        )
    except TRANSIENT_DATABASE_ERRORS:
        logger.exception(
            "channel %s's answer for %d messages could not be recorded: the database stayed away; they "
            "are handed over again with the same ref when their claim lapses",
            channel.code,
            len(messages),
        )
        return DispatchReport(unrecorded=len(messages))
    except DatabaseError:
        logger.exception(
            "recording channel %s's answer failed; recording it message by message", channel.code
        )
    return _answer_record_each(channel, messages, record, now=answered_at)


def _answer_record(
    channel: Channel,
    messages: list[Message],
    adapter,
    outbound: list[Outbound],
    result: SendResult | None,
    error: str,
    *,
    now: dt.datetime,
) -> DispatchReport:
    with transaction.atomic():
        # Only what is still requesting: after a lost connection the previous try may have
        # committed, and another worker may have moved a message on.
        pending = set(
            Message.objects.select_for_update()
            .filter(pk__in=[m.pk for m in messages], status=MessageStatus.REQUESTING)
            .values_list("pk", flat=True)
        )
        answer = answer_check(channel, [m for m in messages if m.pk in pending], result, error)
        notes = {a.ref: a.note for a in result.accepted if a.note} if result else {}
        handed_record(channel, answer.accepted, answer.untracked, now=now, notes=notes)
        early_receipts_apply_for(
            channel=channel, channel_message_ids=[cid for _, cid in answer.accepted], now=now
        )
        send_failures_record(
            failures=[
                SendFailure(message=m, return_code=r.code, detail=r.detail, failed_at=now, source="channel")
                for m, r in answer.rejected
            ],
            now=now,
        )
        report = unavailable_record(channel, answer.unanswered, error=answer.error, now=now)
        report.handed += len(answer.accepted) + len(answer.untracked)
        report.rejected += len(answer.rejected)
        if answer.accepted and channel.kind == Channel.Kind.SIMULATOR:
            _simulated_receipts_queue(channel, adapter, outbound, answer.accepted, handed_at=now)
    return report


def _answer_record_each(
    channel: Channel, messages: list[Message], record, *, now: dt.datetime
) -> DispatchReport:
    report, unknown, cause = DispatchReport(), [], ""
    for message in messages:
        try:
            report.add(record([message]))
        except DatabaseError as exc:
            logger.exception("recording channel %s's answer for message %s failed", channel.code, message.pk)
            unknown.append(message)
            cause = f"{type(exc).__name__}: {exc}"
    if unknown:
        try:
            with transaction.atomic():
                report.outcome_unknown += outcome_unknown_record(channel, unknown, cause=cause, now=now)
        except DatabaseError:
            logger.exception(
                "marking %d messages of channel %s as outcome unknown failed; they are handed over again "
                "with the same ref when their claim lapses",
                len(unknown),
                channel.code,
            )
            report.unrecorded += len(unknown)
    return report


def _simulated_receipts_queue(channel, adapter, outbound, accepted, *, handed_at: dt.datetime) -> None:
    outbound_by_ref = {o.ref: o for o in outbound}
    payload = adapter.receipts_payload(
        [(outbound_by_ref[m.pk], channel_message_id) for m, channel_message_id in accepted],
        handed_at=handed_at,
        latest=timezone.now(),  # the wall clock: a replayed (demo) past is not capped at its own now
    )
    if payload["receipts"]:
        # The simulator "calls back" when its receipts are done, as a carrier would.
        done_at = max(dt.datetime.fromisoformat(receipt["done_at"]) for receipt in payload["receipts"])
        transaction.on_commit(
            lambda: clock.call_at(done_at, lambda: simulated_webhook_queue(channel.pk, "receipts", payload)),
            robust=True,
        )


def simulated_webhook_queue(channel_id: int, kind: str, payload: dict) -> None:
    """The simulator "calls" its webhook: queue the body for the inbox, as a real channel's would be."""
    from delivery.tasks import simulator_webhook

    task_queue(simulator_webhook, channel_id, kind, payload)
