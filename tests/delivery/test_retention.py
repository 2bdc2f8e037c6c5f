import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import EarlyReceipt, InboxItem, Message, MessageEvent
from delivery.services.retention import retention_purge
from intercepts.models import Intercept
from replies.models import Reply
from smsconsole import clock
from tests.factories import InterceptFactory, MessageEventFactory, MessageFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def test_purge_removes_messages_logs_and_replies_past_retention(account, other_account):
    now = timezone.now()
    old = [
        MessageFactory(account=a, requested_at=now - dt.timedelta(days=31)) for a in (account, other_account)
    ]
    for message in old:
        MessageEventFactory(message=message)
    fresh = MessageFactory(account=account, requested_at=now - dt.timedelta(days=29))
    MessageEventFactory(message=fresh)
    ReplyFactory(account=account, received_at=now - dt.timedelta(days=31))
    ReplyFactory(account=None, received_at=now - dt.timedelta(days=31))
    kept_reply = ReplyFactory(account=account, received_at=now - dt.timedelta(days=1))
    record = InterceptFactory(account=account, source_message=old[0])

    report = retention_purge(batch_size=1)
    assert (report.messages, report.replies) == (2, 2)
    assert list(Message.objects.all()) == [fresh]
    assert list(MessageEvent.objects.values_list("message_id", flat=True)) == [fresh.pk]
    assert list(Reply.objects.all()) == [kept_reply]
    assert Intercept.objects.filter(pk=record.pk).exists()  # intercepts keep their own lifetime
    assert retention_purge().messages == 0


def test_retention_is_configurable(account, settings):
    settings.SMS_RETENTION_DAYS = 7
    MessageFactory(account=account, requested_at=timezone.now() - dt.timedelta(days=8))
    assert retention_purge().messages == 1


# --- what is purged, and when ---------------------------------------------------------------------
# The cutoff is exactly SMS_RETENTION_DAYS before now: a row a minute past it goes tonight, a row a
# minute short of it stays until tomorrow's run (not a day later).

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)


def inbox_item(simulator, *, received_at, processed_at):
    return InboxItem.objects.create(
        channel=simulator,
        kind=InboxItem.Kind.RECEIPTS,
        content_type="application/json",
        body='{"receipts": []}',
        item_count=0,
        received_at=received_at,
        processed_at=processed_at,
    )


def early_receipt(simulator, cid, *, received_at):
    return EarlyReceipt.objects.create(
        channel=simulator,
        channel_message_id=cid,
        receipt={"id": cid, "status": "delivered", "done_at": received_at.isoformat()},
        received_at=received_at,
        last_attempt_at=received_at,
    )


def test_rows_are_purged_on_the_day_they_pass_retention_not_a_day_later(account, simulator):
    just_past = NOW - dt.timedelta(days=30, minutes=1)
    not_yet = NOW - dt.timedelta(days=30) + dt.timedelta(minutes=1)
    gone = [
        MessageFactory(account=account, requested_at=just_past),
        ReplyFactory(account=account, received_at=just_past),
        inbox_item(simulator, received_at=just_past, processed_at=just_past),
        early_receipt(simulator, "gone", received_at=just_past),
    ]
    kept = [
        MessageFactory(account=account, requested_at=not_yet),
        ReplyFactory(account=account, received_at=not_yet),
        inbox_item(simulator, received_at=not_yet, processed_at=not_yet),
        early_receipt(simulator, "kept", received_at=not_yet),
    ]

    with clock.frozen(NOW):
        report = retention_purge()

    assert (report.messages, report.replies, report.inbox_items, report.early_receipts) == (1, 1, 1, 1)
    for row in gone:
        assert not type(row).objects.filter(pk=row.pk).exists(), row
    for row in kept:
        assert type(row).objects.filter(pk=row.pk).exists(), row


def test_a_webhook_body_not_yet_processed_is_never_purged_however_old(simulator):
    # An unprocessed body holds receipts or replies nobody has applied yet: purging it loses them.
    long_ago = NOW - dt.timedelta(days=90)
    pending = inbox_item(simulator, received_at=long_ago, processed_at=None)
    # Received long ago but processed only yesterday (it waited for a fix): its 30 days run from then.
    late = inbox_item(simulator, received_at=long_ago, processed_at=NOW - dt.timedelta(days=1))
    done = inbox_item(simulator, received_at=long_ago, processed_at=NOW - dt.timedelta(days=31))

    with clock.frozen(NOW):
        report = retention_purge()

    assert report.inbox_items == 1
    assert set(InboxItem.objects.values_list("pk", flat=True)) == {pending.pk, late.pk}
    assert not InboxItem.objects.filter(pk=done.pk).exists()


def test_early_receipts_past_retention_are_purged_waiting_or_orphaned(simulator):
    orphaned = early_receipt(simulator, "orphan", received_at=NOW - dt.timedelta(days=40))
    EarlyReceipt.objects.filter(pk=orphaned.pk).update(orphaned_at=NOW - dt.timedelta(days=37))
    early_receipt(simulator, "old", received_at=NOW - dt.timedelta(days=31))
    recent = early_receipt(simulator, "recent", received_at=NOW - dt.timedelta(days=2))

    with clock.frozen(NOW):
        report = retention_purge(batch_size=1)

    assert report.early_receipts == 2
    assert list(EarlyReceipt.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_purge_works_through_every_account_batch_by_batch(account, other_account):
    old = NOW - dt.timedelta(days=31)
    for owner in (account, other_account, account, other_account, account):
        MessageFactory(account=owner, requested_at=old)
    kept = MessageFactory(account=other_account, requested_at=NOW)

    with clock.frozen(NOW):
        report = retention_purge(batch_size=2)

    assert report.messages == 5
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]


def test_each_batch_is_its_own_short_delete(account, simulator):
    """Nightly purges of millions of rows hold no long lock: at most `batch_size` rows a statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    old = NOW - dt.timedelta(days=31)
    for _ in range(3):
        MessageFactory(account=account, requested_at=old)
        ReplyFactory(account=account, received_at=old)
        inbox_item(simulator, received_at=old, processed_at=old)
        early_receipt(simulator, f"e{_}", received_at=old)

    with clock.frozen(NOW), CaptureQueriesContext(connection) as queries:
        report = retention_purge(batch_size=2)

    assert (report.messages, report.replies, report.inbox_items, report.early_receipts) == (3, 3, 3, 3)
    for table in ("delivery_message", "replies_reply", "delivery_inboxitem", "delivery_earlyreceipt"):
        deletes = [
            q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'DELETE FROM "{table}"')
        ]
        assert len(deletes) == 2, (table, deletes)  # 2 rows, then 1


def test_messages_created_out_of_time_order_are_all_purged(account):
    """Batches follow time, then id: a backfilled old message (a high id, an early time) is not skipped."""
    days_ago = [31, 40, 33, 45, 32, 38, 50]  # ids rise while the times jump back and forth
    for days in days_ago:
        MessageFactory(account=account, requested_at=NOW - dt.timedelta(days=days))
    kept = MessageFactory(account=account, requested_at=NOW - dt.timedelta(days=2))

    with clock.frozen(NOW):
        report = retention_purge(batch_size=2)

    assert report.messages == len(days_ago)
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]


def test_no_purge_statement_deletes_more_than_half_a_batch_of_send_log_lines(account):
    """Send-log lines are wider than messages: at most batch_size / 2 of them a statement, none
    left to the message delete's cascade, so that no statement of a nightly purge runs long."""
    from django.db import connection

    old = NOW - dt.timedelta(days=31)
    messages = [MessageFactory(account=account, requested_at=old) for _ in range(12)]
    for message in messages:
        for _ in range(5):
            MessageEventFactory(message=message, at=old)
    kept = MessageFactory(account=account, requested_at=NOW)
    MessageEventFactory(message=kept, at=NOW)

    deleted_lines, cascaded_lines = [], []

    def count_deleted_lines(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('DELETE FROM "delivery_messageevent"'):
            by_cascade = '"message_id" IN' in sql
            (cascaded_lines if by_cascade else deleted_lines).append(context["cursor"].rowcount)
        return result

    batch_size = 8
    with clock.frozen(NOW), connection.execute_wrapper(count_deleted_lines):
        report = retention_purge(batch_size=batch_size)

    assert report.messages == 12
    assert sum(deleted_lines) == 12 * 5  # every line of the purged messages, by the chunked deletes
    assert not any(cascaded_lines), cascaded_lines
    assert max(deleted_lines) <= batch_size // 2, deleted_lines
    assert list(MessageEvent.objects.values_list("message_id", flat=True)) == [kept.pk]
