"""Dispatch: the eight platform checks, in DESIGN.md order, then handing messages to channels.

A message is claimed by moving its `next_attempt_at` past a lease, so two workers never dispatch
it at once; it leaves `requesting` only in the transaction that records the outcome, together with
its send log. A channel that is down leaves messages `requesting` with a later attempt time.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from delivery.channels import ChannelUnavailable, adapter_for
from delivery.channels.base import Outbound, Rejected
from delivery.channels.payloads import MAX_CHANNEL_MESSAGE_ID_LENGTH
from delivery.content import keyword_matcher
from delivery.models import (
    RETURN_CODE_MAX,
    RETURN_CODE_MIN,
    Channel,
    Message,
    MessageEvent,
    MessageStatus,
    Reason,
    ReturnCode,
)
from delivery.selectors import frequency_rules_for, handed_times
from delivery.services.failures import SendFailure, send_failures_record
from intercepts.models import Scope
from intercepts.selectors import blocking_intercepts
from replies.selectors import unsubscribed_pairs
from smsconsole import clock
from smsconsole.bulk import rows_update
from smsconsole.locks import advisory_locks_try

logger = logging.getLogger(__name__)

# A claim lasts this long; a worker that dies mid-dispatch releases its messages when it expires.
CLAIM_LEASE = dt.timedelta(minutes=5)
MAX_SEGMENTS = 10
CHANNEL_BATCH_SIZE = 100
BUSY_NUMBER_DELAY = dt.timedelta(seconds=5)


def retry_delay(attempt: int) -> dt.timedelta:
    """Back off 30 s, 1 min, 2 min, … up to an hour between attempts on a channel that is down."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempt - 1, 0), 3600))


@dataclass(frozen=True)
class CheckFailure:
    reason: str
    detail: dict
    blocking_intercept_id: int | None = None


@dataclass
class DispatchReport:
    claimed: int = 0
    processing_failed: int = 0
    handed: int = 0
    rejected: int = 0
    retrying: int = 0
    next_attempt_at: dt.datetime | None = None

    def as_dict(self) -> dict:
        return {
            **self.__dict__,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }

    def add(self, other: "DispatchReport") -> None:
        for name in ("claimed", "processing_failed", "handed", "rejected", "retrying"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.next_attempt_at and (
            not self.next_attempt_at or other.next_attempt_at < self.next_attempt_at
        ):
            self.next_attempt_at = other.next_attempt_at


def messages_dispatch(*, message_ids: list[int]) -> DispatchReport:
    """Run the checks on these requesting messages and hand the ones that pass to their channel."""
    report = DispatchReport()
    for start in range(0, len(message_ids), settings.SMS_DISPATCH_BATCH_SIZE):
        chunk = message_ids[start : start + settings.SMS_DISPATCH_BATCH_SIZE]
        report.add(_dispatch_claimed(_claim(now=clock.now(), message_ids=chunk)))
    return report


# A run stops claiming new batches after this long, well inside the task's time limit, so that
# the limit never interrupts a batch between handing it to a channel and recording the answer.
DISPATCH_RUN_SECONDS = 120


def due_messages_dispatch(*, max_seconds: float = DISPATCH_RUN_SECONDS) -> DispatchReport:
    """Dispatch requesting messages whose attempt time has come (first tries and retries)."""
    report = DispatchReport()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        claimed = _claim(now=clock.now(), message_ids=None)
        if not claimed:
            break
        report.add(_dispatch_claimed(claimed))
    return report


def _claim(*, now: dt.datetime, message_ids: list[int] | None) -> list[int]:
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
            cause = f"gave up after {settings.SMS_DISPATCH_MAX_ATTEMPTS} attempts without a recorded answer"
            _fail_as_other(exhausted, cause=cause, now=now)
        if claimed:
            Message.objects.filter(pk__in=claimed).update(
                next_attempt_at=now + CLAIM_LEASE, dispatch_attempts=F("dispatch_attempts") + 1
            )
    return claimed


def _fail_as_other(message_ids: list[int], *, cause: str, now: dt.datetime) -> None:
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
                detail={"reason": Reason.OTHER, "cause": cause},
            )
            for pk in still_requesting
        )


def _dispatch_claimed(message_ids: list[int]) -> DispatchReport:
    report = DispatchReport(claimed=len(message_ids))
    if not message_ids:
        return report
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
        busy = [m for m in messages if _number_key(m) not in held]
        if busy:
            _defer_busy(busy, now=now)
            report.add(DispatchReport(retrying=len(busy), next_attempt_at=now + BUSY_NUMBER_DELAY))
        report.add(_check_and_hand_over([m for m in messages if _number_key(m) in held], now=now))
    return report


def _number_key(message: Message) -> str:
    return f"dispatch:{message.account_id}:{message.phone}"


def _defer_busy(messages: list[Message], *, now: dt.datetime) -> None:
    # Not an attempt: give back the one the claim counted.
    Message.objects.filter(pk__in=[m.pk for m in messages], status=MessageStatus.REQUESTING).update(
        next_attempt_at=now + BUSY_NUMBER_DELAY, dispatch_attempts=F("dispatch_attempts") - 1
    )


def _check_and_hand_over(messages: list[Message], *, now: dt.datetime) -> DispatchReport:
    report = DispatchReport()
    checks = SendChecks(messages, now=now)
    failed, passed = [], []
    for message in messages:
        failure = checks.first_failure(message)
        (failed if failure else passed).append((message, failure))

    with transaction.atomic():
        _record_check_failures(failed, now=now)
        MessageEvent.objects.bulk_create(
            MessageEvent(message=message, at=now, kind=MessageEvent.Kind.CHECKS_PASSED, detail={})
            for message, _ in passed
        )
    report.processing_failed = len(failed)

    by_channel: dict[int, list[Message]] = defaultdict(list)
    for message, _ in passed:
        by_channel[message.account.default_channel_id].append(message)
    for channel_messages in by_channel.values():
        channel = channel_messages[0].account.default_channel
        for start in range(0, len(channel_messages), CHANNEL_BATCH_SIZE):
            report.add(_hand_to_channel(channel, channel_messages[start : start + CHANNEL_BATCH_SIZE]))
    return report


class SendChecks:
    """The checks for one batch, with everything they read loaded in a handful of queries."""

    def __init__(self, messages: list[Message], *, now: dt.datetime):
        self.now = now
        account_ids = {m.account_id for m in messages}
        pairs = {(m.account_id, m.phone) for m in messages}
        self.intercepts_by_phone = defaultdict(list)
        for intercept in blocking_intercepts(
            phones={m.phone for m in messages}, account_ids=account_ids, at=now
        ):
            self.intercepts_by_phone[intercept.phone].append(intercept)
        self.unsubscribed = unsubscribed_pairs(pairs=pairs)
        self.keywords = keyword_matcher()
        self.rules = frequency_rules_for(account_ids=account_ids)
        longest = max((window for rules in self.rules.values() for window, _ in rules), default=0)
        self.handed = handed_times(pairs=pairs, since=now - dt.timedelta(seconds=longest))

    def first_failure(self, message: Message) -> CheckFailure | None:
        for check in (
            self.global_intercept,
            self.local_intercept,
            self.unsubscribed_number,
            self.filtered_keyword,
            self.missing_variables,
            self.noncompliant_content,
            self.frequency,
            self.other,
        ):
            failure = check(message)
            if failure:
                return failure
        # Counted now, so later messages of the batch to the same number see this one.
        self.handed.setdefault((message.account_id, message.phone), []).append(self.now)
        return None

    def _intercept_failure(self, message, scope, reason) -> CheckFailure | None:
        for intercept in self.intercepts_by_phone.get(message.phone, ()):
            if intercept.scope == scope and (
                scope == Scope.GLOBAL or intercept.account_id == message.account_id
            ):
                return CheckFailure(
                    reason,
                    {
                        "intercept_id": intercept.pk,
                        "scope": intercept.scope,
                        "return_code": intercept.return_code,
                        "expires_at": intercept.expires_at.isoformat(),
                    },
                    blocking_intercept_id=intercept.pk,
                )
        return None

    def global_intercept(self, message):
        return self._intercept_failure(message, Scope.GLOBAL, Reason.GLOBAL_INTERCEPT)

    def local_intercept(self, message):
        return self._intercept_failure(message, Scope.LOCAL, Reason.LOCAL_INTERCEPT)

    def unsubscribed_number(self, message):
        if (message.account_id, message.phone) in self.unsubscribed:
            return CheckFailure(Reason.UNSUBSCRIBED, {"phone": message.phone})
        return None

    def filtered_keyword(self, message):
        keyword = self.keywords.first_match(message.content)
        if keyword is not None:
            return CheckFailure(Reason.KEYWORD_FILTERED, {"keyword": keyword})
        return None

    def missing_variables(self, message):
        missing = [
            name for name in message.template.variable_names if message.variables.get(name) in (None, "")
        ]
        if missing:
            return CheckFailure(Reason.VARIABLE_ERROR, {"missing": missing})
        return None

    def noncompliant_content(self, message):
        if not message.template.is_approved:
            return CheckFailure(
                Reason.CONTENT_NONCOMPLIANT,
                {"problem": "template_not_approved", "approval_status": message.template.approval_status},
            )
        if not message.content.strip():
            return CheckFailure(Reason.CONTENT_NONCOMPLIANT, {"problem": "empty_content"})
        if message.segments > MAX_SEGMENTS:
            return CheckFailure(
                Reason.CONTENT_NONCOMPLIANT,
                {"problem": "too_long", "segments": message.segments, "max_segments": MAX_SEGMENTS},
            )
        return None

    def frequency(self, message):
        handed = self.handed.get((message.account_id, message.phone), [])
        for window, limit in sorted(self.rules.get(message.account_id, [])):
            since = self.now - dt.timedelta(seconds=window)
            count = sum(1 for at in handed if at > since)
            if count >= limit:
                return CheckFailure(
                    Reason.FREQUENCY_EXCEEDED,
                    {"window_seconds": window, "max_messages": limit, "sent_in_window": count},
                )
        return None

    def other(self, message):
        account, channel = message.account, message.account.default_channel
        if not account.is_active:
            return CheckFailure(Reason.OTHER, {"cause": "account suspended"})
        if channel is None:
            return CheckFailure(Reason.OTHER, {"cause": "no channel configured for the account"})
        if not channel.is_active:
            return CheckFailure(Reason.OTHER, {"cause": f"channel {channel.code} is inactive"})
        return None


def _record_check_failures(failed: list[tuple[Message, CheckFailure]], *, now: dt.datetime) -> None:
    for message, failure in failed:
        message.status = MessageStatus.PROCESSING_FAILED
        message.reason = failure.reason
        message.failure_detail = _describe(failure)
        message.blocking_intercept_id = failure.blocking_intercept_id
        message.updated_at = now
        message.next_attempt_at = None
    rows_update(
        [message for message, _ in failed],
        ["status", "reason", "failure_detail", "blocking_intercept", "updated_at", "next_attempt_at"],
        where_in={"status": [MessageStatus.REQUESTING]},
    )
    MessageEvent.objects.bulk_create(
        MessageEvent(
            message=message,
            at=now,
            kind=MessageEvent.Kind.CHECK_FAILED,
            detail={"reason": failure.reason, **failure.detail},
        )
        for message, failure in failed
    )


def _describe(failure: CheckFailure) -> str:
    detail = failure.detail
    if "keyword" in detail:
        return f"keyword: {detail['keyword']}"
    if "missing" in detail:
        return "missing variables: " + ", ".join(detail["missing"])
    if "problem" in detail:
        return detail["problem"].replace("_", " ")
    if "window_seconds" in detail:
        return (
            f"{detail['sent_in_window']} sent in {detail['window_seconds']} s (max {detail['max_messages']})"
        )
    if "cause" in detail:
        return detail["cause"]
    if "intercept_id" in detail:
        return f"intercept #{detail['intercept_id']} (code {detail['return_code']})"
    return ""


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


def _checked_answer(channel: Channel, messages: list[Message], result, error: str) -> ChannelAnswer:
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


def _hand_to_channel(channel: Channel, messages: list[Message]) -> DispatchReport:
    report = DispatchReport()
    adapter = adapter_for(channel)
    outbound = [Outbound(ref=m.pk, to=m.phone, content=m.content, segments=m.segments) for m in messages]
    try:
        result, error = adapter.send(outbound), ""
    except ChannelUnavailable as exc:
        result, error = None, str(exc)
    now = clock.now()
    answer = _checked_answer(channel, messages, result, error)
    accepted, rejected = answer.accepted, answer.rejected

    try:
        with transaction.atomic():
            _record_handed(channel, accepted, answer.untracked, now=now)
            send_failures_record(
                failures=[
                    SendFailure(
                        message=m, return_code=r.code, detail=r.detail, failed_at=now, source="channel"
                    )
                    for m, r in rejected
                ],
                now=now,
            )
            report.add(_record_unavailable(channel, answer.unanswered, error=answer.error, now=now))
    except DatabaseError as exc:
        # The channel has the batch; leaving it `requesting` would send it again when the claim
        # lapses. Fail it visibly instead: the operator decides whether to send again.
        logger.exception("recording channel %s's answer failed", channel.code)
        error = f"{type(exc).__name__}: {exc}"
        cause = f"handed to channel {channel.code}, but its answer could not be recorded: {error}"
        _fail_as_other([m.pk for m in messages], cause=cause[:1000], now=now)
        report.processing_failed += len(messages)
        return report
    report.handed += len(accepted) + len(answer.untracked)
    report.rejected += len(rejected)
    if accepted and channel.kind == Channel.Kind.SIMULATOR:
        outbound_by_ref = {o.ref: o for o in outbound}
        payload = adapter.receipts_payload(
            [(outbound_by_ref[m.pk], channel_message_id) for m, channel_message_id in accepted],
            handed_at=now,
            latest=timezone.now(),  # the wall clock: a replayed (demo) past is not capped at its own now
        )
        if payload["receipts"]:
            transaction.on_commit(
                lambda: _queue_simulated_webhook(channel.pk, "receipts", payload), robust=True
            )
    return report


def _record_handed(
    channel: Channel,
    accepted: list[tuple[Message, str]],
    untracked: list[tuple[Message, str]],
    *,
    now: dt.datetime,
) -> None:
    """Both went to the channel and await their receipt; only the accepted have an id to match it by."""
    for message, channel_message_id in accepted:
        message.channel_message_id = channel_message_id
    handed = [message for message, _ in accepted + untracked]
    for message in handed:
        message.status = MessageStatus.AWAITING_RECEIPT
        message.channel = channel
        message.channel_delivered_at = now
        message.updated_at = now
        message.next_attempt_at = None
    rows_update(
        handed,
        ["status", "channel", "channel_message_id", "channel_delivered_at", "updated_at", "next_attempt_at"],
        where_in={"status": [MessageStatus.REQUESTING]},
    )
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                message=message,
                at=now,
                kind=MessageEvent.Kind.HANDED_TO_CHANNEL,
                detail={"channel": channel.code, "channel_message_id": channel_message_id},
            )
            for message, channel_message_id in accepted
        ]
        + [
            MessageEvent(
                message=message,
                at=now,
                kind=MessageEvent.Kind.CHANNEL_ERROR,
                detail={
                    "channel": channel.code,
                    "error": "accepted with an id that cannot be used (missing, too long, given twice "
                    "or already in use); receipts for this message cannot be matched",
                    "channel_message_id": str(channel_message_id)[:200],
                },
            )
            for message, channel_message_id in untracked
        ]
    )


def _record_unavailable(
    channel: Channel, messages: list[Message], *, error: str, now: dt.datetime
) -> DispatchReport:
    report = DispatchReport()
    if not messages:
        return report
    logger.warning("channel %s unavailable for %d messages: %s", channel.code, len(messages), error)
    max_attempts = settings.SMS_DISPATCH_MAX_ATTEMPTS
    events = []
    for message in messages:
        attempt = message.dispatch_attempts  # the claim already counted this attempt
        message.updated_at = now
        if attempt >= max_attempts:
            message.status = MessageStatus.PROCESSING_FAILED
            message.reason = Reason.OTHER
            message.failure_detail = f"channel {channel.code} unavailable after {attempt} attempts: {error}"[
                :1000
            ]
            message.next_attempt_at = None
            report.processing_failed += 1
            events.append(
                MessageEvent(
                    message=message,
                    at=now,
                    kind=MessageEvent.Kind.CHECK_FAILED,
                    detail={"reason": Reason.OTHER, "cause": message.failure_detail, "attempt": attempt},
                )
            )
        else:
            message.next_attempt_at = now + retry_delay(attempt)
            report.retrying += 1
            if report.next_attempt_at is None or message.next_attempt_at < report.next_attempt_at:
                report.next_attempt_at = message.next_attempt_at
        events.append(
            MessageEvent(
                message=message,
                at=now,
                kind=MessageEvent.Kind.CHANNEL_ERROR,
                detail={
                    "channel": channel.code,
                    "attempt": attempt,
                    "error": error[:500],
                    "next_attempt_at": message.next_attempt_at.isoformat()
                    if message.next_attempt_at
                    else None,
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


def _queue_simulated_webhook(channel_id: int, kind: str, payload: dict) -> None:
    from delivery.tasks import simulator_webhook

    simulator_webhook.delay(channel_id, kind, payload)
