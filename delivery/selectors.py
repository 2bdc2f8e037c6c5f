"""Reads of the delivery app, used by views, tasks and other apps."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from delivery.models import (
    FrequencyRule,
    KeywordFilter,
    Message,
    MessageCountChange,
    MessageCountDay,
    MessageCountHour,
    MessageCountStatusDay,
    MessageCountStatusHour,
    MessageEvent,
    MessageStatus,
    Reason,
    SmppErrorMapping,
    Template,
)
from intercepts.selectors import intercept_events_for_phone, intercept_rule_get
from replies.selectors import reply_list_for_phone, unsubscribe_list_for_phone
from smsconsole.caching import cached_or_read
from smsconsole.models import Account, SmsUser


def keyword_filter_version() -> tuple:
    """Changes whenever staff add, edit or remove a filter keyword."""
    return tuple(KeywordFilter.objects.aggregate(n=Count("id"), latest=Max("updated_at")).values())


def keyword_filter_words() -> list[str]:
    return list(KeywordFilter.objects.filter(is_active=True).values_list("word", flat=True))


def frequency_rules_for(*, account_ids) -> dict[int, list[tuple[int, int]]]:
    """(window_seconds, max_messages) per account: its own rules if it has any, else the defaults."""
    own: dict[int, list[tuple[int, int]]] = {}
    defaults: list[tuple[int, int]] = []
    rules = FrequencyRule.objects.filter(account_id__in=account_ids) | FrequencyRule.objects.filter(
        account__isnull=True
    )
    for account_id, window, limit in rules.values_list("account_id", "window_seconds", "max_messages"):
        (own.setdefault(account_id, []) if account_id else defaults).append((window, limit))
    return {account_id: own.get(account_id, defaults) for account_id in account_ids}


# A message handed to the channel within a window may have been requested earlier (it waited for a
# channel that was down). Messages older than this slack before the window cannot count.
HANDED_LOOKBACK_SLACK = dt.timedelta(days=2)


def handed_times(
    *, pairs: set[tuple[int, str]], since: dt.datetime
) -> dict[tuple[int, str], list[dt.datetime]]:
    """When each (account, phone) was handed to a channel since `since`."""
    if not pairs:
        return {}
    phones = {phone for _, phone in pairs}
    rows = Message.objects.filter(
        phone__in=phones,
        account_id__in={account_id for account_id, _ in pairs},
        requested_at__gte=since - HANDED_LOOKBACK_SLACK,
        channel_delivered_at__gte=since,
    ).values_list("account_id", "phone", "channel_delivered_at")
    handed: dict[tuple[int, str], list[dt.datetime]] = {}
    for account_id, phone, at in rows:
        if (account_id, phone) in pairs:
            handed.setdefault((account_id, phone), []).append(at)
    return handed


def smpp_mappings() -> dict[tuple[str, str], int | None]:
    return {(m.stat, m.err): m.return_code for m in SmppErrorMapping.objects.all()}


# --- Console reads -------------------------------------------------------------------------------


def message_list(*, account: Account) -> QuerySet[Message]:
    """An account's messages with what the status list shows; filter and order it further."""
    return Message.objects.filter(account=account).select_related("sms_user", "template")


def message_get(*, account: Account, message_id: int) -> Message | None:
    """One of the account's messages, or None (another account's id is as absent as a missing one)."""
    return message_list(account=account).select_related("channel").filter(pk=message_id).first()


def message_events(*, message: Message) -> list[MessageEvent]:
    """The message's send log in the order it happened: by time, then by the order it was written."""
    return list(MessageEvent.objects.filter(message=message).order_by("at", "id"))


def message_status_counts(
    *,
    account: Account,
    phone: str = "",
    template_type: str = "",
    tag: str = "",
    sms_user: SmsUser | None = None,
    requested_from: dt.datetime | None = None,
    requested_to: dt.datetime | None = None,
) -> list[dict]:
    """How many of the account's messages, requested in the period, have each (status, reason).

    Exact, in one statement (one snapshot): whole UTC days and hours from the count rollups (with
    the changes not folded yet), the minutes before the first whole hour and after the last from
    the messages themselves. A phone number's messages are counted directly: they are few.
    Rows: {"status", "reason", "count"}, largest first; empty pairs are left out."""
    dimensions = {"account": account}
    if template_type:
        dimensions["template_type"] = template_type
    if tag:
        dimensions["tag"] = tag
    if sms_user is not None:
        dimensions["sms_user"] = sms_user
    messages = Message.objects.filter(**dimensions)
    if requested_from is not None:
        messages = messages.filter(requested_at__gte=requested_from)
    if requested_to is not None:
        messages = messages.filter(requested_at__lte=requested_to)
    if phone:
        parts = [_message_counts(messages.filter(phone=phone))]
    else:
        parts = _rollup_parts(dimensions, messages, start=requested_from, end=requested_to)
    rows = _sum_parts(parts)
    return sorted(rows, key=lambda row: (-row["count"], row["status"], row["reason"]))


HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def _floor(at: dt.datetime, *, to_day: bool = False) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    floored = at.replace(minute=0, second=0, microsecond=0)
    return floored.replace(hour=0) if to_day else floored


def _ceil(at: dt.datetime, *, to_day: bool = False) -> dt.datetime:
    floored = _floor(at, to_day=to_day)
    return floored if floored == at else floored + (DAY if to_day else HOUR)


def _rollup_parts(dimensions: dict, messages: QuerySet, *, start, end) -> list[QuerySet]:
    # [start, first_hour) and [last_hour, end] from the messages; whole hours in between from the
    # rollups (None: unbounded).
    first_hour = _ceil(start) if start is not None else None
    last_hour = _floor(end) if end is not None else None
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return [_message_counts(messages)]  # within one hour
    parts = []
    if start is not None and start < first_hour:
        parts.append(_message_counts(messages.filter(requested_at__lt=first_hour)))
    if end is not None:
        parts.append(_message_counts(messages.filter(requested_at__gte=last_hour)))
    first_day = _ceil(first_hour, to_day=True) if first_hour is not None else None
    last_day = _floor(last_hour, to_day=True) if last_hour is not None else None
    # Without a filter dimension, the rollups by status and reason alone: far fewer rows.
    is_unfiltered = set(dimensions) == {"account"}
    hours = (MessageCountStatusHour if is_unfiltered else MessageCountHour).objects.filter(**dimensions)
    if first_day is None or last_day is None or first_day < last_day:
        days = (MessageCountStatusDay if is_unfiltered else MessageCountDay).objects.filter(**dimensions)
        parts.append(_rollup_counts(days, "day_start_at", first_day, last_day))
        if first_hour is not None and first_hour < first_day:
            parts.append(_rollup_counts(hours, "hour_start_at", first_hour, first_day))
        if last_hour is not None and last_day < last_hour:
            parts.append(_rollup_counts(hours, "hour_start_at", last_day, last_hour))
    else:
        parts.append(_rollup_counts(hours, "hour_start_at", first_hour, last_hour))
    changes = MessageCountChange.objects.filter(**dimensions)
    parts.append(_rollup_counts(changes, "hour_start_at", first_hour, last_hour))
    return parts


def _rollup_counts(rows: QuerySet, field: str, start, end) -> QuerySet:
    if start is not None:
        rows = rows.filter(**{f"{field}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{field}__lt": end})
    return rows.order_by().values_list("status", "reason").annotate(count=Sum("count"))


def _message_counts(messages: QuerySet) -> QuerySet:
    return messages.order_by().values_list("status", "reason").annotate(count=Count("id"))


def _sum_parts(parts: list[QuerySet]) -> list[dict]:
    branches, params = [], []
    for part in parts:
        sql, part_params = part.query.sql_with_params()
        branches.append(f"SELECT * FROM ({sql}) AS part")  # SQLite takes GROUP BY members this way
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, reason, SUM(count) FROM ({' UNION ALL '.join(branches)}) AS parts"
            " GROUP BY status, reason",
            params,
        )
        return [
            {"status": status, "reason": reason, "count": int(count)}
            for status, reason, count in cursor.fetchall()
            if count
        ]


# How many recent messages the tag suggestions look at: a DISTINCT over all of an account's
# messages would read millions of rows, the newest few thousand hold the tags in use.
TAG_SUGGESTION_WINDOW = 5000
# Reading those rows cost a list page ~10 ms; suggestions a few minutes old serve as well.
TAG_SUGGESTION_SECONDS = 300


def message_tag_suggestions(*, account: Account) -> list[str]:
    """Tags of the account's recent messages, for the tag filter's suggestions (kept 5 minutes)."""

    def read():
        recent = Message.objects.filter(account=account).order_by("-requested_at", "-id")
        tags = recent.values_list("tag", flat=True)[:TAG_SUGGESTION_WINDOW]
        return sorted({tag for tag in tags if tag})

    return cached_or_read(f"message-tag-suggestions:{account.pk}", read, TAG_SUGGESTION_SECONDS)


@dataclass(frozen=True)
class FailureAdvice:
    is_permanent: bool
    suggested_action: str


_PROCESSING_ADVICE = {
    Reason.GLOBAL_INTERCEPT: (
        False,
        _("The number is on the global intercept list. Sends fail until the record expires."),
    ),
    Reason.LOCAL_INTERCEPT: (
        False,
        _("The number is on your intercept list. Delete the record if the number works again."),
    ),
    Reason.UNSUBSCRIBED: (True, _("The recipient unsubscribed. Do not send to this number again.")),
    Reason.KEYWORD_FILTERED: (True, _("The content contains a filtered keyword. Change the content.")),
    Reason.VARIABLE_ERROR: (True, _("A template variable was missing or invalid. Fix the variables.")),
    Reason.CONTENT_NONCOMPLIANT: (True, _("The content is not allowed. Change the template or content.")),
    Reason.FREQUENCY_EXCEEDED: (False, _("Too many messages to this number. Retry later.")),
    Reason.OTHER: (False, _("Retry later; contact support if it keeps failing.")),
}


def message_failure_advice(*, message: Message) -> FailureAdvice | None:
    """Whether a failed message's reason is permanent or worth retrying, and what to do about it."""
    if message.status == MessageStatus.PROCESSING_FAILED:
        is_permanent, action = _PROCESSING_ADVICE.get(message.reason, _PROCESSING_ADVICE[Reason.OTHER])
        return FailureAdvice(is_permanent=is_permanent, suggested_action=str(action))
    if message.status == MessageStatus.SEND_FAILED and message.return_code is not None:
        rule = intercept_rule_get(return_code=message.return_code)
        if rule is None:
            return FailureAdvice(is_permanent=False, suggested_action="")
        return FailureAdvice(is_permanent=rule.is_permanent_failure, suggested_action=rule.suggested_action)
    return None


def message_unmatchable_notice(*, message: Message, events: list[MessageEvent]) -> str | None:
    """Why a message its channel has will never get a receipt, when that is so; else None."""
    if message.status != MessageStatus.AWAITING_RECEIPT or message.channel_message_id:
        return None
    if any(event.kind == MessageEvent.Kind.OUTCOME_UNKNOWN for event in events):
        return str(
            _(
                "Outcome unknown: the carrier has this message, but the platform could not record the "
                "carrier's answer, so no delivery receipt can update this status. It was not sent again, "
                "so that the recipient does not get it twice, and it may well have been delivered. "
                "Contact support before sending it again."
            )
        )
    return str(
        _(
            "The carrier accepted this message without an id the platform can match its receipts by, so "
            "no delivery receipt can update this status. It was not sent again, so that the recipient "
            "does not get it twice. Contact support before sending it again."
        )
    )


@dataclass(frozen=True)
class ThreadEntry:
    at: object
    kind: str  # "message", "receipt", "reply", "intercept", "unsubscribe"
    item: object


# A number's thread is short in practice (frequency rules cap sends); the cap keeps a
# pathological number from rendering an unbounded page.
THREAD_LIMIT = 500


def number_thread(*, account: Account, phone: str) -> list[ThreadEntry] | None:
    """Everything that happened between the account and one number, oldest first.

    None when the account has nothing to do with the number, so a stranger's number is a 404.
    """
    messages = list(
        Message.objects.filter(account=account, phone=phone)
        .select_related("template", "sms_user")
        .order_by("-requested_at", "-id")[:THREAD_LIMIT]
    )
    replies = reply_list_for_phone(account=account, phone=phone, limit=THREAD_LIMIT)
    unsubscribes = unsubscribe_list_for_phone(account=account, phone=phone)
    intercept_events = intercept_events_for_phone(account=account, phone=phone, limit=THREAD_LIMIT)
    own_intercept_events = [event for event in intercept_events if event.account_id == account.pk]
    if not (messages or replies or unsubscribes or own_intercept_events):
        return None
    entries = [ThreadEntry(message.requested_at, "message", message) for message in messages]
    receipts = MessageEvent.objects.filter(
        message__in=[message.pk for message in messages], kind=MessageEvent.Kind.RECEIPT
    ).order_by("at", "id")
    entries += [ThreadEntry(event.at, "receipt", event) for event in receipts]
    entries += [ThreadEntry(reply.received_at, "reply", reply) for reply in replies]
    entries += [ThreadEntry(event.at, "intercept", event) for event in intercept_events]
    entries += [ThreadEntry(item.created_at, "unsubscribe", item) for item in unsubscribes]
    entries.sort(key=lambda entry: entry.at)
    return entries


def message_get_for_api(*, account, message_id: int) -> Message:
    """One of the account's messages with its send log; another account's id is a 404."""
    return get_object_or_404(
        Message.objects.filter(account=account)
        .select_related("sms_user", "template", "channel")
        .prefetch_related(Prefetch("events", queryset=MessageEvent.objects.order_by("at", "id"))),
        pk=message_id,
    )


# --- The status page's channel trouble banner -----------------------------------------------------
CHANNEL_TROUBLE_WINDOW = dt.timedelta(minutes=15)
# The status page is a hot path: the banner reads at most this many of the newest messages of each
# kind below (index range scans on msg_status_time) and their send logs, whatever the backlog.
CHANNEL_TROUBLE_SCAN = 200


@dataclass(frozen=True)
class ChannelTrouble:
    """Failed hand-overs of an account's messages in the last CHANNEL_TROUBLE_WINDOW."""

    failed_count: int
    is_capped: bool  # at least this many: only the newest messages were looked at
    last_failed_at: dt.datetime
    channels: tuple[str, ...]
    last_success_at: dt.datetime | None

    @property
    def has_recovered(self) -> bool:
        return self.last_success_at is not None and self.last_success_at > self.last_failed_at


def channel_trouble(*, account: Account, now: dt.datetime) -> ChannelTrouble | None:
    """Whether hand-overs of the account's messages to its channel failed in the last 15 minutes
    (channel_error in their send logs), with the time of its latest successful hand-over; else None.

    A failed hand-over leaves its message requesting (retried with backoff) or, after the last
    attempt, failed as `other`; the newest of each are read, so a long outage still shows while
    the scan stays bounded."""
    since = now - CHANNEL_TROUBLE_WINDOW
    candidates, is_capped = [], False
    for status, reason in ((MessageStatus.REQUESTING, ""), (MessageStatus.PROCESSING_FAILED, Reason.OTHER)):
        newest = list(
            Message.objects.filter(account=account, status=status, reason=reason)
            .order_by("-requested_at", "-id")
            .values_list("pk", "updated_at")[:CHANNEL_TROUBLE_SCAN]
        )
        recent = [pk for pk, updated_at in newest if updated_at >= since]
        candidates += recent
        # Every row read was recent and there may be more behind them: the count is a floor.
        is_capped |= len(newest) == CHANNEL_TROUBLE_SCAN and len(recent) == len(newest)
    if not candidates:
        return None
    errors = list(
        MessageEvent.objects.filter(
            message_id__in=candidates, kind=MessageEvent.Kind.CHANNEL_ERROR, at__gte=since
        ).values_list("at", "detail")
    )
    if not errors:
        return None
    return ChannelTrouble(
        failed_count=len(errors),
        is_capped=is_capped,
        last_failed_at=max(at for at, _ in errors),
        channels=tuple(sorted({str(detail.get("channel", "")) for _, detail in errors} - {""})),
        last_success_at=_last_hand_over(account=account),
    )


def _last_hand_over(*, account: Account) -> dt.datetime | None:
    # The newest messages awaiting their receipt or delivered, by request time, hold the latest
    # hand-over; a few dozen of each stay a short index range scan.
    latest = None
    for status in (MessageStatus.AWAITING_RECEIPT, MessageStatus.DELIVERED):
        times = (
            Message.objects.filter(account=account, status=status, reason="")
            .order_by("-requested_at", "-id")
            .values_list("channel_delivered_at", flat=True)[:50]
        )
        for at in times:
            if at is not None and (latest is None or at > latest):
                latest = at
    return latest


def template_list(*, account: Account) -> QuerySet[Template]:
    """The account's templates, by name (what a template dropdown offers)."""
    return Template.objects.filter(account=account).order_by("name")
