"""Measuring helpers for the benchmark commands.

A Stopwatch's first lap is reported apart as the cold run (empty caches, plans not yet made, the
page not yet in shared buffers); median, p95 and max are over the warm laps that follow it. p95 is
the nearest-rank percentile: the ⌈0.95·n⌉-th smallest of n laps, so of 19 warm laps the 19th (the
slowest), of 20 the 19th (the second slowest), of 100 the 95th.
"""

import math
import statistics
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction


class Stopwatch:
    def __init__(self):
        self.samples: list[float] = []

    @contextmanager
    def lap(self):
        start = time.perf_counter()
        yield
        self.samples.append(time.perf_counter() - start)

    @property
    def total(self) -> float:
        return sum(self.samples)

    def summary_ms(self) -> str:
        """`cold …; warm median …, p95 …, max … (n=…)`; a single lap is only a cold run."""
        if not self.samples:
            return "no runs"
        cold, warm = self.samples[0] * 1000, sorted(s * 1000 for s in self.samples[1:])
        if not warm:
            return f"cold {cold:.2f} ms (n=1, no warm run)"
        return (
            f"cold {cold:.2f} ms; warm median {statistics.median(warm):.2f} ms, "
            f"p95 {nearest_rank(warm, 95):.2f} ms, max {warm[-1]:.2f} ms (n={len(warm)})"
        )


def nearest_rank(values: list[float], percentile: float) -> float:
    """The nearest-rank percentile of `values`: the ⌈p/100·n⌉-th smallest (1-based)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


def require_postgresql(command) -> None:
    """Refuse to measure anything but PostgreSQL, and measure it as production runs it."""
    # With DEBUG on, Django renders and keeps every query it runs: that would be what we measured.
    settings.DEBUG = False
    if connection.vendor != "postgresql":
        command.stderr.write(
            "Benchmarks are meant for PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench"
        )
        raise SystemExit(2)


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def table_sizes(tables: list[str]) -> str:
    """`table: rows, heap size, with indexes` for each table (PostgreSQL's own size functions)."""
    parts = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT reltuples::bigint, pg_size_pretty(pg_relation_size(%s::regclass)), "
                "pg_size_pretty(pg_total_relation_size(%s::regclass)) FROM pg_class WHERE oid = %s::regclass",
                [table, table, table],
            )
            rows, heap, total = cursor.fetchone()
            parts.append(f"{table} ~{max(rows, 0):,} rows, {heap} ({total} with indexes)")
    return "; ".join(parts)


class QueryTimer:
    """Wall time spent inside database calls, for `connection.execute_wrapper(timer)`: what a page
    spends beyond it is Python (the view, the table, the template)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start


def warm_ms(watch: Stopwatch) -> tuple[float, float]:
    """Median and nearest-rank p95 in ms of a Stopwatch's warm laps (its one cold lap if it has no other)."""
    laps = watch.samples[1:] or watch.samples
    if not laps:
        raise ValueError("no runs")
    ms = [s * 1000 for s in laps]
    return statistics.median(ms), nearest_rank(ms, 95)


@contextmanager
def rolled_back():
    """Run the block in a transaction (a savepoint when already inside one) and roll it back at its
    end, so what it wrote is gone; an exception rolls it back as well. Sequences still advance."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class StatementRecorder:
    """Keeps each statement run through it (`connection.execute_wrapper(recorder)`), to run the same
    SQL again bare (`replay`): no ORM, no model instances, only the database and the driver."""

    def __init__(self):
        self.statements: list[tuple[str, object, bool]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params, many))
        return execute(sql, params, many, context)

    def replay(self) -> None:
        with connection.cursor() as cursor:
            for sql, params, many in self.statements:
                if many:
                    cursor.executemany(sql, params)
                    continue
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()
