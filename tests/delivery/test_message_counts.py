"""The counts above the status list come from rollups kept by triggers: they must equal counting
the messages themselves, for any filter and period, before and after the changes are folded."""

import datetime as dt
import random
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from delivery.models import (
    Message,
    MessageCountChange,
    MessageCountDay,
    MessageCountHour,
    MessageStatus,
    Reason,
    TemplateType,
)
from delivery.selectors import message_status_counts
from delivery.services.counts import message_counts_compact
from tests.factories import MessageFactory, SmsUserFactory, TemplateFactory
from tests.pipeline.helpers import send

URL = "/status/"
OUTCOMES = [
    (MessageStatus.REQUESTING, "", None),
    (MessageStatus.AWAITING_RECEIPT, "", None),
    (MessageStatus.DELIVERED, "", None),
    (MessageStatus.PROCESSING_FAILED, Reason.LOCAL_INTERCEPT, None),
    (MessageStatus.PROCESSING_FAILED, Reason.OTHER, None),
    (MessageStatus.SEND_FAILED, Reason.BUSY, 530),
    (MessageStatus.SEND_FAILED, Reason.OTHER, 590),
]


def counted(messages) -> dict:
    """What the counts must say: the messages counted one by one."""
    return dict(Counter((message.status, message.reason) for message in messages))


def rollup_counts(account, **filters) -> dict:
    return {
        (row["status"], row["reason"]): row["count"]
        for row in message_status_counts(account=account, **filters)
    }


@pytest.fixture
def mixed_messages(account):
    """Three days of one account's messages over every counted dimension, at random minutes."""
    rng = random.Random(20261204)
    users = [SmsUserFactory(account=account), SmsUserFactory(account=account)]
    templates = [
        TemplateFactory(account=account, type=TemplateType.NOTIFICATION),
        TemplateFactory(account=account, type=TemplateType.MARKETING),
    ]
    now = timezone.now()
    messages = []
    for _ in range(240):
        status, reason, code = rng.choice(OUTCOMES)
        template = rng.choice(templates)
        messages.append(
            Message(
                **{
                    field: getattr(MessageFactory.build(account=account), field)
                    for field in ("phone", "content", "segments", "updated_at")
                },
                account=account,
                sms_user=rng.choice(users),
                template=template,
                template_type=template.type,
                tag=rng.choice(["", "sale", "otp"]),
                status=status,
                reason=reason,
                return_code=code,
                requested_at=now - dt.timedelta(minutes=rng.randrange(3 * 24 * 60)),
            )
        )
    Message.objects.bulk_create(messages)
    return rng, users, templates, now


def random_filters(rng, users, templates, now) -> dict:
    filters = {}
    if rng.random() < 0.8:
        filters["requested_from"] = now - dt.timedelta(
            minutes=rng.randrange(4 * 24 * 60), seconds=rng.randrange(60)
        )
    if rng.random() < 0.5:
        filters["requested_to"] = now - dt.timedelta(minutes=rng.randrange(3 * 24 * 60))
    if rng.random() < 0.3:
        filters["template_type"] = rng.choice(templates).type
    if rng.random() < 0.3:
        filters["tag"] = rng.choice(["", "sale", "otp"])
    if rng.random() < 0.3:
        filters["sms_user"] = rng.choice(users)
    return filters


def matching(account, filters) -> list[Message]:
    messages = Message.objects.filter(account=account)
    if "requested_from" in filters:
        messages = messages.filter(requested_at__gte=filters["requested_from"])
    if "requested_to" in filters:
        messages = messages.filter(requested_at__lte=filters["requested_to"])
    if filters.get("template_type"):
        messages = messages.filter(template_type=filters["template_type"])
    if filters.get("tag"):
        messages = messages.filter(tag=filters["tag"])
    if filters.get("sms_user"):
        messages = messages.filter(sms_user=filters["sms_user"])
    if filters.get("phone"):
        messages = messages.filter(phone=filters["phone"])
    return list(messages)


def assert_counts_match_for_many_filters(account, rng, users, templates, now, *, tries=60):
    for _ in range(tries):
        filters = random_filters(rng, users, templates, now)
        assert rollup_counts(account, **filters) == counted(matching(account, filters)), filters


@pytest.mark.django_db
def test_counts_equal_the_messages_for_any_filter_before_and_after_folding(account, mixed_messages):
    assert_counts_match_for_many_filters(account, *mixed_messages)
    assert MessageCountChange.objects.exists()  # nothing folded yet: the changes alone count

    report = message_counts_compact()

    assert report.changes_folded > 0
    assert not MessageCountChange.objects.exists()
    assert_counts_match_for_many_filters(account, *mixed_messages)


@pytest.mark.django_db
def test_status_changes_and_deletes_move_the_counts(account, mixed_messages):
    rng, users, templates, now = mixed_messages
    message_counts_compact()
    ids = list(
        Message.objects.filter(account=account, status=MessageStatus.REQUESTING).values_list("id", flat=True)
    )
    Message.objects.filter(id__in=ids[: len(ids) // 2]).update(status=MessageStatus.AWAITING_RECEIPT)
    Message.objects.filter(status=MessageStatus.AWAITING_RECEIPT).update(status=MessageStatus.DELIVERED)
    Message.objects.filter(status=MessageStatus.SEND_FAILED, reason=Reason.BUSY).delete()
    Message.objects.filter(tag="otp").update(updated_at=now)  # changes nothing counted

    assert_counts_match_for_many_filters(account, *mixed_messages, tries=30)
    message_counts_compact(batch=7)  # folded in many small transactions
    assert_counts_match_for_many_filters(account, *mixed_messages, tries=30)
    assert (MessageStatus.SEND_FAILED, Reason.BUSY) not in rollup_counts(account)


@pytest.mark.django_db
def test_an_update_that_changes_no_counted_column_appends_no_change(account):
    message = MessageFactory(account=account)
    message_counts_compact()

    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now(), dispatch_attempts=2)

    assert not MessageCountChange.objects.exists()


@pytest.mark.django_db
def test_purged_messages_leave_no_zero_rows_once_folded(account):
    MessageFactory.create_batch(3, account=account, requested_at=timezone.now() - dt.timedelta(days=2))
    message_counts_compact()
    Message.objects.filter(account=account).delete()

    message_counts_compact()

    assert rollup_counts(account) == {}
    assert not MessageCountHour.objects.exists()
    assert not MessageCountDay.objects.exists()


@pytest.mark.django_db
def test_a_phone_filter_counts_that_numbers_messages(account):
    MessageFactory.create_batch(2, account=account, phone="+819011112221", status=MessageStatus.DELIVERED)
    MessageFactory(account=account, status=MessageStatus.DELIVERED)

    assert rollup_counts(account, phone="+819011112221") == {(MessageStatus.DELIVERED, ""): 2}


@pytest.mark.django_db
def test_another_accounts_messages_are_not_counted(account, other_account):
    MessageFactory.create_batch(2, account=other_account, status=MessageStatus.DELIVERED)
    MessageFactory(account=account, status=MessageStatus.DELIVERED)
    message_counts_compact()

    assert rollup_counts(account) == {(MessageStatus.DELIVERED, ""): 1}


@pytest.mark.django_db
def test_a_period_within_one_hour_and_periods_on_hour_boundaries(account):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=5)
    for minutes in (0, 10, 59, 60, 61, 120):
        MessageFactory(account=account, requested_at=hour + dt.timedelta(minutes=minutes))
    message_counts_compact()
    requesting = (MessageStatus.REQUESTING, "")

    def count(start, end):
        return rollup_counts(account, requested_from=start, requested_to=end).get(requesting, 0)

    assert count(hour + dt.timedelta(minutes=5), hour + dt.timedelta(minutes=30)) == 1
    assert count(hour, hour + dt.timedelta(hours=1)) == 4  # both ends are included
    assert count(hour, hour + dt.timedelta(hours=2)) == 6
    assert count(hour + dt.timedelta(minutes=1), hour + dt.timedelta(minutes=60)) == 3
    assert count(hour, hour) == 1


@pytest.mark.django_db
def test_the_status_page_counts_a_message_that_went_through_the_pipeline(api, account, operator_client):
    [message] = send(api, TemplateFactory(account=account, body="Order {{order}} shipped"), "+819011112222")
    assert message.status == MessageStatus.DELIVERED

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Delivered <strong>1</strong>" in content
    assert "Requesting <strong>" not in content


def test_the_triggers_that_keep_the_counts_exist(db):
    # Django remakes a SQLite table to alter it, which drops its triggers: a later migration of
    # delivery_message must create them again.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger"
                " WHERE tgrelid = 'delivery_message'::regclass AND NOT tgisinternal"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'delivery_message'"
            )
        names = {name for (name,) in cursor.fetchall()}
    assert names >= {
        "delivery_message_count_insert",
        "delivery_message_count_update",
        "delivery_message_count_delete",
    }


@pytest.mark.postgresql  # VACUUM
@pytest.mark.django_db(transaction=True)
def test_folding_leaves_no_dead_rows_under_the_counts(account):
    MessageFactory.create_batch(3, account=account)
    Message.objects.filter(account=account).update(status=MessageStatus.AWAITING_RECEIPT)

    message_counts_compact()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_dead_tup, last_vacuum IS NOT NULL FROM pg_stat_user_tables"
            " WHERE relname = 'delivery_messagecountchange'"
        )
        dead, vacuumed = cursor.fetchone()
    assert vacuumed and dead == 0
    assert rollup_counts(account) == {(MessageStatus.AWAITING_RECEIPT, ""): 3}


@pytest.mark.django_db
def test_the_rollups_by_status_alone_equal_the_full_ones(account, mixed_messages):
    from django.db.models import Sum

    from delivery.models import MessageCountStatusDay, MessageCountStatusHour

    message_counts_compact()

    def by_status(model, period):
        rows = model.objects.values(period, "status", "reason").annotate(n=Sum("count"))
        return {(row[period], row["status"], row["reason"]): row["n"] for row in rows if row["n"]}

    assert by_status(MessageCountStatusDay, "day_start_at") == by_status(MessageCountDay, "day_start_at")
    assert by_status(MessageCountStatusHour, "hour_start_at") == by_status(MessageCountHour, "hour_start_at")
