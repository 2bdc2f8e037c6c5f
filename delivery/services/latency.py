"""The dashboard's latency histograms (MessageLatencyDay), recomputed from the messages.

A message is counted on the UTC day it was requested, so a day's histogram changes only while its
messages are still being handed over and receipted: the job recomputes the last
LATENCY_RECOMPUTE_DAYS days (a receipt later than that is not counted) and leaves older days as
they are. An account's first run fills the whole retention window."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from delivery.latency import bucket_sql
from delivery.models import LatencyStage, MessageLatencyDay
from smsconsole import clock
from smsconsole.models import Account

logger = logging.getLogger(__name__)

LATENCY_RECOMPUTE_DAYS = 2


def _seconds_between(start: str, end: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    return f"(julianday({end}) - julianday({start})) * 86400.0"  # SQLite: datetimes are UTC text


def _rollup_sql() -> str:
    if connection.vendor == "postgresql":
        day = "date_trunc('day', requested_at, 'UTC')"
    else:
        day = "substr(requested_at, 1, 10) || ' 00:00:00'"
    stages = [
        (LatencyStage.HAND_OVER, "requested_at", "channel_delivered_at"),
        (LatencyStage.RECEIPT, "channel_delivered_at", "receipt_at"),
    ]
    branches = [
        f"""SELECT account_id, requested_at, channel_id, template_id, '{stage.value}' AS stage,
            {bucket_sql(_seconds_between(start, end))} AS bucket
        FROM delivery_message
        WHERE account_id = %s AND requested_at >= %s AND channel_id IS NOT NULL
            AND {start} IS NOT NULL AND {end} IS NOT NULL"""
        for stage, start, end in stages
    ]
    return f"""INSERT INTO delivery_messagelatencyday
        (account_id, day_start_at, channel_id, template_id, stage, bucket, count)
    SELECT account_id, {day}, channel_id, template_id, stage, bucket, count(*)
    FROM ({" UNION ALL ".join(branches)}) AS timed
    GROUP BY 1, 2, 3, 4, 5, 6"""


@dataclass
class LatencyRollupReport:
    accounts: int = 0
    rows: int = 0


def message_latency_rollup(*, days: int = LATENCY_RECOMPUTE_DAYS) -> LatencyRollupReport:
    """Recompute every account's latency histograms of the last `days` UTC days (the whole retention
    window for an account that has none yet), one transaction per account; drop days past retention."""
    report = LatencyRollupReport()
    today = clock.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    retention_days = settings.SMS_RETENTION_DAYS + 1
    MessageLatencyDay.objects.filter(day_start_at__lt=today - dt.timedelta(days=retention_days)).delete()
    for account_id in Account.objects.order_by("pk").values_list("pk", flat=True):
        rows = MessageLatencyDay.objects.filter(account_id=account_id)
        since = today - dt.timedelta(days=(days if rows.exists() else retention_days) - 1)
        adapted = connection.ops.adapt_datetimefield_value(since)
        with transaction.atomic():
            rows.filter(day_start_at__gte=since).delete()
            with connection.cursor() as cursor:
                cursor.execute(_rollup_sql(), [account_id, adapted, account_id, adapted])
                report.rows += max(cursor.rowcount, 0)
        report.accounts += 1
    logger.info("latency histograms: %d rows for %d accounts", report.rows, report.accounts)
    return report
