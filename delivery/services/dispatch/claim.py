"""Claiming requesting messages for one worker, and giving them back.

A claim moves a message's `next_attempt_at` past a lease, so no other worker takes it until the
lease lapses: a worker that dies mid-dispatch holds at most one claim, for no longer than
that batch could legitimately take.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F

from delivery.models import Message, MessageEvent, MessageStatus, Reason

# Beyond the time a batch can take: scheduling slack between the claim and the channel call.
LEASE_MARGIN_SECONDS = 15


def claim_lease() -> dt.timedelta:
    """The longest a claimed batch can legitimately take: the channel call (connect and read may
    each take the whole timeout), then recording its answer through a database that comes and
    goes. Nobody else hands the batch over before that, so it is never sent twice meanwhile."""
    return dt.timedelta(
        seconds=2 * settings.SMS_CHANNEL_TIMEOUT_SECONDS
        + settings.SMS_DISPATCH_RECORD_RETRY_SECONDS
        + LEASE_MARGIN_SECONDS
    )


@dataclass(frozen=True)
class Claim:
    message_ids: list[int]  # claimed for an attempt
    exhausted: int = 0  # out of attempts: failed instead of claimed

    def __bool__(self) -> bool:
        return bool(self.message_ids or self.exhausted)


def messages_claim(*, now: dt.datetime, message_ids: list[int] | None) -> Claim:
    """Claim up to SMS_DISPATCH_BATCH_SIZE due requesting messages (of `message_ids`, if given)."""
    with transaction.atomic():
        due = Message.objects.filter(status=MessageStatus.REQUESTING, next_attempt_at__lte=now)
        if message_ids is not None:
            due = due.filter(pk__in=message_ids)
        rows = list(
            due.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("id", "dispatch_attempts")[: settings.SMS_DISPATCH_BATCH_SIZE]
        )
        # A message whose attempts all ended without an answer being recorded (a worker killed
        # each time) fails here, instead of coming back every time its lease lapses.
        exhausted = [pk for pk, attempts in rows if attempts >= settings.SMS_DISPATCH_MAX_ATTEMPTS]
        claimed = [pk for pk, attempts in rows if attempts < settings.SMS_DISPATCH_MAX_ATTEMPTS]
        if exhausted:
            attempts = settings.SMS_DISPATCH_MAX_ATTEMPTS
            cause = f"The platform gave up after {attempts} attempts without the carrier's answer on record."
            messages_fail_as_other(exhausted, cause=cause, now=now, attempts=attempts)
        if claimed:
            Message.objects.filter(pk__in=claimed).update(
                next_attempt_at=now + claim_lease(), dispatch_attempts=F("dispatch_attempts") + 1
            )
    return Claim(message_ids=claimed, exhausted=len(exhausted))


def claim_renew(message_ids: list[int], *, now: dt.datetime) -> None:
    """Start the lease of still-claimed messages again, before a channel call that comes late in a run."""
    Message.objects.filter(pk__in=message_ids, status=MessageStatus.REQUESTING).update(
        next_attempt_at=now + claim_lease()
    )


def claim_release_busy(message_ids: list[int], *, now: dt.datetime, delay: dt.timedelta) -> None:
    """Give back messages whose number another worker holds; not an attempt, so uncount it."""
    Message.objects.filter(pk__in=message_ids, status=MessageStatus.REQUESTING).update(
        next_attempt_at=now + delay, dispatch_attempts=F("dispatch_attempts") - 1
    )


def messages_fail_as_other(
    message_ids: list[int], *, cause: str, now: dt.datetime, attempts: int | None = None
) -> None:
    """Fail those of these messages still requesting as processing_failed / other, with the cause logged."""
    with transaction.atomic():
        still_requesting = list(
            Message.objects.select_for_update()
            .filter(pk__in=message_ids, status=MessageStatus.REQUESTING)
            .values_list("pk", flat=True)
        )
        Message.objects.filter(pk__in=still_requesting).update(
            status=MessageStatus.PROCESSING_FAILED,
            reason=Reason.OTHER,
            failure_detail=cause,
            next_attempt_at=None,
            updated_at=now,
        )
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=pk,
                at=now,
                kind=MessageEvent.Kind.CHECK_FAILED,
                detail={
                    "reason": Reason.OTHER,
                    "cause": cause,
                    **({"problem": "attempts_exhausted", "attempts": attempts} if attempts else {}),
                },
            )
            for pk in still_requesting
        )
