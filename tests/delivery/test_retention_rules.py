"""What the nightly purge removes and keeps, as an operator sees it the morning after."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery.models import Message, MessageEvent
from delivery.services.retention import retention_purge
from replies.models import Reply
from smsconsole import clock
from tests.factories import MessageEventFactory, MessageFactory, ReplyFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=31)
MESSAGE_DELETE = re.compile(r'^DELETE FROM "delivery_message" WHERE .* IN \(([^)]*)\)')


def deleted_message_ids(queries) -> list[set[int]]:
    """The message ids each DELETE statement of the purge removed, statement by statement."""
    batches = []
    for query in queries.captured_queries:
        match = MESSAGE_DELETE.match(query["sql"])
        if match:
            batches.append({int(pk) for pk in re.findall(r"\d+", match.group(1))})
    return batches


def test_a_purge_batch_never_mixes_two_accounts_messages(account, other_account):
    # Each batch is one range of the (account, requested_at) index: a delete spanning accounts
    # would scan and lock across every customer's rows at once.
    alices = [MessageFactory(account=account, requested_at=OLD).pk for _ in range(2)]
    bobs = [MessageFactory(account=other_account, requested_at=OLD).pk for _ in range(2)]

    with clock.frozen(NOW), CaptureQueriesContext(connection) as queries:
        report = retention_purge(batch_size=10)

    assert report.messages == 4
    assert not Message.objects.exists()
    batches = deleted_message_ids(queries)
    assert sorted(map(sorted, batches)) == sorted([sorted(alices), sorted(bobs)])


def test_a_shorter_retention_asked_for_tonight_overrides_the_setting(account, settings):
    settings.SMS_RETENTION_DAYS = 30
    gone = MessageFactory(account=account, requested_at=NOW - dt.timedelta(days=8))
    kept = MessageFactory(account=account, requested_at=NOW - dt.timedelta(days=6))

    with clock.frozen(NOW):
        report = retention_purge(days=7)

    assert report.messages == 1
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Message.objects.filter(pk=gone.pk).exists()


def test_a_message_goes_with_its_whole_send_log_and_another_accounts_fresh_rows_stay(account, other_account):
    old = MessageFactory(account=account, requested_at=OLD)
    for kind in (MessageEvent.Kind.REQUESTED, MessageEvent.Kind.REQUESTED):
        MessageEventFactory(message=old, kind=kind)
    fresh = MessageFactory(account=other_account, requested_at=NOW - dt.timedelta(days=1))
    MessageEventFactory(message=fresh)

    with clock.frozen(NOW):
        report = retention_purge()

    assert (report.messages, report.replies, report.inbox_items, report.early_receipts) == (1, 0, 0, 0)
    assert list(Message.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert list(MessageEvent.objects.values_list("message_id", flat=True)) == [fresh.pk]


def test_a_recent_reply_to_a_purged_message_is_kept_with_its_text(account):
    # The message is past retention, the reply to it is not: the reply stays readable.
    message = MessageFactory(account=account, requested_at=OLD)
    reply = ReplyFactory(
        account=account, message=message, content="STOP", received_at=NOW - dt.timedelta(days=2)
    )

    with clock.frozen(NOW):
        report = retention_purge()

    assert (report.messages, report.replies) == (1, 0)
    assert not Message.objects.exists()
    assert Reply.objects.get(pk=reply.pk).content == "STOP"


def test_a_second_purge_the_same_night_removes_nothing_more(account):
    MessageFactory(account=account, requested_at=OLD)
    ReplyFactory(account=account, received_at=OLD)
    kept = MessageFactory(account=account, requested_at=NOW - dt.timedelta(days=29))

    with clock.frozen(NOW):
        first = retention_purge(batch_size=1)
        second = retention_purge(batch_size=1)

    assert (first.messages, first.replies) == (1, 1)
    assert (second.messages, second.replies, second.inbox_items, second.early_receipts) == (0, 0, 0, 0)
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]
