"""Which message a reply answers at the edges of the lookback and of a batch, what is stored of it,
which replies count as unsubscribes or look like opt-outs, and which numbers dispatch skips."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import Message, MessageEvent, MessageStatus, Reason
from replies.models import Reply, Unsubscribe
from replies.selectors import unsubscribed_pairs
from replies.services import looks_like_optout
from smsconsole import clock
from tests.factories import (
    AccountFactory,
    MessageFactory,
    TemplateFactory,
    UnsubscribeFactory,
    UnsubscribeKeywordFactory,
)
from tests.replies.test_replies import DEFAULT_KEYWORDS, PHONE, post_replies, reply

pytestmark = pytest.mark.django_db

OTHER_PHONE = "+819033334444"


def handed(account, *, at, phone=PHONE, requested_at=None, **fields):
    """A message to `phone` handed to the account's channel at `at`."""
    return MessageFactory(
        account=account,
        phone=phone,
        status=MessageStatus.DELIVERED,
        channel=account.default_channel,
        channel_delivered_at=at,
        requested_at=requested_at or at - dt.timedelta(seconds=1),
        **fields,
    )


# --- which message a reply answers ---------------------------------------------------------------


def test_a_reply_stores_who_sent_what_and_when_with_the_message_it_answers(account, simulator):
    template = TemplateFactory(account=account, body="Sale today")
    now = timezone.now().replace(microsecond=0)
    message = handed(account, at=now - dt.timedelta(minutes=3), template=template, tag="spring-sale")

    with clock.frozen(now + dt.timedelta(seconds=30)):
        post_replies(simulator, reply("Thanks a lot", at=now, carrier="KDDI"))

    stored = Reply.objects.get()
    assert (stored.account, stored.message, stored.template, stored.tag, stored.channel) == (
        account,
        message,
        template,
        "spring-sale",
        simulator,
    )
    assert (stored.phone, stored.carrier, stored.content, stored.received_at) == (
        PHONE,
        "KDDI",
        "Thanks a lot",
        now,
    )
    assert not stored.is_unsubscribe and not stored.is_optout_like
    logged = MessageEvent.objects.get(message=message, kind=MessageEvent.Kind.REPLY)
    assert logged.at == now + dt.timedelta(seconds=30)  # when we learnt of it


def test_a_reply_exactly_at_the_end_of_the_lookback_still_answers(account, simulator):
    now = timezone.now().replace(microsecond=0)
    message = handed(account, at=now - dt.timedelta(days=30), requested_at=now - dt.timedelta(days=30))

    post_replies(simulator, reply("late answer", at=now))

    assert Reply.objects.get().message == message


def test_a_message_requested_and_handed_over_the_instant_the_reply_came_is_answered(account, simulator):
    at = timezone.now().replace(microsecond=0)
    message = handed(account, at=at, requested_at=at)

    post_replies(simulator, reply("instant", at=at))

    assert Reply.objects.get().message == message


def test_an_old_reply_and_a_new_one_in_one_body_each_find_their_message(account, simulator):
    now = timezone.now().replace(microsecond=0)
    old = handed(account, at=now - dt.timedelta(days=40))
    new = handed(account, at=now - dt.timedelta(minutes=5))

    post_replies(
        simulator,
        reply("new answer", at=now),
        reply("old answer", at=now - dt.timedelta(days=39)),
    )

    assert Reply.objects.get(content="old answer").message == old
    assert Reply.objects.get(content="new answer").message == new


def test_a_message_sent_between_two_replies_of_one_body_is_answered_by_the_later(account, simulator):
    now = timezone.now().replace(microsecond=0)
    earlier = handed(account, at=now - dt.timedelta(hours=2))
    between = handed(account, at=now - dt.timedelta(minutes=30))

    post_replies(
        simulator,
        reply("first", at=now - dt.timedelta(hours=1)),
        reply("second", at=now),
    )

    assert Reply.objects.get(content="first").message == earlier
    assert Reply.objects.get(content="second").message == between


def test_a_message_not_handed_over_yet_is_never_answered(account, simulator):
    now = timezone.now().replace(microsecond=0)
    sent = handed(account, at=now - dt.timedelta(minutes=10))
    MessageFactory(
        account=account,
        phone=PHONE,
        status=MessageStatus.REQUESTING,
        channel=account.default_channel,
        requested_at=now - dt.timedelta(minutes=1),
    )

    post_replies(simulator, reply("ok", at=now))

    assert Reply.objects.get().message == sent


def test_of_two_messages_handed_over_at_the_same_instant_the_later_one_is_answered(account, simulator):
    now = timezone.now().replace(microsecond=0)
    at = now - dt.timedelta(minutes=1)
    handed(account, at=at)
    later = handed(account, at=at)

    post_replies(simulator, reply("which one?", at=now))

    assert Reply.objects.get().message == later


def test_replies_from_two_numbers_in_one_body_each_answer_their_own_message(account, simulator):
    now = timezone.now().replace(microsecond=0)
    mine = handed(account, at=now - dt.timedelta(minutes=2))
    other = handed(account, at=now - dt.timedelta(minutes=1), phone=OTHER_PHONE)

    post_replies(simulator, reply("from one", at=now), reply("from other", phone=OTHER_PHONE, at=now))

    assert Reply.objects.get(phone=PHONE).message == mine
    assert Reply.objects.get(phone=OTHER_PHONE).message == other


# --- what makes two replies different ------------------------------------------------------------


def test_replies_differing_only_in_content_number_or_time_are_each_stored(account, simulator):
    now = timezone.now().replace(microsecond=0)
    handed(account, at=now - dt.timedelta(minutes=5))
    handed(account, at=now - dt.timedelta(minutes=5), phone=OTHER_PHONE)

    post_replies(
        simulator,
        reply("yes", at=now),
        reply("no", at=now),
        reply("yes", at=now, phone=OTHER_PHONE),
        reply("yes", at=now - dt.timedelta(seconds=1)),
    )

    assert Reply.objects.count() == 4
    assert MessageEvent.objects.filter(kind=MessageEvent.Kind.REPLY).count() == 4


# --- unsubscribes and look-alikes ---------------------------------------------------------------


def test_a_stop_reply_unsubscribes_from_the_time_it_was_sent_and_says_so_in_the_log(account, simulator):
    now = timezone.now().replace(microsecond=0)
    message = handed(account, at=now - dt.timedelta(minutes=5))
    sent_at = now - dt.timedelta(minutes=1)

    post_replies(simulator, reply("Stop", at=sent_at))

    stored = Reply.objects.get()
    assert stored.is_unsubscribe and not stored.is_optout_like
    entry = Unsubscribe.objects.get()
    assert (entry.account, entry.phone, entry.created_at, entry.source_reply) == (
        account,
        PHONE,
        sent_at,
        stored,
    )
    logged = MessageEvent.objects.get(message=message, kind=MessageEvent.Kind.REPLY).detail
    assert logged["unsubscribed"] is True and logged["content"] == "Stop"


def test_a_stop_that_answers_no_message_is_flagged_for_an_operator_not_acted_on(simulator):
    post_replies(simulator, reply("STOP", phone="+819099998888"))

    stored = Reply.objects.get()
    assert not stored.is_unsubscribe and stored.is_optout_like
    assert not Unsubscribe.objects.exists()
    assert not MessageEvent.objects.filter(kind=MessageEvent.Kind.REPLY).exists()


def test_a_keyword_staff_added_in_capitals_matches_a_reply_in_small_letters(account, simulator):
    UnsubscribeKeywordFactory(word="ＱＵＩＴ ")
    handed(account, at=timezone.now() - dt.timedelta(minutes=1))

    post_replies(simulator, reply("quit"))

    assert Reply.objects.get().is_unsubscribe
    assert Unsubscribe.objects.filter(account=account, phone=PHONE).exists()


def test_a_reply_mentioning_a_staff_keyword_is_flagged(account, simulator):
    UnsubscribeKeywordFactory(word="Cancel")
    UnsubscribeKeywordFactory(word="取消")
    handed(account, at=timezone.now() - dt.timedelta(minutes=2))

    post_replies(
        simulator,
        reply("please cancel my messages", at=timezone.now() - dt.timedelta(seconds=2)),
        reply("请取消", at=timezone.now() - dt.timedelta(seconds=1)),
        reply("cancellation policy?"),
    )

    flags = dict(Reply.objects.values_list("content", "is_optout_like"))
    assert flags == {"please cancel my messages": True, "请取消": True, "cancellation policy?": False}
    assert not Unsubscribe.objects.exists()


@pytest.mark.parametrize(
    "content, flagged",
    [
        ("please stop", True),
        ("non-stop fun", True),
        ("STOP.", True),
        ("td please", True),
        ("请退订谢谢", True),
        ("nonstop", False),
        ("1stop shop", False),
        ("stop1", False),
        ("stops", False),
        ("ありがとう", False),
    ],
)
def test_a_stop_word_counts_only_as_a_whole_word(content, flagged):
    assert looks_like_optout(content, DEFAULT_KEYWORDS) is flagged


# --- what dispatch skips -------------------------------------------------------------------------


def test_each_account_skips_only_the_numbers_on_its_own_list(account, other_account):
    from delivery.services.dispatch import due_messages_dispatch
    from tests.pipeline.helpers import pipeline

    # Alice's list has the other number, Bob's has PHONE: neither lists the number it sends to.
    UnsubscribeFactory(account=account, phone=OTHER_PHONE)
    UnsubscribeFactory(account=other_account, phone=PHONE)
    third = AccountFactory(slug="carol-cafe")
    UnsubscribeFactory(account=third, phone=PHONE)
    now = timezone.now()
    mine = MessageFactory(
        account=account, phone=PHONE, template=TemplateFactory(account=account, body="hi"), content="hi"
    )
    theirs = MessageFactory(
        account=other_account,
        phone=OTHER_PHONE,
        template=TemplateFactory(account=other_account, body="hi"),
        content="hi",
    )
    blocked = MessageFactory(
        account=third, phone=PHONE, template=TemplateFactory(account=third, body="hi"), content="hi"
    )
    Message.objects.filter(pk__in=[mine.pk, theirs.pk, blocked.pk]).update(next_attempt_at=now)

    with pipeline():
        due_messages_dispatch()

    for message in (mine, theirs, blocked):
        message.refresh_from_db()
    assert mine.status == MessageStatus.DELIVERED and theirs.status == MessageStatus.DELIVERED
    assert (blocked.status, blocked.reason) == (MessageStatus.PROCESSING_FAILED, Reason.UNSUBSCRIBED)


def test_the_unsubscribed_pairs_are_exactly_those_on_their_accounts_list(account, other_account):
    UnsubscribeFactory(account=account, phone=OTHER_PHONE)
    UnsubscribeFactory(account=other_account, phone=PHONE)
    UnsubscribeFactory(account=other_account, phone=OTHER_PHONE)

    asked = {(account.pk, PHONE), (other_account.pk, OTHER_PHONE), (account.pk, "+819055556666")}
    assert unsubscribed_pairs(pairs=asked) == {(other_account.pk, OTHER_PHONE)}
    assert unsubscribed_pairs(pairs=set()) == set()


def test_a_reply_to_a_number_whose_message_is_not_handed_over_yet_is_kept_unattached(account, simulator):
    now = timezone.now().replace(microsecond=0)
    MessageFactory(
        account=account,
        phone=PHONE,
        status=MessageStatus.REQUESTING,
        channel=account.default_channel,
        requested_at=now - dt.timedelta(minutes=1),
    )

    post_replies(simulator, reply("STOP", at=now))

    stored = Reply.objects.get()
    assert (stored.account, stored.message, stored.is_unsubscribe) == (None, None, False)
    assert not Unsubscribe.objects.exists()
