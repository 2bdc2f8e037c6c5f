"""The eight platform checks, in DESIGN.md order, for one claimed batch, and recording their failures."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from delivery.content import keyword_matcher
from delivery.models import Message, MessageEvent, MessageStatus, Reason
from delivery.selectors import frequency_rules_for, handed_times
from intercepts.models import Scope
from intercepts.selectors import blocking_intercepts
from replies.selectors import unsubscribed_pairs
from smsconsole.bulk import rows_update

MAX_SEGMENTS = 10


@dataclass(frozen=True)
class CheckFailure:
    reason: str
    detail: dict
    blocking_intercept_id: int | None = None


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
            return CheckFailure(Reason.OTHER, {"problem": "account_suspended", "cause": "account suspended"})
        if channel is None:
            return CheckFailure(
                Reason.OTHER, {"problem": "no_channel", "cause": "no channel configured for the account"}
            )
        if not channel.is_active:
            return CheckFailure(
                Reason.OTHER, {"problem": "channel_inactive", "cause": f"channel {channel.code} is inactive"}
            )
        return None


def check_failures_record(failed: list[tuple[Message, CheckFailure]], *, now: dt.datetime) -> None:
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
    if "cause" in detail:
        return detail["cause"]
    if "problem" in detail:
        return detail["problem"].replace("_", " ")
    if "window_seconds" in detail:
        return (
            f"{detail['sent_in_window']} sent in {detail['window_seconds']} s (max {detail['max_messages']})"
        )
    if "intercept_id" in detail:
        return f"intercept #{detail['intercept_id']} (code {detail['return_code']})"
    return ""
