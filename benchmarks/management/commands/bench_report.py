"""Every hot path on the seeded database, each beside a raw-SQL reference on the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench .venv/bin/python manage.py bench_report --json
    DATABASE_URL=... .venv/bin/python manage.py bench_report --size small   # CI smoke: a table, quickly
    DATABASE_URL=... .venv/bin/python manage.py bench_report --profile dispatch   # where its time goes

One line per path: `{"path", "unit", "project", "raw", "p95_ms"}` with `--json`, a table without it.
`project` is what the project's own code does; `raw` is the least the database itself needs for the
same rows in the same run (null where there is no such reference); `p95_ms` is the nearest-rank p95
(`benchmarks.timing.nearest_rank`) of the path's calls, batches or page loads, the cold first run
left out wherever there are warm ones.

- receipts (receipts/s): `receipts.inbox_ingest` of N receipts (5% failures) for N awaiting messages,
  stored first as webhook bodies, drained one batch per call (p95: per batch); raw: one
  `UPDATE … FROM (VALUES …)` giving the same rows the same status, return code, receipt and update time.
- submit (messages/s): `submission.messages_submit`, 1,000 recipients a call, its dispatch queueing
  stubbed (p95: per call); raw: COPY of the same message rows, ids taken from their sequence, and
  of their send-log rows; messages (each with its log row) written per second.
- dispatch (messages/s): `dispatch.messages_dispatch`, 500 a call, to a simulator channel, its
  receipts webhook stubbed (p95: per call); raw: the same hand-over writes (status, channel, channel
  message id, times, attempt) in one UPDATE, and a COPY of the same send-log rows.
- csv (rows/s) and csv_first_row (ms): the status CSV of the big account over 30 days, streamed from
  the real view through django.test.Client as an operator of the account; raw: `COPY (the same
  SELECT: the export's columns, joins, filter and order) TO STDOUT`. Timestamps come out as
  PostgreSQL prints them and labels as their codes: the formatting is what the raw run leaves out.
  The console makes a filter this big a background job; the stream is measured with that limit
  lifted. csv_job (rows/s): the same export run as the worker runs the job, to a file.
- expiry (s) and expiry_longest_statement (ms): `intercepts_expire` on E expired intercepts beside
  E/10 live ones (p95: per DELETE statement); raw: one DELETE of the same rows.
- retention (s) and retention_longest_statement (ms): `retention_purge` of the oldest day (every
  account), its clock set a retention period past that day; rolled back. p95: per statement.
- status_list.<case>: the status list page (view, queries, template) for each filter of bench_lists,
  status_list.deep_page the page after a row 29 days back; status_counts.<case> the counts above the
  list (`message_status_counts`); intercepts, replies, numbers, message_page the other pages. Figures
  in ms: project the warm median, p95 the warm p95; raw the median of the same SQL run bare (the page's
  keyset query, or the counts' statements), null for the pages without a keyset list.
- admin.<case> (ms): Django admin's message changelist as staff see it: its 200th page (`?p=200`,
  beside the console's deep page: `admin.deep_page_vs_console` is how many times slower the admin
  is), and the search box given a phone number as typed (`090…`, read as E.164 onto the phone index).

Each write path runs in a transaction that is rolled back at its end, its project and raw runs each
in a savepoint rolled back in turn (the project first, then the raw reference on the same rows, so
the raw run starts with warm caches), so they leave no rows behind: only the id sequences have moved
on, and dead row versions are left for autovacuum. The pages and the export are read in autocommit,
as a request is served, by a temporary operator (`bench-report-…`, with its membership and session),
deleted at the end. Sizes: `--size full` (default) and `--size small` (SIZES below).
"""

import cProfile
import datetime as dt
import io
import json
import pstats
import random
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benchmarks.management.commands.bench_expiry import StatementTimer
from benchmarks.management.commands.bench_lists import _query
from benchmarks.management.commands.bench_pipeline import RETURN_CODES
from benchmarks.management.commands.bench_pipeline import Command as PipelineCommand
from benchmarks.timing import (
    QueryTimer,
    StatementRecorder,
    Stopwatch,
    nearest_rank,
    require_postgresql,
    rolled_back,
    warm_ms,
)
from delivery.filters import MessageFilter
from delivery.models import Channel, InboxItem, Message, MessageEvent, MessageStatus
from delivery.selectors import message_status_counts
from delivery.services import dispatch, receipts, retention, submission
from delivery.services.dispatch import handover
from delivery.services.setup import template_create
from delivery.views import MessageExportView
from intercepts.filters import InterceptFilter
from intercepts.models import Intercept
from intercepts.services import intercepts_expire
from replies.filters import ReplyFilter
from smsconsole import clock
from smsconsole.exports import export_job_delete, export_job_run
from smsconsole.models import Account, ExportJob, Membership
from smsconsole.pagination import KeysetPaginator
from smsconsole.services import account_create, sms_user_create

SUBMIT_PER_CALL = 1000
DISPATCH_PER_CALL = 500
HOST = {"HTTP_HOST": "127.0.0.1"}


@dataclass(frozen=True)
class Size:
    submit: int  # messages submitted, SUBMIT_PER_CALL a call
    dispatch: int  # messages dispatched, DISPATCH_PER_CALL a call
    receipts: int
    receipt_batch: int  # receipts per webhook body, and per ingestion batch
    csv_rows: int | None  # None: every row of the 30 days
    expired: int
    runs: int  # runs of each page and query, the first one cold


WRITE_PATHS = ["receipts", "submit", "dispatch"]

SIZES = {
    "full": Size(submit=20_000, dispatch=10_000, receipts=50_000, receipt_batch=5000, csv_rows=None,
                 expired=200_000, runs=21),
    "small": Size(submit=1000, dispatch=1000, receipts=2000, receipt_batch=1000, csv_rows=2000,
                  expired=5000, runs=3),
}  # fmt: skip

# The export's columns as the CSV has them (delivery.views.message_csv_columns), joins included.
# What receipts change on a message (delivery.services.receipts and .failures), keyed by its channel id.
RECEIPT_COLUMNS = [
    "channel_message_id", "status", "reason", "return_code", "failure_detail", "receipt_at", "updated_at",
]  # fmt: skip
CSV_FIELDS = [
    "pk", "status", "reason", "return_code", "sms_user__name", "segments", "phone", "template__name",
    "template_type", "tag", "requested_at", "channel_delivered_at", "receipt_at", "updated_at",
]  # fmt: skip


def list_cases(month: dict, sample: Message) -> list[tuple[str, dict]]:
    """bench_lists' filters of the status list, keyed for the report (the same order and values)."""
    sms_user = str(sample.sms_user_id)
    return [
        ("default", {}),
        ("30d", month),
        ("30d.phone", {**month, "phone": sample.phone}),
        ("30d.status_delivered", {**month, "status": "delivered"}),
        ("30d.send_failed_busy", {**month, "status": "send_failed", "reason": "busy"}),
        ("30d.reason_unsubscribed", {**month, "reason": "unsubscribed"}),
        ("30d.template_type", {**month, "template_type": "marketing"}),
        ("30d.tag", {**month, "tag": "shipping"}),
        ("30d.sms_user", {**month, "sms_user": sms_user}),
        ("30d.tag_nothing", {**month, "tag": "no-such-tag"}),
        ("30d.phone_nothing", {**month, "phone": "+819099999999"}),
        ("30d.every_filter", {**month, "status": "send_failed", "reason": "busy", "tag": "sale",
                              "template_type": "marketing", "sms_user": sms_user}),
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Every hot path beside a raw-SQL reference on the same rows (PostgreSQL, after bench_seed)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="One JSON object per line.")
        parser.add_argument("--size", choices=sorted(SIZES), default="full")
        parser.add_argument(
            "--profile", choices=WRITE_PATHS,
            help="Run only this write path, its project calls under cProfile, and print where their time "
            "goes: waits on PostgreSQL (psycopg's wait) beside Python, then the costliest functions.",
        )  # fmt: skip

    def handle(self, *args, as_json: bool, size: str, profile: str | None, **options):
        require_postgresql(self)
        self.as_json = as_json
        self.profiler = cProfile.Profile() if profile else None
        self.size = SIZES[size]
        self.stamp = f"{int(time.time() * 1000) % 10**10}"
        self.rng = random.Random(7)
        account = Account.objects.filter(slug="bench-big").first()
        if account is None:
            raise CommandError("No benchmark data: run bench_seed first.")
        sample = Message.objects.filter(account=account).order_by("-requested_at", "-id").first()
        if sample is None:
            raise CommandError("The bench-big account has no messages: run bench_seed first.")
        started = time.perf_counter()
        if not self.as_json:
            self.stdout.write(
                f"bench_report --size {size}: {Message.objects.count():,} messages, "
                f"{Intercept.objects.count():,} intercepts; account {account.slug} "
                f"{Message.objects.filter(account=account).count():,} messages"
            )
            self.stdout.write(f"{'path':<38} {'unit':<11} {'project':>12} {'raw':>12} {'p95_ms':>10}  note")
        if profile:
            with self._stubbed_queues():
                getattr(self, f"_{profile}")()
            self._print_profile()
            return
        with self._stubbed_queues():
            self._receipts()
            self._submit()
            self._dispatch()
            self._expiry()
            self._retention(account)
        with self._operator(account) as client:
            self._csv(client, account)
            deep_page_ms = self._pages(client, account, sample)
        with self._staff() as client:
            self._admin(client, sample, deep_page_ms)
        if not self.as_json:
            self.stdout.write(f"({time.perf_counter() - started:.0f} s)")

    # --- output --------------------------------------------------------------------------------
    def _emit(self, path, unit, project, raw=None, p95_ms=None, note=""):
        def figure(value):
            return None if value is None else round(float(value), 3)

        if self.as_json:
            line = {"path": path, "unit": unit, "project": figure(project), "raw": figure(raw),
                    "p95_ms": figure(p95_ms)}  # fmt: skip
            self.stdout.write(json.dumps(line))
            return

        def cell(value):
            return "—" if value is None else f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.3g}"

        self.stdout.write(
            f"{path:<38} {unit:<11} {cell(project):>12} {cell(raw):>12} {cell(p95_ms):>10}  {note}"
        )

    # --- the write paths -----------------------------------------------------------------------
    @contextmanager
    def _lap(self, watch):
        """One timed project call; under --profile, the only code the profiler sees."""
        with watch.lap():
            if self.profiler is None:
                yield
                return
            self.profiler.enable()
            try:
                yield
            finally:
                self.profiler.disable()

    def _print_profile(self):
        buffer = io.StringIO()
        stats = pstats.Stats(self.profiler, stream=buffer)
        total = stats.total_tt
        # Every statement, COPY and fetch ends in psycopg's wait for the server's answer.
        waiting = sum(
            timing[2] for (filename, _, name), timing in stats.stats.items()
            if "psycopg" in filename + name and "wait" in name
        )  # fmt: skip
        self.stdout.write(
            f"profiled {total:.3f} s: waiting on PostgreSQL {waiting:.3f} s ({100 * waiting / total:.0f}%), "
            f"Python {total - waiting:.3f} s ({100 * (total - waiting) / total:.0f}%)"
        )
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        self.stdout.write(buffer.getvalue())

    @contextmanager
    def _stubbed_queues(self):
        """What bench_pipeline stubs: each path is measured alone, nothing is queued to a broker."""
        with (
            mock.patch.object(submission, "_queue_dispatch", lambda message_ids: None),
            mock.patch.object(handover, "simulated_webhook_queue", lambda *args: None),
            mock.patch.object(receipts, "_queue_ingest", lambda: None),
        ):
            yield

    def _sender(self):
        """A channel, an account, an SMS_USER and a template of their own (inside the caller's transaction)."""
        channel = Channel.objects.create(code=f"bench-report-{self.stamp}", kind=Channel.Kind.SIMULATOR)
        account = account_create(slug=f"bench-report-{self.stamp}", name="Report", default_channel=channel)
        sms_user, _key = sms_user_create(account=account, name="bench")
        template = template_create(
            account=account, name="otp", type="verification", body="Code {{code}}", is_approved=True
        )
        return channel, account, sms_user, template

    def _recipients(self, count):
        return [
            {"to": f"+8190{self.rng.randrange(10_000_000, 99_999_999)}", "vars": {"code": "123456"}}
            for _ in range(count)
        ]

    def _submit_all(self, sms_user, template, count, watch=None):
        messages = []
        for _ in range(max(count // SUBMIT_PER_CALL, 1)):
            recipients = self._recipients(SUBMIT_PER_CALL)
            with self._lap(watch) if watch else nullcontext():
                messages += submission.messages_submit(
                    sms_user=sms_user, template_id=template.pk, tag="bench", recipients=recipients
                )
        return messages

    def _receipts(self):
        size = self.size
        with rolled_back():
            channel, account, _, _ = self._sender()
            # bench_pipeline's top-up of awaiting messages (a method that does not use its command).
            awaiting = PipelineCommand._awaiting_messages(None, channel, account, size.receipts)
            self.rng.shuffle(awaiting)
            now = timezone.now()
            done_at = now - dt.timedelta(seconds=5)
            bodies = []
            for start in range(0, len(awaiting), size.receipt_batch):
                items = []
                for cid in awaiting[start : start + size.receipt_batch]:
                    if self.rng.random() < 0.05:
                        code = self.rng.choice(RETURN_CODES)
                        items.append({"id": cid, "status": "failed", "code": code, "detail": "carrier text",
                                      "done_at": done_at.isoformat()})  # fmt: skip
                    else:
                        items.append({"id": cid, "status": "delivered", "done_at": done_at.isoformat()})
                bodies.append(json.dumps({"receipts": items}).encode())
            others = InboxItem.objects.filter(processed_at__isnull=True).count()
            for body in bodies:
                receipts.inbox_receive(
                    channel=channel, kind=InboxItem.Kind.RECEIPTS, body=body, content_type="application/json"
                )

            watch, items = Stopwatch(), 0
            with rolled_back():
                while True:
                    with self._lap(watch):
                        report = receipts.inbox_ingest(max_items=size.receipt_batch, max_batches=1)
                    if not report.items:
                        watch.samples.pop()  # the call that found nothing left
                        break
                    items += report.items
                # What the receipts made of the messages, for the raw UPDATE to write the same.
                changed = list(
                    Message.objects.filter(channel=channel)
                    .exclude(status=MessageStatus.AWAITING_RECEIPT)
                    .values_list(*RECEIPT_COLUMNS)
                )

            with rolled_back():
                sql = (
                    f"UPDATE {Message._meta.db_table} AS m SET "
                    + ", ".join(f"{column} = v.{column}" for column in RECEIPT_COLUMNS[1:])
                    + " FROM (VALUES "
                    + ", ".join(
                        ["(%s, %s, %s, %s::smallint, %s, %s::timestamptz, %s::timestamptz)"] * len(changed)
                    )
                    + f") AS v({', '.join(RECEIPT_COLUMNS)}) "
                    "WHERE m.channel_id = %s AND m.channel_message_id = v.channel_message_id AND m.status = %s"
                )
                params = [value for row in changed for value in row]
                statement = connection.ops.compose_sql(
                    sql, [*params, channel.pk, MessageStatus.AWAITING_RECEIPT]
                )
                with connection.cursor() as cursor:
                    started = time.perf_counter()
                    cursor.execute(statement)
                    raw_seconds = time.perf_counter() - started
                    raw_rows = cursor.rowcount
        self._emit(
            "receipts", "receipts/s", items / watch.total, raw_rows / raw_seconds, warm_ms(watch)[1],
            f"{items:,} receipts ({len(changed):,} messages changed), {len(watch.samples)} batches of "
            f"{size.receipt_batch:,}; raw one UPDATE of {raw_rows:,} rows"
            + (f"; {others:,} other pending bodies ingested too" if others else ""),
        )  # fmt: skip

    def _submit(self):
        with rolled_back():
            _, _, sms_user, template = self._sender()
            watch = Stopwatch()
            with rolled_back():
                submitted = self._submit_all(sms_user, template, self.size.submit, watch)
                # The stored rows, read back to write the same ones again in the raw run.
                messages = list(Message.objects.filter(pk__in=[m.pk for m in submitted]).order_by("pk"))
                events = list(
                    MessageEvent.objects.filter(message_id__in=[m.pk for m in messages])
                    .order_by("id")
                    .values_list("message_id", "at", "kind", "detail")
                )
            with rolled_back():
                raw_seconds = _copy_messages(messages, events)
        self._emit(
            "submit", "messages/s", len(messages) / watch.total, len(messages) / raw_seconds,
            warm_ms(watch)[1],
            f"{len(messages):,} messages, {len(watch.samples)} calls of {SUBMIT_PER_CALL:,}; "
            f"raw COPY of {len(messages):,} messages + {len(events):,} log rows",
        )  # fmt: skip

    def _dispatch(self):
        with rolled_back():
            channel, _, sms_user, template = self._sender()
            ids = [m.pk for m in self._submit_all(sms_user, template, self.size.dispatch)]
            watch = Stopwatch()
            with rolled_back():
                for start in range(0, len(ids), DISPATCH_PER_CALL):
                    with self._lap(watch):
                        dispatch.messages_dispatch(message_ids=ids[start : start + DISPATCH_PER_CALL])
                handed = list(
                    Message.objects.filter(pk__in=ids, status=MessageStatus.AWAITING_RECEIPT).values_list(
                        "pk", "channel_message_id", "channel_delivered_at", "updated_at"
                    )
                )
                events = list(
                    MessageEvent.objects.filter(message_id__in=ids)
                    .exclude(kind=MessageEvent.Kind.REQUESTED)
                    .order_by("id")
                    .values_list("message_id", "at", "kind", "detail")
                )

            with rolled_back():
                table = Message._meta.db_table
                sql = (
                    f"UPDATE {table} AS m SET status = %s, channel_id = %s, "
                    "channel_message_id = v.channel_message_id, channel_delivered_at = v.channel_delivered_at, "
                    "updated_at = v.updated_at, next_attempt_at = NULL, dispatch_attempts = m.dispatch_attempts + 1 "
                    "FROM (VALUES " + ", ".join(["(%s::bigint, %s, %s::timestamptz, %s::timestamptz)"]
                                                * len(handed)) + ") "
                    "AS v(id, channel_message_id, channel_delivered_at, updated_at) "
                    "WHERE m.id = v.id AND m.status = %s"
                )  # fmt: skip
                params = [MessageStatus.AWAITING_RECEIPT, channel.pk, *(v for row in handed for v in row),
                          MessageStatus.REQUESTING]  # fmt: skip
                statement = connection.ops.compose_sql(sql, params)
                rows = [(message_id, at, kind, json.dumps(detail)) for message_id, at, kind, detail in events]
                with connection.cursor() as cursor:
                    started = time.perf_counter()
                    cursor.execute(statement)
                    raw_rows = cursor.rowcount
                    _copy_rows(
                        cursor, MessageEvent._meta.db_table, ["message_id", "at", "kind", "detail"], rows
                    )
                    raw_seconds = time.perf_counter() - started
        self._emit(
            "dispatch", "messages/s", len(ids) / watch.total, raw_rows / raw_seconds, warm_ms(watch)[1],
            f"{len(ids):,} messages ({len(handed):,} handed over), {len(watch.samples)} calls of "
            f"{DISPATCH_PER_CALL}; raw one UPDATE of {raw_rows:,} rows + COPY of {len(rows):,} log rows",
        )  # fmt: skip

    def _expiry(self):
        expired = self.size.expired
        table = Intercept._meta.db_table
        with rolled_back():
            account = Account.objects.create(slug=f"bench-report-expiry-{self.stamp}", name="Expiry report")
            grace = settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS
            with connection.cursor() as cursor:
                # As bench_expiry seeds them: expired beyond the grace period, and live ones beside them.
                cursor.execute(
                    f"""
                    INSERT INTO {table} (phone, scope, account_id, return_code, reason, intercepted_at, expires_at, updated_at)
                    SELECT '+8162' || lpad(g::text, 8, '0'), 'local', %s, 520, 'BLACKLISTED', now() - interval '60 days',
                           now() - make_interval(days => %s + 1) - random() * interval '10 days', now()
                    FROM generate_series(1, %s) AS g
                    UNION ALL
                    SELECT '+8163' || lpad(g::text, 8, '0'), 'local', %s, 520, 'BLACKLISTED', now(),
                           now() + interval '1 hour', now()
                    FROM generate_series(1, %s) AS g
                    """,
                    [account.pk, grace, expired, account.pk, max(expired // 10, 1)],
                )
            timer = StatementTimer()
            with rolled_back(), connection.execute_wrapper(timer):
                started = time.perf_counter()
                deleted = intercepts_expire()
                seconds = time.perf_counter() - started
            with rolled_back(), connection.cursor() as cursor:
                cutoff = clock.now() - dt.timedelta(days=grace)
                started = time.perf_counter()
                cursor.execute(f"DELETE FROM {table} WHERE expires_at <= %s", [cutoff])
                raw_seconds = time.perf_counter() - started
                raw_deleted = cursor.rowcount
        statements_ms = [d * 1000 for d in timer.durations]
        self._emit(
            "expiry", "s", seconds, raw_seconds, nearest_rank(statements_ms, 95),
            f"{deleted:,} deleted in {len(statements_ms)} statements; raw one DELETE of {raw_deleted:,}",
        )  # fmt: skip
        self._emit(
            "expiry_longest_statement", "ms", max(statements_ms), raw_seconds * 1000, None,
            "raw: the one DELETE is the longest statement",
        )  # fmt: skip

    def _retention(self, account):
        """The nightly purge of the oldest day of every account (the biggest one's ~1/30), rolled back."""
        oldest = (
            Message.objects.filter(account=account)
            .order_by("requested_at")
            .values_list("requested_at", flat=True)[:1]
        )
        if not oldest:
            return
        cutoff = oldest[0] + dt.timedelta(days=1)
        timer = StatementTimer(deletes_only=False)  # the batches' reads are statements too

        with rolled_back():
            events = MessageEvent.objects.filter(message__requested_at__lt=cutoff).count()
            with clock.frozen(cutoff + dt.timedelta(days=settings.SMS_RETENTION_DAYS)):
                started = time.perf_counter()
                with connection.execute_wrapper(timer):
                    report = retention.retention_purge()
                seconds = time.perf_counter() - started
        statements_ms = [d * 1000 for d in timer.durations]
        self._emit(
            "retention", "s", seconds, None, nearest_rank(statements_ms, 95),
            f"{report.messages:,} messages (with {events:,} send-log rows) and {report.replies:,} replies "
            f"of the oldest day in {len(statements_ms)} statements",
        )  # fmt: skip
        self._emit("retention_longest_statement", "ms", max(statements_ms), None, None, "")

    # --- the export and the pages --------------------------------------------------------------
    @contextmanager
    def _operator(self, account):
        """A temporary operator of the account, logged in; it and its session are deleted at the end."""
        user = get_user_model().objects.create(username=f"bench-report-{self.stamp}")
        with self._logged_in(user) as client:
            Membership.objects.create(user=user, account=account)
            yield client

    @contextmanager
    def _staff(self):
        """A temporary superuser, logged in to the admin; deleted with its session at the end."""
        user = get_user_model().objects.create(
            username=f"bench-report-staff-{self.stamp}", is_staff=True, is_superuser=True
        )
        with self._logged_in(user) as client:
            yield client

    @contextmanager
    def _logged_in(self, user):
        try:
            client = Client()
            client.force_login(user)
            try:
                yield client
            finally:
                client.logout()
        finally:
            user.delete()

    def _month(self, account) -> dict:
        # bench_lists' 30 days: the period start the console's 30-day preset would give.
        now = timezone.now().astimezone(account.zone)
        return {"requested_from": (now - dt.timedelta(days=29, hours=23)).strftime("%Y-%m-%dT%H:%M")}

    def _csv(self, client, account):
        limit = self.size.csv_rows
        month = self._month(account)
        url = reverse("delivery:message-export") + "?" + _query(month).urlencode()
        lines, first_row = 0, None
        started = time.perf_counter()
        # The stream itself, whatever the size: a filter this big is a background job in the
        # console (csv_job below). Skipping the size check, not raising its limit: that would
        # count every row before the first.
        with mock.patch.object(MessageExportView, "is_too_big_to_stream", lambda view: False):
            response = client.get(url, **HOST)
        if response.status_code != 200 or not response.streaming:
            raise CommandError(f"{url} answered {response.status_code}")
        try:
            for chunk in response.streaming_content:
                lines += chunk.count(b"\n")
                if first_row is None and lines >= 2:  # the header, then the first row
                    first_row = time.perf_counter() - started
                if limit and lines - 1 >= limit:
                    break
            seconds = time.perf_counter() - started
        finally:
            response.close()
        rows = max(lines - 1, 0)

        filterset = MessageFilter(_query(month), account=account)
        if not filterset.is_valid():
            raise CommandError(f"30-day filter refused: {filterset.form.errors}")
        queryset = filterset.qs.order_by("-requested_at", "-pk").values_list(*CSV_FIELDS)
        if limit:
            queryset = queryset[:rows]
        sql, params = queryset.query.sql_with_params()
        raw_rows, raw_first = 0, None
        with connection.cursor() as cursor:
            started = time.perf_counter()
            with cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
                for block in copy:
                    raw_rows += bytes(block).count(b"\n")
                    if raw_first is None and raw_rows:
                        raw_first = time.perf_counter() - started
            raw_seconds = time.perf_counter() - started
        note = f"{rows:,} rows streamed" + ("" if limit is None else f" (first {limit:,})")
        if raw_rows != rows:
            note += f"; raw COPY gave {raw_rows:,} rows"
        self._emit("csv", "rows/s", rows / seconds, raw_rows / raw_seconds, None, note)
        self._emit(
            "csv_first_row", "ms", _ms(first_row), _ms(raw_first), None,
            "from the request to the first data row; raw: to COPY's first row",
        )  # fmt: skip
        self._csv_job(account, _query(month).urlencode())

    def _csv_job(self, account, query):
        """The same export, every row, as a worker runs it for a background job: a file, then deleted."""
        job = ExportJob.objects.create(
            account=account, list_name=ExportJob.ListName.MESSAGES, query=query, with_bom=False,
            language=settings.LANGUAGE_CODE, created_at=clock.now(),
        )  # fmt: skip
        try:
            started = time.perf_counter()
            export_job_run(account_id=account.pk, job_id=job.pk)
            seconds = time.perf_counter() - started
            job.refresh_from_db()
            if job.status != ExportJob.Status.DONE:
                raise CommandError(f"export job {job.pk} ended {job.status}: {job.error}")
            self._emit(
                "csv_job", "rows/s", job.rows_written / seconds, None, None,
                f"{job.rows_written:,} rows, {job.file_size / 1e6:.0f} MB written in {seconds:.1f} s "
                "(with the count for its progress bar)",
            )  # fmt: skip
        finally:
            export_job_delete(account=account, job_id=job.pk)

    def _pages(self, client, account, sample):
        month = self._month(account)
        for key, params in list_cases(month, sample):
            url = "/status/" + (f"?{_query(params).urlencode()}" if params else "")
            filterset = MessageFilter(_query(params), account=account)
            if not filterset.is_valid():
                raise CommandError(f"{key}: filter refused: {filterset.form.errors}")
            paginator = KeysetPaginator(filterset.qs, time_field="requested_at", per_page=50)
            self._page(f"status_list.{key}", client, url, raw=lambda p=paginator: p.page(None))
            self._measure_query(
                f"status_counts.{key}",
                lambda f=filterset: message_status_counts(account=account, **f.count_filters()),
            )

        filterset = MessageFilter(_query(month), account=account)
        filterset.is_valid()
        paginator = KeysetPaginator(filterset.qs, time_field="requested_at", per_page=50)
        last = Message.objects.filter(account=account).order_by("-requested_at", "-id").first().requested_at
        anchor = (
            Message.objects.filter(account=account, requested_at__lte=last - dt.timedelta(days=29))
            .order_by("-requested_at", "-id")
            .first()
        ) or Message.objects.filter(account=account).order_by("requested_at", "id").first()
        cursor = paginator.encode_cursor(anchor, backwards=False)
        deep_page_ms = self._page(
            "status_list.deep_page", client, "/status/?" + _query({**month, "cursor": cursor}).urlencode(),
            raw=lambda: paginator.page(cursor), note="the page after a row 29 days back",
        )  # fmt: skip

        for path, url, filter_class, time_field in [
            ("intercepts", "/intercepts/", InterceptFilter, "intercepted_at"),
            ("replies", "/replies/", ReplyFilter, "received_at"),
        ]:
            # The list as the page builds it: its default period, if it has one, from the empty query.
            data = filter_class.with_period_preset(_query({}), account=account)
            filterset = filter_class(data, account=account)
            if not filterset.is_valid():
                raise CommandError(f"{path}: filter refused: {filterset.form.errors}")
            paginator = KeysetPaginator(filterset.qs, time_field=time_field, per_page=50)
            self._page(path, client, url, raw=lambda p=paginator: p.page(None))
        self._page("numbers", client, f"/numbers/{sample.phone}/", note="/numbers/<phone>/")
        self._page("message_page", client, f"/status/{sample.pk}/", note="/status/<id>/")
        self._page("dashboard", client, "/dashboard/", note="/dashboard/ (30 days, rollups)")
        return deep_page_ms

    def _admin(self, client, sample, console_deep_page_ms):
        changelist = reverse("admin:delivery_message_changelist")
        admin_deep_ms = self._page("admin.deep_page", client, f"{changelist}?p=200", note="?p=200")
        self._emit(
            "admin.deep_page_vs_console", "x", admin_deep_ms / console_deep_page_ms, None, None,
            "the admin's 200th page over the console's deep page (medians)",
        )  # fmt: skip
        as_typed = "0" + sample.phone.removeprefix("+81")  # a Japanese number as an operator types it
        url = f"{changelist}?q={as_typed}"
        found = client.get(url, **HOST)
        if reverse("admin:delivery_message_change", args=[sample.pk]) not in found.content.decode():
            raise CommandError(f"admin.phone_search: {url} did not list message {sample.pk}")
        self._page("admin.phone_search", client, url, note=f"?q={as_typed}")

    def _page(self, path, client, url, *, raw=None, note=""):
        watch, in_queries = Stopwatch(), Stopwatch()
        for _ in range(self.size.runs):
            timer = QueryTimer()
            with watch.lap(), connection.execute_wrapper(timer):
                response = client.get(url, **HOST)
            in_queries.samples.append(timer.seconds)
            if response.status_code != 200:
                raise CommandError(f"{path}: {url} answered {response.status_code}")
        median, p95 = warm_ms(watch)
        raw_median = self._bare(raw) if raw else None
        note = (note + "; " if note else "") + f"of it in queries {warm_ms(in_queries)[0]:.1f} ms"
        self._emit(path, "ms", median, raw_median, p95, note + f" (n={len(watch.samples) - 1} warm)")
        return median

    def _measure_query(self, path, run):
        watch = Stopwatch()
        for _ in range(self.size.runs):
            with watch.lap():
                run()
        median, p95 = warm_ms(watch)
        self._emit(path, "ms", median, self._bare(run), p95, f"(n={len(watch.samples) - 1} warm)")

    def _bare(self, run) -> float:
        """The median of the SQL that `run` sends, replayed through the bare cursor."""
        recorder = StatementRecorder()
        with connection.execute_wrapper(recorder):
            run()
        watch = Stopwatch()
        for _ in range(self.size.runs):
            with watch.lap():
                recorder.replay()
        return warm_ms(watch)[0]


def _ms(seconds):
    return None if seconds is None else seconds * 1000


def _copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_messages(messages: list[Message], events: list[tuple]) -> float:
    """COPY the same message rows (new ids from their sequence) and their log rows; the seconds it took."""
    meta = Message._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    rows = [
        [_copy_value(field.get_db_prep_save(getattr(message, field.attname), connection)) for field in fields]
        for message in messages
    ]
    old_ids = [message.pk for message in messages]
    log_rows = [(message_id, at, kind, json.dumps(detail)) for message_id, at, kind, detail in events]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [meta.db_table, len(rows)],
        )
        new_ids = [row[0] for row in cursor.fetchall()]
        _copy_rows(
            cursor, meta.db_table, ["id", *(field.column for field in fields)],
            ([new_id, *row] for new_id, row in zip(new_ids, rows, strict=True)),
        )  # fmt: skip
        new_for = dict(zip(old_ids, new_ids, strict=True))
        _copy_rows(
            cursor, MessageEvent._meta.db_table, ["message_id", "at", "kind", "detail"],
            ((new_for[message_id], *rest) for message_id, *rest in log_rows),
        )  # fmt: skip
        return time.perf_counter() - started


def _copy_value(value):
    # A JSON field's value comes prepared for a query (psycopg's Jsonb); COPY's text format takes the text.
    obj = getattr(value, "obj", None)
    if obj is not None and type(value).__name__ in {"Jsonb", "Json"}:
        return json.dumps(obj)
    return value
