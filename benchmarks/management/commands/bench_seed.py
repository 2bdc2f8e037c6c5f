"""Fill a PostgreSQL database with millions of messages, replies and intercepts for the benchmarks.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/smsbench .venv/bin/python manage.py migrate
DATABASE_URL=... .venv/bin/python manage.py bench_seed --messages 5000000
"""

import time

from django.core.management.base import BaseCommand
from django.db import connection

from benchmarks.timing import require_postgresql, table_sizes
from delivery.models import Channel, Template
from delivery.services.counts import message_counts_compact
from smsconsole.models import Account, SmsUser

# Share of all messages per account: one big customer, one mid-sized, three small.
ACCOUNT_SHARES = [
    ("bench-big", 0.60),
    ("bench-mid", 0.25),
    ("bench-s1", 0.05),
    ("bench-s2", 0.05),
    ("bench-s3", 0.05),
]
TEMPLATES = [
    ("otp", "verification", "login"),
    ("notice", "notification", "shipping"),
    ("promo", "marketing", "sale"),
]
CHUNK = 500_000

SEND_REASONS = [
    "invalid_number", "suspended", "blacklisted", "busy", "no_answer",
    "content_intercepted", "device_fault", "out_of_service_area", "powered_off", "other",
]  # fmt: skip
PROCESSING_REASONS = [
    "global_intercept", "local_intercept", "unsubscribed", "keyword_filtered",
    "variable_error", "content_noncompliant", "frequency_exceeded", "other",
]  # fmt: skip

MESSAGES_SQL = """
INSERT INTO delivery_message (
    account_id, sms_user_id, template_id, template_type, tag, phone, variables, content, segments,
    status, reason, return_code, failure_detail, channel_id, channel_message_id, requested_at,
    channel_delivered_at, receipt_at, updated_at, dispatch_attempts
)
SELECT
    %(account)s,
    (%(sms_users)s::bigint[])[1 + (g %% 2)],
    (%(templates)s::bigint[])[1 + t],
    (ARRAY['verification', 'notification', 'marketing'])[1 + t],
    (ARRAY['login', 'shipping', 'sale', 'reminder', 'card'])[1 + (g %% 5)],
    '+8190' || lpad(((g * 7919) %% 90000000 + 10000000)::text, 8, '0'),
    '{}'::jsonb,
    'Benchmark message ' || g,
    1,
    CASE WHEN r < 0.90 THEN 'delivered' WHEN r < 0.93 THEN 'awaiting_receipt'
         WHEN r < 0.97 THEN 'send_failed' ELSE 'processing_failed' END,
    CASE WHEN r < 0.93 THEN ''
         WHEN r < 0.97 THEN (%(send_reasons)s::text[])[1 + c]
         ELSE (%(processing_reasons)s::text[])[1 + (g %% 8)] END,
    CASE WHEN r >= 0.93 AND r < 0.97 THEN 500 + 10 * c END,
    '',
    CASE WHEN r < 0.97 THEN %(channel)s END,
    CASE WHEN r < 0.97 THEN 'bench-' || g END,
    at, CASE WHEN r < 0.97 THEN at + interval '1 second' END,
    CASE WHEN r < 0.90 THEN at + interval '6 seconds' END,
    at + interval '6 seconds', 1
FROM (
    SELECT g, random() AS r, floor(random() * 10)::int AS c, floor(random() * 3)::int AS t,
           now() - random() * interval '30 days' AS at
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
) AS rows
"""


# Each message's send log as the pipeline writes it: requested; its check result; handed to the
# channel; its receipt. An empty send log would flatter every path that reads or grows it.
EVENTS_SQL = """
INSERT INTO delivery_messageevent (message_id, at, kind, detail)
SELECT id, requested_at, 'requested',
       jsonb_build_object('sms_user', 'u' || (sms_user_id %% 2), 'template', template_type, 'tag', tag)
FROM m
UNION ALL
SELECT id, requested_at, 'check_failed', jsonb_build_object('reason', reason)
FROM m WHERE status = 'processing_failed'
UNION ALL
SELECT id, requested_at, 'checks_passed', '{}'::jsonb
FROM m WHERE status <> 'processing_failed'
UNION ALL
SELECT id, channel_delivered_at, 'handed_to_channel',
       jsonb_build_object('channel', 'bench-sim', 'channel_message_id', channel_message_id)
FROM m WHERE channel_delivered_at IS NOT NULL
UNION ALL
SELECT id, updated_at, 'receipt',
       jsonb_build_object('status', CASE WHEN status = 'delivered' THEN 'delivered' ELSE 'failed' END,
                          'code', return_code, 'done_at', updated_at, 'fingerprint', md5(id::text))
FROM m WHERE status IN ('delivered', 'send_failed')
"""

MESSAGES_WITH_EVENTS_SQL = (
    "WITH m AS ("
    + MESSAGES_SQL
    + " RETURNING id, requested_at, status, reason, return_code, channel_message_id,"
    " channel_delivered_at, updated_at, sms_user_id, template_type, tag) " + EVENTS_SQL
)


class Command(BaseCommand):
    help = "Seed millions of benchmark rows (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=5_000_000)

    def handle(self, *args, messages, **options):
        require_postgresql(self)
        if Account.objects.filter(slug="bench-big").exists():
            self.stdout.write("Benchmark data already seeded.")
            return
        channel, _ = Channel.objects.get_or_create(code="bench-sim", defaults={"kind": "simulator"})
        started = time.perf_counter()
        # Building the secondary indexes once at the end is many times faster than growing them row by row.
        indexes = self._drop_secondary_indexes("delivery_message")
        indexes += self._drop_secondary_indexes("delivery_messageevent")
        next_id = 1
        for slug, share in ACCOUNT_SHARES:
            account = Account.objects.create(slug=slug, name=slug, default_channel=channel)
            sms_users = [
                SmsUser.objects.create(
                    account=account, name=f"u{i}", key_hash=f"{slug}-{i}".ljust(64, "0"), key_hint="bench"
                )
                for i in range(2)
            ]
            templates = [
                Template.objects.create(
                    account=account, name=n, type=t, body="Benchmark {{x}}", approval_status="approved"
                )
                for n, t, _ in TEMPLATES
            ]
            count = int(messages * share)
            for first in range(next_id, next_id + count, CHUNK):
                last = min(first + CHUNK - 1, next_id + count - 1)
                with connection.cursor() as cursor:
                    cursor.execute(
                        MESSAGES_WITH_EVENTS_SQL,
                        {
                            "account": account.pk,
                            "sms_users": [u.pk for u in sms_users],
                            "templates": [t.pk for t in templates],
                            "send_reasons": SEND_REASONS,
                            "processing_reasons": PROCESSING_REASONS,
                            "channel": channel.pk,
                            "first": first,
                            "last": last,
                        },
                    )
                self.stdout.write(
                    f"  {slug}: messages {first:,}–{last:,} ({time.perf_counter() - started:.0f} s)"
                )
            next_id += count
            self._replies_and_intercepts(account, count)
        # The triggers logged the counts of every chunk; fold them as the periodic job would.
        message_counts_compact()
        with connection.cursor() as cursor:
            for definition in indexes:
                self.stdout.write(f"  {definition[:90]}…")
                cursor.execute(definition)
            # What autovacuum does to an insert-only table soon after: statistics and the visibility map.
            cursor.execute("VACUUM ANALYZE")
        self.stdout.write(f"Seeded {messages:,} messages in {time.perf_counter() - started:.0f} s.")
        self.stdout.write(
            "Sizes: "
            + table_sizes(
                ["delivery_message", "delivery_messageevent", "intercepts_intercept", "replies_reply"]
            )
        )

    def _drop_secondary_indexes(self, table):
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.tablename = %s AND NOT EXISTS (
                    SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
                """,
                [table],
            )
            rows = cursor.fetchall()
            for name, _ in rows:
                cursor.execute(f'DROP INDEX "{name}"')
        return [definition for _, definition in rows]

    def _replies_and_intercepts(self, account, count):
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO replies_reply (account_id, tag, phone, carrier, content, received_at, is_unsubscribe, is_optout_like)
                SELECT %s, 'sale', '+8180' || lpad(((g::bigint * 104729) %% 90000000 + 10000000)::text, 8, '0'), 'NTT docomo',
                       'Thanks ' || g, now() - random() * interval '30 days', false, g %% 50 = 0
                FROM generate_series(1, %s) AS g
                """,
                [account.pk, count // 20],
            )
            cursor.execute(
                """
                INSERT INTO intercepts_intercept (phone, scope, account_id, return_code, reason, intercepted_at, expires_at, updated_at)
                SELECT '+8170' || lpad((%s::bigint * 1000000 + g)::text, 8, '0'),
                       CASE WHEN g %% 3 = 0 THEN 'local' ELSE 'global' END, %s, 500, 'UNKNOWN SUBSCRIBER',
                       now() - random() * interval '30 days', now() + random() * interval '30 days', now()
                FROM generate_series(1, %s) AS g
                """,
                [account.pk, account.pk, count // 50],
            )
