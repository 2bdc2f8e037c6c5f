"""Writing what a channel answered for a batch: handed over, rejected, unavailable, or unknown.

Every write here is guarded by the status the message must still have (`requesting`), so writing
the same answer twice, or after another worker moved the message on, changes nothing.
"""

import datetime as dt
import logging

from django.conf import settings

from delivery.models import EVENT_ROW_FIELDS, Channel, Message, MessageEvent, MessageStatus, Reason
from delivery.services.dispatch.report import DispatchReport, retry_delay
from smsconsole.bulk import rows_insert, rows_update

logger = logging.getLogger("delivery.services.dispatch")

UNUSABLE_ID_ERROR = (
    "accepted with an id that cannot be used (missing, too long, given twice or already in use); "
    "receipts for this message cannot be matched"
)
OUTCOME_UNKNOWN_ERROR = (
    "the channel has this message, but its answer could not be recorded; "
    "receipts for this message cannot be matched, and it is not handed over again"
)


def _mark_handed(channel: Channel, messages: list[Message], *, now: dt.datetime) -> None:
    for message in messages:
        message.status = MessageStatus.AWAITING_RECEIPT
        message.channel = channel
        message.channel_delivered_at = now
        message.updated_at = now
        message.next_attempt_at = None
    rows_update(
        messages,
        ["status", "channel", "channel_message_id", "channel_delivered_at", "updated_at", "next_attempt_at"],
        where_in={"status": [MessageStatus.REQUESTING]},
    )


def handed_record(
    channel: Channel,
    accepted: list[tuple[Message, str]],
    untracked: list[tuple[Message, str]],
    *,
    now: dt.datetime,
    notes: dict[int, str] | None = None,
) -> None:
    """Both went to the channel and await their receipt; only the accepted have an id to match it by.

    `notes` (by message id) is what the channel said about a message, kept in its send log."""
    notes = notes or {}
    for message, channel_message_id in accepted:
        message.channel_message_id = channel_message_id
    for message, _ in untracked:
        message.channel_message_id = None
    _mark_handed(channel, [message for message, _ in accepted + untracked], now=now)
    # Rows, not model instances, and one COPY on PostgreSQL: the send log is written on every hand-over.
    rows_insert(
        MessageEvent,
        EVENT_ROW_FIELDS,
        [
            (
                message.pk,
                now,
                MessageEvent.Kind.HANDED_TO_CHANNEL,
                {
                    "channel": channel.code,
                    "channel_message_id": channel_message_id,
                    **({"note": notes[message.pk][:300]} if message.pk in notes else {}),
                },
            )
            for message, channel_message_id in accepted
        ]
        + [
            (
                message.pk,
                now,
                MessageEvent.Kind.CHANNEL_ERROR,
                {
                    "channel": channel.code,
                    "error": UNUSABLE_ID_ERROR,
                    "channel_message_id": str(channel_message_id)[:200],
                },
            )
            for message, channel_message_id in untracked
        ],
    )


def outcome_unknown_record(channel: Channel, messages: list[Message], *, cause: str, now: dt.datetime) -> int:
    """Handed over, answer lost for good: awaiting a receipt that cannot be matched, never resent.

    Runs inside the caller's transaction; returns how many were still requesting and so marked.

    Sending again could reach the recipient twice; failing it would tell the customer to retry.
    The send log says what happened, and the console explains it."""
    pending = set(
        Message.objects.select_for_update()
        .filter(pk__in=[m.pk for m in messages], status=MessageStatus.REQUESTING)
        .values_list("pk", flat=True)
    )
    messages = [message for message in messages if message.pk in pending]
    for message in messages:
        message.channel_message_id = None
    _mark_handed(channel, messages, now=now)
    MessageEvent.objects.bulk_create(
        MessageEvent(
            message=message,
            at=now,
            kind=MessageEvent.Kind.OUTCOME_UNKNOWN,
            detail={"channel": channel.code, "error": OUTCOME_UNKNOWN_ERROR, "cause": cause[:500]},
        )
        for message in messages
    )
    return len(messages)


def channel_unavailable_detail(attempts: int, *, since: dt.datetime, now: dt.datetime) -> str:
    """The failure detail of a message its channel never took: a plain sentence, no exception text.

    The API returns it as it is (English); the console says the same in the reader's language."""
    seconds = max((now - since).total_seconds(), 0)
    count, unit = (
        (round(seconds / 3600), "hour") if seconds >= 3570 else
        (round(seconds / 60), "minute") if seconds >= 59.5 else
        (round(seconds), "second")
    )  # fmt: skip
    span = f"{count} {unit}{'' if count == 1 else 's'}"
    tried = "tried 1 time" if attempts == 1 else f"retried {attempts} times"  # as the console says it
    return f"The carrier connection was unavailable; the platform {tried} over {span}."


def unavailable_record(
    channel: Channel, messages: list[Message], *, error: str, now: dt.datetime
) -> DispatchReport:
    """The channel could not take these now: back off, or fail as `other` after the last attempt."""
    report = DispatchReport()
    if not messages:
        return report
    logger.warning("channel %s unavailable for %d messages: %s", channel.code, len(messages), error)
    max_attempts = settings.SMS_DISPATCH_MAX_ATTEMPTS
    events = []
    for message in messages:
        attempt = message.dispatch_attempts  # the claim already counted this attempt
        message.updated_at = now
        is_last = attempt >= max_attempts
        if is_last:
            message.next_attempt_at = None
        else:
            message.next_attempt_at = now + retry_delay(attempt)
            report.retrying += 1
            report.wake_at(message.next_attempt_at)
        # The attempt first, then what it caused: the send log reads in the order things happened.
        # The exception text is for staff (admin, the console's technical detail); customers read
        # the sentence the console makes of these events.
        events.append(
            MessageEvent(
                message=message,
                at=now,
                kind=MessageEvent.Kind.CHANNEL_ERROR,
                detail={
                    "channel": channel.code,
                    "attempt": attempt,
                    "error": error[:500],
                    **({"next_attempt_at": message.next_attempt_at.isoformat()} if not is_last else {}),
                },
            )
        )
        if is_last:
            message.status = MessageStatus.PROCESSING_FAILED
            message.reason = Reason.OTHER
            message.failure_detail = channel_unavailable_detail(attempt, since=message.requested_at, now=now)
            report.processing_failed += 1
            events.append(
                MessageEvent(
                    message=message,
                    at=now,
                    kind=MessageEvent.Kind.CHECK_FAILED,
                    detail={
                        "reason": Reason.OTHER,
                        "problem": "channel_unavailable",
                        "channel": channel.code,
                        "attempts": attempt,
                    },
                )
            )
    rows_update(
        messages,
        ["status", "reason", "failure_detail", "next_attempt_at", "updated_at"],
        where_in={"status": [MessageStatus.REQUESTING]},
    )
    MessageEvent.objects.bulk_create(events)
    return report
