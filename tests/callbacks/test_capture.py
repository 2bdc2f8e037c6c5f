"""Events are recorded by triggers in the same transaction as the change they report, whatever path
made it, with the status as it was at that moment."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from callbacks.models import CallbackEvent, EventKind
from delivery.models import Message, MessageStatus, Reason
from tests.factories import CallbackEndpointFactory, MessageFactory, ReplyFactory


def test_the_triggers_that_record_callback_events_exist(db):
    # Django remakes a SQLite table to alter it, which drops its triggers: a later migration of
    # delivery_message or replies_reply must create them again.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {name for (name,) in cursor.fetchall()}
    assert {"callbacks_message_status", "callbacks_reply"} <= names


@pytest.mark.django_db
def test_every_reported_status_change_records_an_event_with_its_status_then(account):
    CallbackEndpointFactory(account=account)
    message = MessageFactory(account=account)
    assert not CallbackEvent.objects.exists()  # requesting is not reported

    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.AWAITING_RECEIPT, channel_delivered_at=now, updated_at=now
    )
    Message.objects.filter(pk=message.pk).update(tag="unrelated")  # no status change, no event
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530, updated_at=now
    )

    events = list(CallbackEvent.objects.order_by("id"))
    assert [(e.kind, e.status, e.reason, e.return_code) for e in events] == [
        (EventKind.STATUS, MessageStatus.AWAITING_RECEIPT, "", None),
        (EventKind.STATUS, MessageStatus.SEND_FAILED, Reason.BUSY, 530),
    ]
    assert events[0].message_id == message.pk and events[0].channel_delivered_at == now


@pytest.mark.django_db
def test_one_statement_changing_many_messages_records_one_event_each(account):
    CallbackEndpointFactory(account=account)
    messages = MessageFactory.create_batch(5, account=account)

    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=MessageStatus.DELIVERED)

    assert sorted(CallbackEvent.objects.values_list("message_id", flat=True)) == sorted(
        m.pk for m in messages
    )


@pytest.mark.django_db
def test_nothing_is_recorded_for_an_account_without_an_endpoint_or_not_subscribed(account, other_account):
    CallbackEndpointFactory(account=other_account, is_status_subscribed=False)
    for owner in (account, other_account):
        message = MessageFactory(account=owner)
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)
        ReplyFactory(account=account, message=message)

    assert not CallbackEvent.objects.filter(kind=EventKind.STATUS).exists()
    # The other account subscribed to replies; ours has no endpoint at all.
    assert list(CallbackEvent.objects.values_list("account_id", "kind")) == []


@pytest.mark.django_db
def test_a_reply_records_a_reply_event(account):
    CallbackEndpointFactory(account=account)
    message = MessageFactory(account=account)
    reply = ReplyFactory(account=account, message=message)
    ReplyFactory(account=None)  # a reply matching no message belongs to nobody

    event = CallbackEvent.objects.get()
    assert (event.kind, event.reply_id, event.message_id) == (EventKind.REPLY, reply.pk, message.pk)


@pytest.mark.django_db
def test_an_event_is_rolled_back_with_its_change(account):
    CallbackEndpointFactory(account=account)
    message = MessageFactory(account=account)

    with pytest.raises(RuntimeError), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)
        raise RuntimeError

    assert not CallbackEvent.objects.exists()
