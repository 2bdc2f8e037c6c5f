"""Measure tidying away expired intercepts on PostgreSQL: total time and the longest statement.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench .venv/bin/python manage.py bench_expiry --expired 1000000
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from benchmarks.timing import require_postgresql
from intercepts.models import Intercept
from intercepts.services import intercepts_expire
from smsconsole.models import Account


class StatementTimer:
    """Times each statement run through it (`connection.execute_wrapper(timer)`): DELETEs only, or all."""

    def __init__(self, *, deletes_only: bool = True):
        self.deletes_only = deletes_only
        self.durations: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if not self.deletes_only or sql.lstrip().upper().startswith("DELETE"):
                self.durations.append(time.perf_counter() - start)


class Command(BaseCommand):
    help = "Benchmark the intercept expiry job (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--expired", type=int, default=1_000_000)
        parser.add_argument("--live", type=int, default=100_000)

    def handle(self, *args, expired, live, **options):
        require_postgresql(self)
        account, _ = Account.objects.get_or_create(slug="bench-expiry", defaults={"name": "Expiry benchmark"})
        grace = settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO intercepts_intercept (phone, scope, account_id, return_code, reason, intercepted_at, expires_at, updated_at)
                SELECT '+8160' || lpad(g::text, 8, '0'), 'local', %s, 520, 'BLACKLISTED',
                       now() - interval '60 days', now() - make_interval(days => %s + 1) - random() * interval '10 days', now()
                FROM generate_series(1, %s) AS g
                ON CONFLICT DO NOTHING
                """,
                [account.pk, grace, expired],
            )
            cursor.execute(
                """
                INSERT INTO intercepts_intercept (phone, scope, account_id, return_code, reason, intercepted_at, expires_at, updated_at)
                SELECT '+8161' || lpad(g::text, 8, '0'), 'local', %s, 520, 'BLACKLISTED', now(), now() + interval '1 hour', now()
                FROM generate_series(1, %s) AS g
                ON CONFLICT DO NOTHING
                """,
                [account.pk, live],
            )
            cursor.execute("ANALYZE intercepts_intercept")
        before = Intercept.objects.count()
        timer = StatementTimer()
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            deleted = intercepts_expire()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"expiry: deleted {deleted:,} of {before:,} intercepts in {elapsed:.2f} s "
            f"({len(timer.durations)} statements, longest {max(timer.durations) * 1000:.0f} ms); "
            f"{Intercept.objects.count():,} left"
        )
        started = time.perf_counter()
        intercepts_expire()
        self.stdout.write(f"expiry with nothing to do: {(time.perf_counter() - started) * 1000:.1f} ms")
