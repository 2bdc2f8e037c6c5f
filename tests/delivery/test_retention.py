import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import Message, MessageEvent
from delivery.services.retention import retention_purge
from intercepts.models import Intercept
from replies.models import Reply
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
