"""Reads for the delivery dashboard: per-day counts, delivery rate, failure reasons, latency and the
messages stuck awaiting their receipt, for one account (in its zone) or the platform (in UTC).

Every figure comes from a rollup, never from counting messages: the hour counts by status
(MessageCountStatusHour, plus the changes not folded yet, so the counts are exact), the latency
histograms (MessageLatencyDay) and, for one account's stuck messages, the minutes after the last
whole hour from the messages (a short range of the status index).
The hour counts are grouped into days of the zone in SQL. A zone whose offset is not a whole number
of hours (Asia/Kolkata, +05:30) gets each UTC hour in the day its start falls in, so its day
boundaries are off by that fraction of an hour."""

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse

from delivery.latency import histogram_add, percentile_ms
from delivery.models import (
    Channel,
    LatencyStage,
    Message,
    MessageCountChange,
    MessageCountStatusHour,
    MessageLatencyDay,
    MessageStatus,
    Template,
)
from smsconsole.models import Account

DASHBOARD_DAYS = 30
HOUR = dt.timedelta(hours=1)
# The filter inputs of the status list read this format (smsconsole.forms.DATETIME_INPUT_FORMATS);
# seconds included, so the list's period is exactly the one counted here.
LINK_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _floor_hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DashboardPeriod:
    """The last DASHBOARD_DAYS days of `zone`, today included: from the UTC hour at (or just before)
    the first day's midnight until `now`."""

    zone: ZoneInfo
    start_at: dt.datetime
    now: dt.datetime
    days: tuple[dt.date, ...]


def dashboard_period(*, zone: ZoneInfo, now: dt.datetime, days: int = DASHBOARD_DAYS) -> DashboardPeriod:
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days - 1)
    midnight = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    return DashboardPeriod(
        zone=zone,
        start_at=_floor_hour(midnight),
        now=now,
        days=tuple(first + dt.timedelta(days=n) for n in range(days)),
    )


@dataclass
class DayFigures:
    day: dt.date
    counts: dict[str, int] = field(default_factory=dict)  # status → messages
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, reason) → failed

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def delivery_rate(self) -> float | None:
        """delivered / (delivered + send_failed): of the messages a channel gave an outcome for, the
        share that reached the handset. None when there is none yet."""
        delivered = self.counts.get(MessageStatus.DELIVERED, 0)
        decided = delivered + self.counts.get(MessageStatus.SEND_FAILED, 0)
        return delivered / decided if decided else None


@dataclass(frozen=True)
class StuckReceipts:
    """Messages awaiting their receipt, requested in [requested_from, requested_to]."""

    count: int
    threshold_minutes: int
    requested_from: dt.datetime
    requested_to: dt.datetime
    list_url: str  # the status list filtered to them ("" platform-wide: the list is per account)


@dataclass
class LatencyFigures:
    """One channel's or template's latency: {stage: {bucket: count}} summed over the period."""

    label: str
    histograms: dict[str, dict[int, int]] = field(default_factory=dict)

    def count(self, stage: str) -> int:
        return sum(self.histograms.get(stage, {}).values())

    def median_ms(self, stage: str) -> float | None:
        return percentile_ms(self.histograms.get(stage, {}), 0.5)

    def p95_ms(self, stage: str) -> float | None:
        return percentile_ms(self.histograms.get(stage, {}), 0.95)


@dataclass(frozen=True)
class Dashboard:
    period: DashboardPeriod
    is_platform: bool
    days: list[DayFigures]
    reasons: list[tuple[str, str]]  # the (status, reason) pairs of the period, most failed first
    stuck: StuckReceipts
    latency_by_channel: list[LatencyFigures]
    latency_by_template: list[LatencyFigures]

    def status_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for day in self.days:
            for status, count in day.counts.items():
                totals[status] = totals.get(status, 0) + count
        return totals


def dashboard_get(*, account: Account | None, now: dt.datetime) -> Dashboard:
    """The dashboard of `account` in its zone, or (None) of the whole platform in UTC."""
    zone = account.zone if account is not None else ZoneInfo("UTC")
    period = dashboard_period(zone=zone, now=now)
    days = dashboard_days(account=account, period=period)
    reason_totals: dict[tuple[str, str], int] = {}
    for day in days:
        histogram_add(reason_totals, day.reasons.items())
    by_channel, by_template = dashboard_latency(account=account, period=period)
    return Dashboard(
        period=period,
        is_platform=account is None,
        days=days,
        reasons=sorted(reason_totals, key=lambda pair: (-reason_totals[pair], pair)),
        stuck=stuck_receipts(account=account, now=now, period=period),
        latency_by_channel=by_channel,
        latency_by_template=by_template,
    )


def _by_local_day(rows: QuerySet, *, account: Account | None, period: DashboardPeriod) -> QuerySet:
    rows = rows.filter(hour_start_at__gte=period.start_at, hour_start_at__lte=period.now)
    if account is not None:
        rows = rows.filter(account=account)
    return (
        rows.order_by()
        .annotate(day=TruncDate("hour_start_at", tzinfo=period.zone))
        .values_list("day", "status", "reason")
        .annotate(count=Sum("count"))
    )


def dashboard_days(*, account: Account | None, period: DashboardPeriod) -> list[DayFigures]:
    """Messages requested on each day of the period by status, and the failed ones by reason.

    One statement (one snapshot): the folded hour counts and the changes not folded yet."""
    parts = [
        _by_local_day(MessageCountStatusHour.objects.all(), account=account, period=period),
        _by_local_day(MessageCountChange.objects.all(), account=account, period=period),
    ]
    branches, params = [], []
    for part in parts:
        sql, part_params = part.query.sql_with_params()
        branches.append(f"SELECT * FROM ({sql}) AS part")
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, status, reason, SUM(count) FROM ({' UNION ALL '.join(branches)}) AS parts"
            " GROUP BY day, status, reason",
            params,
        )
        rows = cursor.fetchall()
    figures = {day: DayFigures(day=day) for day in period.days}
    for day, status, reason, count in rows:
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))  # SQLite: text
        if not count or day not in figures:
            continue
        figure = figures[day]
        figure.counts[status] = figure.counts.get(status, 0) + int(count)
        if reason:
            figure.reasons[(status, reason)] = figure.reasons.get((status, reason), 0) + int(count)
    return list(figures.values())


def stuck_receipts(
    *, account: Account | None, now: dt.datetime, period: DashboardPeriod | None = None
) -> StuckReceipts:
    """How many messages of the period still await their receipt SMS_STUCK_RECEIPT_MINUTES after
    their request. One account: exact to the second, the same count the linked status list shows.
    Platform-wide: from the hour counts, messages requested before the last whole hour that old."""
    minutes = settings.SMS_STUCK_RECEIPT_MINUTES
    if period is None:
        zone = account.zone if account is not None else ZoneInfo("UTC")
        period = dashboard_period(zone=zone, now=now)
    cutoff = (now - dt.timedelta(minutes=minutes)).replace(microsecond=0)
    if account is None:
        requested_to = _floor_hour(cutoff)
        rows = [
            model.objects.filter(
                status=MessageStatus.AWAITING_RECEIPT,
                hour_start_at__gte=period.start_at,
                hour_start_at__lt=requested_to,
            ).aggregate(count=Sum("count"))["count"]
            or 0
            for model in (MessageCountStatusHour, MessageCountChange)
        ]
        return StuckReceipts(
            count=sum(rows),
            threshold_minutes=minutes,
            requested_from=period.start_at,
            requested_to=requested_to,
            list_url="",
        )
    count = _awaiting_receipt_count(account=account, start=period.start_at, end=cutoff)
    query = urlencode(
        {
            "status": MessageStatus.AWAITING_RECEIPT,
            "requested_from": period.start_at.astimezone(account.zone).strftime(LINK_TIME_FORMAT),
            "requested_to": cutoff.astimezone(account.zone).strftime(LINK_TIME_FORMAT),
        }
    )
    return StuckReceipts(
        count=count,
        threshold_minutes=minutes,
        requested_from=period.start_at,
        requested_to=cutoff,
        list_url=f"{reverse('delivery:message-list')}?{query}",
    )


def _awaiting_receipt_count(*, account: Account, start: dt.datetime, end: dt.datetime) -> int:
    """Exactly how many of the account's messages requested in [start, end] await their receipt (as
    `message_status_counts` would say, reading only that status): whole hours from the status hour
    counts and the changes not folded yet, the minutes after the last whole hour from the messages,
    in one statement. `start` is on an hour."""
    last_hour = max(_floor_hour(end), start)
    awaiting = {"account": account, "status": MessageStatus.AWAITING_RECEIPT}
    parts = [
        model.objects.filter(**awaiting, hour_start_at__gte=start, hour_start_at__lt=last_hour)
        .order_by()
        .values("status")
        .annotate(count=Sum("count"))
        for model in (MessageCountStatusHour, MessageCountChange)
    ]
    parts.append(
        Message.objects.filter(**awaiting, reason="", requested_at__gte=last_hour, requested_at__lte=end)
        .order_by()
        .values("status")
        .annotate(count=Count("id"))
    )
    branches, params = [], []
    for part in parts:
        sql, part_params = part.query.sql_with_params()
        branches.append(f"SELECT * FROM ({sql}) AS part")
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(count) FROM ({' UNION ALL '.join(branches)}) AS parts", params)
        return int(cursor.fetchone()[0] or 0)


def dashboard_latency(
    *, account: Account | None, period: DashboardPeriod
) -> tuple[list[LatencyFigures], list[LatencyFigures]]:
    """Latency per channel and per template over the period's UTC days (the histograms are by UTC
    day of request, so the period's first day may reach a few hours further back), busiest first."""
    rows = MessageLatencyDay.objects.filter(day_start_at__gte=period.start_at.replace(hour=0))
    if account is not None:
        rows = rows.filter(account=account)
    rows = list(
        rows.order_by().values_list("channel", "template", "stage", "bucket").annotate(count=Sum("count"))
    )
    by_channel: dict[int, LatencyFigures] = {}
    by_template: dict[int, LatencyFigures] = {}
    channel_ids = {channel for channel, *_ in rows}
    template_ids = {template for _, template, *_ in rows}
    channels = dict(Channel.objects.filter(pk__in=channel_ids).values_list("pk", "code"))
    templates = Template.objects.filter(pk__in=template_ids)
    if account is not None:
        templates = templates.filter(account=account)
    template_labels = {
        pk: name if account is not None else f"{slug} / {name}"
        for pk, name, slug in templates.values_list("pk", "name", "account__slug")
    }
    for channel, template, stage, bucket, count in rows:
        for figures, key, label in (
            (by_channel, channel, channels.get(channel)),
            (by_template, template, template_labels.get(template)),
        ):
            if label is None:
                continue  # deleted since (or, defensively, another account's)
            entry = figures.setdefault(key, LatencyFigures(label=label))
            histogram_add(entry.histograms.setdefault(stage, {}), [(bucket, count)])

    def busiest_first(figures: dict[int, LatencyFigures]) -> list[LatencyFigures]:
        return sorted(figures.values(), key=lambda entry: (-entry.count(LatencyStage.HAND_OVER), entry.label))

    return busiest_first(by_channel), busiest_first(by_template)
