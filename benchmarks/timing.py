"""Measuring helpers for the benchmark commands."""

import statistics
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


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
        ms = sorted(s * 1000 for s in self.samples)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        return f"median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms (n={len(ms)})"


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
