"""Ingesting replies, beyond the common case: which message a reply answers at the edges, what it
leaves in the message's send log, and bodies that repeat replies already stored."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import InboxItem, MessageEvent, MessageStatus
from replies.models import Reply, Unsubscribe
from replies.services import replies_ingest
from tests.factories import ChannelFactory, MessageFactory, UnsubscribeKeywordFactory
from tests.replies.test_replies import PHONE, post_replies, reply

pytestmark = pytest.mark.django_db


def handed(account, *, at, requested_at=None):
    """A message to PHONE handed to the account's channel at `at`."""
    return MessageFactory(
        account=account,
        phone=PHONE,
        status=MessageStatus.DELIVERED,
        channel=account.default_channel,
        channel_delivered_at=at,
        requested_at=requested_at or at - dt.timedelta(seconds=1),
    )


def inbox_is_clean():
    """Every body was applied whole: nothing set aside, nothing failed item by item."""
    rows = list(InboxItem.objects.values_list("processed_at", "failed_items", "last_error"))
    return all(processed is not None and not failed and not error for processed, failed, error in rows)


def test_a_reply_answers_the_message_handed_over_last_not_the_one_created_last(account, simulator):
    now = timezone.now()
    handed_later = handed(account, at=now - dt.timedelta(minutes=1), requested_at=now - dt.timedelta(hours=1))
    handed(account, at=now - dt.timedelta(minutes=30))  # created after, but handed over before

    post_replies(simulator, reply("ok", at=now))

    assert Reply.objects.get().message == handed_later


def test_a_reply_at_the_very_moment_of_the_hand_over_answers_that_message(account, simulator):
    at = timezone.now().replace(microsecond=0)
    message = handed(account, at=at)

    post_replies(simulator, reply("fast thumbs", at=at))

    assert Reply.objects.get().message == message


def test_a_reply_to_a_message_older_than_the_lookback_is_kept_unattached(account, simulator):
    now = timezone.now()
    handed(account, at=now - dt.timedelta(days=31))

    post_replies(simulator, reply("STOP", at=now))

    stored = Reply.objects.get()
    assert (stored.account, stored.message, stored.tag) == (None, None, "")
    assert stored.channel == simulator
    assert not Unsubscribe.objects.exists()


def test_the_reply_is_in_the_messages_send_log(account, simulator):
    message = handed(account, at=timezone.now() - dt.timedelta(minutes=1))
    content = "ありがとうございます。" * 30  # 330 characters: the log keeps the first 200
    at = timezone.now().replace(microsecond=0)

    post_replies(simulator, reply(content, at=at))

    stored = Reply.objects.get()
    logged = MessageEvent.objects.get(message=message, kind=MessageEvent.Kind.REPLY).detail
    assert logged == {
        "reply_id": stored.pk,
        "content": content[:200],
        "received_at": at.isoformat(),
        "unsubscribed": False,
    }


def test_a_body_repeating_a_stored_reply_stores_only_the_new_ones_and_applies_cleanly(account, simulator):
    message = handed(account, at=timezone.now() - dt.timedelta(minutes=5))
    first = reply("first", at=timezone.now() - dt.timedelta(minutes=2))
    post_replies(simulator, first)

    post_replies(simulator, first, reply("second"))

    assert sorted(Reply.objects.values_list("content", flat=True)) == ["first", "second"]
    assert MessageEvent.objects.filter(message=message, kind=MessageEvent.Kind.REPLY).count() == 2
    assert inbox_is_clean()


def test_a_second_stop_from_an_unsubscribed_number_is_stored_and_applies_cleanly(account, simulator):
    handed(account, at=timezone.now() - dt.timedelta(minutes=5))
    post_replies(simulator, reply("STOP", at=timezone.now() - dt.timedelta(minutes=1)))

    post_replies(simulator, reply("STOP!!"))

    assert Reply.objects.filter(is_unsubscribe=True).count() == 2
    assert Unsubscribe.objects.get().source_reply.content == "STOP"
    assert inbox_is_clean()


def test_the_same_reply_through_two_channels_is_two_replies(account, simulator):
    other = ChannelFactory(code="other-carrier")
    item = reply("hello", at=timezone.now())

    post_replies(simulator, item)
    post_replies(other, item)

    assert sorted(Reply.objects.values_list("channel__code", flat=True)) == ["other-carrier", "sim"]


def test_a_keyword_of_punctuation_alone_never_unsubscribes_a_reply_of_punctuation(account, simulator):
    # Both reduce to nothing once punctuation and spaces go: "" must not count as a keyword.
    UnsubscribeKeywordFactory(word="!!!")
    handed(account, at=timezone.now() - dt.timedelta(minutes=1))

    post_replies(simulator, reply("?!"))

    assert not Reply.objects.get().is_unsubscribe
    assert not Unsubscribe.objects.exists()


def test_ingest_says_how_many_replies_were_new(simulator):
    from delivery.channels.base import ReplyItem

    now = timezone.now()
    item = ReplyItem(phone=PHONE, content="hi", received_at=now)

    assert replies_ingest(channel=simulator, replies=[], now=now) == 0
    assert replies_ingest(channel=simulator, replies=[item], now=now) == 1
    assert replies_ingest(channel=simulator, replies=[item], now=now) == 0
