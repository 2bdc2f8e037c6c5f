"""What status callbacks cost receipt ingestion (PostgreSQL; everything is rolled back).

    DATABASE_URL=postgres://…/smsbench python manage.py bench_callbacks [--receipts 20000] [--rounds 3]

Receipt ingestion (`receipts.inbox_ingest`, batches of 5,000, 5% failures) of N awaiting messages,
in three set-ups, interleaved over the rounds so drift in the machine affects them alike:
- without the callbacks trigger on delivery_message (dropped inside the rolled-back transaction);
- with it, for an account without a callback endpoint (every account until it sets one);
- with it, for an account whose endpoint takes 10 s to answer (a local server that sleeps): the
  trigger inserts one outbox row per status change; delivery runs in workers, so the endpoint's
  slowness never reaches ingestion, and this measures what is left: the outbox rows.
"""

import datetime as dt
import json
import random
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from benchmarks.management.commands.bench_pipeline import RETURN_CODES
from benchmarks.management.commands.bench_pipeline import Command as PipelineCommand
from benchmarks.timing import Stopwatch, require_postgresql, rolled_back
from callbacks.models import CallbackEvent
from callbacks.services import endpoint_save
from delivery.models import Channel, InboxItem
from delivery.services import receipts
from delivery.services.setup import template_create
from smsconsole.services import account_create, sms_user_create

BATCH = 5000
SCENARIOS = ("no trigger", "trigger, no endpoint", "trigger, endpoint answering in 10 s")


class _SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        time.sleep(10)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--receipts", type=int, default=20_000, dest="count")
        parser.add_argument("--rounds", type=int, default=3)

    def handle(self, *args, count: int, rounds: int, **options):
        require_postgresql(self)
        self.rng = random.Random(7)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.slow_url = f"http://127.0.0.1:{server.server_address[1]}/slow"
        rates = {name: [] for name in SCENARIOS}
        with (
            mock.patch.object(receipts, "_queue_ingest", lambda: None),
            override_settings(SMS_CALLBACK_ALLOW_PRIVATE=True),
        ):
            for round_ in range(rounds):
                for name in SCENARIOS:
                    rate, events = self._ingest(name, count, stamp=f"{round_}-{SCENARIOS.index(name)}")
                    rates[name].append(rate)
                    self.stdout.write(
                        f"round {round_ + 1}  {name:<38} {rate:>9,.0f} receipts/s  {events:>6} events"
                    )
        server.shutdown()
        base = statistics.median(rates[SCENARIOS[0]])
        self.stdout.write(f"\nmedian of {rounds} rounds, {count:,} receipts each:")
        for name in SCENARIOS:
            median = statistics.median(rates[name])
            self.stdout.write(f"  {name:<38} {median:>9,.0f} receipts/s  ({(median / base - 1) * 100:+.1f}%)")

    def _ingest(self, scenario: str, count: int, *, stamp: str) -> tuple[float, int]:
        with rolled_back():
            stamp = f"{int(time.time())}-{stamp}"
            channel = Channel.objects.create(code=f"bench-cb-{stamp}", kind=Channel.Kind.SIMULATOR)
            account = account_create(slug=f"bench-cb-{stamp}", name="Callbacks", default_channel=channel)
            sms_user_create(account=account, name="bench")
            template_create(
                account=account, name="otp", type="verification", body="Code {{code}}", is_approved=True
            )
            awaiting = PipelineCommand._awaiting_messages(None, channel, account, count)
            self.rng.shuffle(awaiting)
            done_at = (timezone.now() - dt.timedelta(seconds=5)).isoformat()
            for start in range(0, len(awaiting), BATCH):
                items = [
                    {"id": cid, "status": "failed", "code": self.rng.choice(RETURN_CODES), "done_at": done_at}
                    if self.rng.random() < 0.05
                    else {"id": cid, "status": "delivered", "done_at": done_at}
                    for cid in awaiting[start : start + BATCH]
                ]
                receipts.inbox_receive(
                    channel=channel,
                    kind=InboxItem.Kind.RECEIPTS,
                    body=json.dumps({"receipts": items}).encode(),
                    content_type="application/json",
                )
            if scenario == SCENARIOS[0]:
                with connection.cursor() as cursor:
                    cursor.execute("DROP TRIGGER callbacks_message_status ON delivery_message")
            elif scenario == SCENARIOS[2]:
                endpoint_save(account=account, url=self.slow_url, events=["status", "reply"])
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE delivery_inboxitem")
            watch, ingested = Stopwatch(), 0
            while True:
                with watch.lap():
                    report = receipts.inbox_ingest(max_items=BATCH, max_batches=1)
                if not report.items:
                    watch.samples.pop()
                    break
                ingested += report.items
            events = CallbackEvent.objects.filter(account=account).count()
        return ingested / watch.total, events
