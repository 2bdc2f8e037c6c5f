"""Measure the write hot paths on PostgreSQL: submitting, dispatch checks, and receipt ingestion.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench .venv/bin/python manage.py bench_pipeline

Runs against whatever is in the database (run bench_seed first for realistic table sizes). It adds
its own account, keywords and intercepts, and leaves the rows it created behind.
"""

import datetime as dt
import json
import random
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.timing import Stopwatch, require_postgresql, table_sizes
from delivery.models import Channel, InboxItem, KeywordFilter, Message, MessageStatus
from delivery.services import dispatch, receipts, submission
from delivery.services.dispatch import handover
from delivery.services.setup import template_create
from intercepts.models import Intercept
from smsconsole.services import account_create, sms_user_create

RETURN_CODES = [500, 510, 520, 530, 540, 550, 560, 570, 580, 590]


class Command(BaseCommand):
    help = "Benchmark submit, dispatch checks and receipt ingestion (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=20_000, help="Messages to submit and dispatch.")
        parser.add_argument("--receipts", type=int, default=50_000, help="Receipts to ingest.")
        parser.add_argument("--batch", type=int, default=5000, help="Receipts per webhook body.")
        parser.add_argument("--keywords", type=int, default=5000)

    def handle(self, *args, messages, receipts: int, batch, keywords, **options):
        require_postgresql(self)
        rng = random.Random(7)
        tag = f"bench-{int(time.time())}"
        channel, _ = Channel.objects.get_or_create(code="bench-pipeline", defaults={"kind": "simulator"})
        account = account_create(slug=tag, name="Pipeline benchmark", default_channel=channel)
        sms_user, _key = sms_user_create(account=account, name="bench")
        template = template_create(
            account=account, name="otp", type="verification", body="Code {{code}}", is_approved=True
        )
        self._populate_check_data(keywords)
        self.stdout.write(
            f"Tables: {Message.objects.count():,} messages, {Intercept.objects.count():,} intercepts, "
            f"{KeywordFilter.objects.filter(is_active=True).count():,} filter keywords"
        )

        self.stdout.write("Sizes: " + table_sizes(["delivery_message", "intercepts_intercept"]))
        self._bench_locks()

        ids = self._bench_submit(sms_user, template, messages, rng)
        handed = self._bench_dispatch(ids)
        self._bench_receipts(channel, account, handed, receipts, batch, rng)

    def _bench_locks(self):
        """What dispatch adds per batch for holding its numbers: take and release 500 advisory locks."""
        from smsconsole.locks import advisory_locks_try

        watch = Stopwatch()
        for run in range(20):
            keys = [f"dispatch:bench:{run}:{i}" for i in range(500)]
            with watch.lap(), advisory_locks_try(keys) as held:
                assert len(held) == 500
        self.stdout.write(f"number locks (take and release 500, one batch's worth): {watch.summary_ms()}")

    def _populate_check_data(self, keywords):
        existing = KeywordFilter.objects.count()
        KeywordFilter.objects.bulk_create(
            [KeywordFilter(word=f"bench-keyword-{i}") for i in range(existing, keywords)],
            ignore_conflicts=True,
        )

    def _bench_submit(self, sms_user, template, count, rng):
        watch = Stopwatch()
        ids = []
        original = submission._queue_dispatch
        submission._queue_dispatch = lambda message_ids: None  # measure submitting alone
        try:
            for _ in range(count // 1000):
                recipients = [
                    {"to": f"+8190{rng.randrange(10_000_000, 99_999_999)}", "vars": {"code": "123456"}}
                    for _ in range(1000)
                ]
                with watch.lap():
                    ids += [
                        m.pk
                        for m in submission.messages_submit(
                            sms_user=sms_user, template_id=template.pk, tag="bench", recipients=recipients
                        )
                    ]
        finally:
            submission._queue_dispatch = original
        self.stdout.write(
            f"submit (API service, 1,000 recipients per request): {len(ids) / watch.total:,.0f} messages/s; per request {watch.summary_ms()}"
        )
        return ids

    def _bench_dispatch(self, ids):
        watch = Stopwatch()
        original = handover.simulated_webhook_queue
        handover.simulated_webhook_queue = lambda *a: None  # receipts are measured on their own below
        try:
            for start in range(0, len(ids), 500):
                with watch.lap():
                    dispatch.messages_dispatch(message_ids=ids[start : start + 500])
        finally:
            handover.simulated_webhook_queue = original
        handed = list(
            Message.objects.filter(pk__in=ids, status=MessageStatus.AWAITING_RECEIPT).values_list(
                "channel_message_id", flat=True
            )
        )
        self.stdout.write(
            f"dispatch (8 checks + hand-over, 500 per batch): {len(ids) / watch.total:,.0f} messages/s; per batch {watch.summary_ms()}; "
            f"{len(handed):,} handed over"
        )
        return handed

    def _bench_receipts(self, channel, account, handed, count, batch, rng):
        # Top up with awaiting messages so there are `count` receipts to apply.
        missing = count - len(handed)
        if missing > 0:
            handed += self._awaiting_messages(channel, account, missing)
        handed = handed[:count]
        rng.shuffle(handed)
        done_at = timezone.now().isoformat()
        bodies = []
        for start in range(0, len(handed), batch):
            items = []
            for cid in handed[start : start + batch]:
                if rng.random() < 0.05:
                    items.append(
                        {
                            "id": cid,
                            "status": "failed",
                            "code": rng.choice(RETURN_CODES),
                            "detail": "carrier text",
                            "done_at": done_at,
                        }
                    )
                else:
                    items.append({"id": cid, "status": "delivered", "done_at": done_at})
            bodies.append(json.dumps({"receipts": items}).encode())

        store = Stopwatch()
        original = receipts._queue_ingest
        receipts._queue_ingest = lambda: (
            None
        )  # store everything first, then drain: the two halves of a webhook
        try:
            for body in bodies:
                with store.lap():
                    receipts.inbox_receive(
                        channel=channel,
                        kind=InboxItem.Kind.RECEIPTS,
                        body=body,
                        content_type="application/json",
                    )
        finally:
            receipts._queue_ingest = original
        self.stdout.write(
            f"webhook store (validate + insert raw body, {batch:,} per body): {len(handed) / store.total:,.0f} receipts/s; per body {store.summary_ms()}"
        )

        started = time.perf_counter()
        report = receipts.inbox_ingest(max_items=batch)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"ingestion ({batch:,} per batch, one transaction each): {report.items / elapsed:,.0f} receipts/s "
            f"({report.items:,} in {elapsed:.1f} s; statuses, send log, intercepts)"
        )

        # The same receipts again: idempotency should make them cheap and change nothing.
        with transaction.atomic():
            for body in bodies:
                InboxItem.objects.create(
                    channel=channel,
                    kind="receipts",
                    content_type="application/json",
                    body=body.decode(),
                    item_count=batch,
                    received_at=timezone.now(),
                )
        started = time.perf_counter()
        report = receipts.inbox_ingest(max_items=batch)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"duplicate receipts (all already applied): {report.items / elapsed:,.0f} receipts/s"
        )

    def _awaiting_messages(self, channel, account, count):
        sms_user = account.sms_users.first()
        template = account.templates.first()
        now = timezone.now()
        base = f"rb-{int(time.time())}-"
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO delivery_message (account_id, sms_user_id, template_id, template_type, tag, phone, variables,
                    content, segments, status, reason, failure_detail, channel_id, channel_message_id, requested_at,
                    channel_delivered_at, updated_at, dispatch_attempts)
                SELECT %s, %s, %s, 'verification', 'bench', '+8180' || lpad((10000000 + g)::text, 8, '0'), '{}',
                       'Code 123456', 1, 'awaiting_receipt', '', '', %s, %s || g, %s, %s, %s, 1
                FROM generate_series(1, %s) AS g
                """,
                [
                    account.pk,
                    sms_user.pk,
                    template.pk,
                    channel.pk,
                    base,
                    now - dt.timedelta(minutes=1),
                    now,
                    now,
                    count,
                ],
            )
        return [f"{base}{i}" for i in range(1, count + 1)]
