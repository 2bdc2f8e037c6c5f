"""Folding the count changes the triggers append into the hour and day counts (and the dashboard's
hour counts by status).

The counts are exact without this (readers add the pending changes); folding keeps the number of
rows a count reads small. See `delivery.models.MessageCountFields`."""

import logging
from dataclasses import dataclass

from django.db import connection, transaction

from smsconsole.locks import advisory_locks_try

logger = logging.getLogger(__name__)

DIMENSIONS = "account_id, status, reason, template_type, tag, sms_user_id"
CONFLICT_KEY = f"({DIMENSIONS.replace('account_id, ', 'account_id, {period}, ')})"
# The dashboard's narrower hour counts (MessageCountStatusHour): the same changes, by status and
# reason alone.
STATUS_HOUR_KEY = "(account_id, hour_start_at, status, reason)"
# And by day: the status list's counts without a filter dimension (MessageCountStatusDay).
STATUS_DAY_KEY = "(account_id, day_start_at, status, reason)"
# Changes folded per transaction: a backlog (after a bulk load) is folded in short transactions.
COMPACT_BATCH = 50_000

# One statement, so one snapshot: the changes it deletes are exactly the ones it adds, even while
# triggers append new ones. Rows are upserted in key order, so two foldings never deadlock.
POSTGRESQL_FOLD = f"""
WITH moved AS (
    DELETE FROM delivery_messagecountchange
    WHERE id IN (SELECT id FROM delivery_messagecountchange ORDER BY id LIMIT %s)
    RETURNING hour_start_at, {DIMENSIONS}, count
), summed AS (
    SELECT hour_start_at, {DIMENSIONS}, sum(count) AS count FROM moved
    GROUP BY hour_start_at, {DIMENSIONS} HAVING sum(count) <> 0
), hours AS (
    INSERT INTO delivery_messagecounthour (hour_start_at, {DIMENSIONS}, count)
    SELECT hour_start_at, {DIMENSIONS}, count FROM summed ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT {CONFLICT_KEY.format(period="hour_start_at")}
    DO UPDATE SET count = delivery_messagecounthour.count + EXCLUDED.count
    RETURNING 1
), days AS (
    INSERT INTO delivery_messagecountday (day_start_at, {DIMENSIONS}, count)
    SELECT date_trunc('day', hour_start_at, 'UTC'), {DIMENSIONS}, sum(count) FROM summed
    GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(count) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT {CONFLICT_KEY.format(period="day_start_at")}
    DO UPDATE SET count = delivery_messagecountday.count + EXCLUDED.count
    RETURNING 1
), status_days AS (
    INSERT INTO delivery_messagecountstatusday (account_id, day_start_at, status, reason, count)
    SELECT account_id, date_trunc('day', hour_start_at, 'UTC'), status, reason, sum(count) FROM summed
    GROUP BY 1, 2, 3, 4 HAVING sum(count) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT {STATUS_DAY_KEY}
    DO UPDATE SET count = delivery_messagecountstatusday.count + EXCLUDED.count
    RETURNING 1
), status_hours AS (
    INSERT INTO delivery_messagecountstatushour (account_id, hour_start_at, status, reason, count)
    SELECT account_id, hour_start_at, status, reason, sum(count) FROM summed
    GROUP BY 1, 2, 3, 4 HAVING sum(count) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT {STATUS_HOUR_KEY}
    DO UPDATE SET count = delivery_messagecountstatushour.count + EXCLUDED.count
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM hours), (SELECT count(*) FROM days),
    (SELECT count(*) FROM status_hours), (SELECT count(*) FROM status_days)
"""

# SQLite: the first write takes the database's only write lock until commit, so the statements
# of one transaction see the same changes. ("WHERE true" lets SQLite parse an upsert from SELECT.)
SQLITE_FOLD = [
    f"""INSERT INTO delivery_messagecounthour (hour_start_at, {DIMENSIONS}, count)
    SELECT hour_start_at, {DIMENSIONS}, sum(count) FROM delivery_messagecountchange WHERE id <= %s
    GROUP BY hour_start_at, {DIMENSIONS} HAVING sum(count) <> 0
    ON CONFLICT {CONFLICT_KEY.format(period="hour_start_at")}
    DO UPDATE SET count = delivery_messagecounthour.count + excluded.count""",
    f"""INSERT INTO delivery_messagecountday (day_start_at, {DIMENSIONS}, count)
    SELECT substr(hour_start_at, 1, 10) || ' 00:00:00', {DIMENSIONS}, sum(count)
    FROM delivery_messagecountchange WHERE id <= %s
    GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(count) <> 0
    ON CONFLICT {CONFLICT_KEY.format(period="day_start_at")}
    DO UPDATE SET count = delivery_messagecountday.count + excluded.count""",
    f"""INSERT INTO delivery_messagecountstatushour (account_id, hour_start_at, status, reason, count)
    SELECT account_id, hour_start_at, status, reason, sum(count)
    FROM delivery_messagecountchange WHERE id <= %s
    GROUP BY 1, 2, 3, 4 HAVING sum(count) <> 0
    ON CONFLICT {STATUS_HOUR_KEY}
    DO UPDATE SET count = delivery_messagecountstatushour.count + excluded.count""",
    f"""INSERT INTO delivery_messagecountstatusday (account_id, day_start_at, status, reason, count)
    SELECT account_id, substr(hour_start_at, 1, 10) || ' 00:00:00', status, reason, sum(count)
    FROM delivery_messagecountchange WHERE id <= %s
    GROUP BY 1, 2, 3, 4 HAVING sum(count) <> 0
    ON CONFLICT {STATUS_DAY_KEY}
    DO UPDATE SET count = delivery_messagecountstatusday.count + excluded.count""",
    "DELETE FROM delivery_messagecountchange WHERE id <= %s",
]

# Messages purged by retention leave their days at zero.
DROP_ZEROS = [
    "DELETE FROM delivery_messagecounthour WHERE count = 0",
    "DELETE FROM delivery_messagecountday WHERE count = 0",
    "DELETE FROM delivery_messagecountstatushour WHERE count = 0",
    "DELETE FROM delivery_messagecountstatusday WHERE count = 0",
]


@dataclass
class CompactReport:
    changes_folded: int = 0
    is_skipped: bool = False  # another worker was folding


def message_counts_compact(*, batch: int = COMPACT_BATCH) -> CompactReport:
    """Fold every pending count change into the hour and day counts, `batch` changes a transaction."""
    report = CompactReport()
    with advisory_locks_try(["message-counts-compact"]) as taken:
        if not taken:
            report.is_skipped = True
            return report
        while True:
            with transaction.atomic():
                folded = _fold(batch)
                if folded:
                    with connection.cursor() as cursor:
                        for statement in DROP_ZEROS:
                            cursor.execute(statement)
            report.changes_folded += folded
            if folded < batch:
                break
    if report.changes_folded:
        logger.info("folded %d message count changes", report.changes_folded)
        _vacuum()
    return report


ROLLUP_TABLES = (
    "delivery_messagecountchange",
    "delivery_messagecounthour",
    "delivery_messagecountday",
    "delivery_messagecountstatushour",
    "delivery_messagecountstatusday",
)


def _vacuum() -> None:
    # Every fold deletes the changes and rewrites the hours it touched: without a VACUUM (and
    # autovacuum may be off, or slow to visit) the dead rows pile up under every count's read.
    # On these small tables it takes milliseconds. Not possible inside a transaction (a test's).
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (SKIP_LOCKED) {', '.join(ROLLUP_TABLES)}")


def _fold(batch: int) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL_FOLD, [batch])
            return cursor.fetchone()[0]
        cursor.execute(
            "SELECT max(id), count(*) FROM (SELECT id FROM delivery_messagecountchange ORDER BY id LIMIT %s)",
            [batch],
        )
        last_id, folded = cursor.fetchone()
        if not folded:
            return 0
        for statement in SQLITE_FOLD:
            cursor.execute(statement, [last_id])
        return folded
