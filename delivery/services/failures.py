"""Recording send failures (a channel's rejection or a failed receipt) and their intercepts."""

import datetime as dt
from dataclasses import dataclass

from delivery.models import Message, MessageEvent, MessageStatus, Reason
from intercepts.selectors import intercept_rules_by_code
from intercepts.services import InterceptCause, intercepts_apply
from smsconsole.bulk import rows_update


@dataclass
class SendFailure:
    message: Message
    return_code: int
    detail: str
    failed_at: dt.datetime
    source: str  # "channel" (refused on hand-over) or "receipt"
    receipt_at: dt.datetime | None = None


def reason_for_code(return_code: int, rules: dict) -> str:
    rule = rules.get(return_code)
    return rule.reason if rule else Reason.OTHER


def send_failures_record(*, failures: list[SendFailure], now: dt.datetime) -> None:
    """Mark messages `send_failed` with the reason of their return code, and apply its intercept rule.

    The caller holds the transaction, and has checked each message may still move to a final status."""
    if not failures:
        return
    rules = intercept_rules_by_code()
    for failure in failures:
        message = failure.message
        message.status = MessageStatus.SEND_FAILED
        message.reason = reason_for_code(failure.return_code, rules)
        message.return_code = failure.return_code
        message.failure_detail = failure.detail
        message.receipt_at = failure.receipt_at
        message.updated_at = now
        message.next_attempt_at = None
    rows_update(
        [failure.message for failure in failures],
        ["status", "reason", "return_code", "failure_detail", "receipt_at", "updated_at", "next_attempt_at"],
        where_in={"status": [MessageStatus.REQUESTING, MessageStatus.AWAITING_RECEIPT]},
    )
    events = [
        MessageEvent(
            message=failure.message,
            at=now,
            kind=MessageEvent.Kind.CHANNEL_REJECTED,
            detail={"return_code": failure.return_code, "detail": failure.detail},
        )
        for failure in failures
        if failure.source == "channel"
    ]
    applied = intercepts_apply(
        causes=[
            InterceptCause(
                account_id=failure.message.account_id,
                phone=failure.message.phone,
                return_code=failure.return_code,
                detail=failure.detail,
                failed_at=failure.failed_at,
                message_id=failure.message.pk,
            )
            for failure in failures
        ],
        rules=rules,
        now=now,
    )
    events.extend(
        MessageEvent(
            message_id=outcome.message_id,
            at=now,
            kind=MessageEvent.Kind.INTERCEPTED,
            detail={
                "intercept_id": outcome.intercept_id,
                "action": outcome.action,
                "scope": outcome.scope,
                "expires_at": outcome.expires_at.isoformat(),
            },
        )
        for outcome in applied
    )
    MessageEvent.objects.bulk_create(events)
