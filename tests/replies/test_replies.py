"""Replies: attached to the message they answer; unsubscribe keywords act, look-alikes are flagged."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import MessageStatus, Reason
from replies.models import Reply, Unsubscribe
from replies.services import is_unsubscribe, looks_like_optout
from smsconsole.text import normalize_for_matching, strip_punctuation_and_space
from tests.factories import ChannelFactory, TemplateFactory, UnsubscribeKeywordFactory
from tests.pipeline.helpers import events, post_webhook, send

pytestmark = pytest.mark.django_db

PHONE = "+819011112222"
DEFAULT_KEYWORDS = {
    strip_punctuation_and_space(normalize_for_matching(w))
    for w in ["配信停止", "停止", "STOP", "UNSUBSCRIBE", "退订", "TD"]
}


def reply(content, *, phone=PHONE, at=None, carrier="NTT docomo"):
    return {
        "from": phone,
        "content": content,
        "received_at": (at or timezone.now()).isoformat(),
        "carrier": carrier,
    }


def post_replies(channel, *items):
    response = post_webhook(channel, "replies", {"replies": list(items)})
    assert response.status_code == 202, response.content
    return response


@pytest.mark.parametrize(
    "content",
    ["STOP", "stop", "stop!", "ＳＴＯＰ", " Stop. ", "配信停止", "停止。", "退订", "td", "Unsubscribe"],
)
def test_unsubscribe_keywords_count(content):
    assert is_unsubscribe(content, DEFAULT_KEYWORDS)


@pytest.mark.parametrize(
    "content", ["don't stop", "stop sending me these", "stopwatch", "please 配信停止 thanks", "STD", ""]
)
def test_near_misses_do_not_unsubscribe(content):
    assert not is_unsubscribe(content, DEFAULT_KEYWORDS)


@pytest.mark.parametrize(
    "content, flagged",
    [
        ("stop sending me these", True),
        ("Please remove me", True),
        ("やめてください", True),
        ("Thanks!", False),
        ("stopwatch", False),
    ],
)
def test_optout_look_alikes_are_flagged(content, flagged):
    assert looks_like_optout(content, DEFAULT_KEYWORDS) is flagged


@pytest.fixture
def sent(api, account):
    template = TemplateFactory(account=account, body="Sale today", type="marketing")
    [message] = send(api, template, PHONE, tag="black-friday")
    return message


def test_reply_is_attached_to_the_latest_message_to_that_number(account, simulator, sent):
    post_replies(simulator, reply("Thanks, see you"))
    stored = Reply.objects.get()
    assert (stored.account, stored.message, stored.template, stored.tag) == (
        account,
        sent,
        sent.template,
        "black-friday",
    )
    assert stored.carrier == "NTT docomo" and not stored.is_unsubscribe and not stored.is_optout_like
    assert events(sent)[-1] == "reply"


def test_reply_goes_to_the_account_that_sent_last(api, other_api, account, other_account, simulator, sent):
    later = timezone.now() + dt.timedelta(minutes=5)
    from smsconsole import clock

    with clock.frozen(later):
        [theirs] = send(other_api, TemplateFactory(account=other_account, body="hello"), PHONE)
    post_replies(simulator, reply("who is this?", at=later + dt.timedelta(minutes=1)))
    post_replies(simulator, reply("earlier answer", at=later - dt.timedelta(minutes=1)))
    assert Reply.objects.get(content="who is this?").account == other_account
    assert Reply.objects.get(content="earlier answer").account == account


def test_a_reply_only_answers_messages_its_channel_carried(
    api, other_api, account, other_account, simulator, sent
):
    # Bob wrote to the number later, through another carrier. A STOP arriving on Alice's channel
    # answers Alice's message: it must not reach Bob or unsubscribe the number from Bob's list.
    other_account.default_channel = ChannelFactory(code="other-sim")
    other_account.save()
    from smsconsole import clock

    later = timezone.now() + dt.timedelta(minutes=5)
    with clock.frozen(later):
        send(other_api, TemplateFactory(account=other_account, body="hello"), PHONE)
    post_replies(simulator, reply("STOP", at=later + dt.timedelta(minutes=1)))

    stored = Reply.objects.get()
    assert (stored.account, stored.message) == (account, sent)
    assert list(Unsubscribe.objects.values_list("account__slug", flat=True)) == [account.slug]


def test_reply_matching_no_message_is_kept_for_staff(simulator):
    post_replies(simulator, reply("hello?", phone="+819099998888"))
    stored = Reply.objects.get()
    assert stored.account is None and stored.message is None


def test_stop_reply_unsubscribes_the_number_for_that_account_only(
    api, other_api, account, other_account, simulator, sent
):
    post_replies(simulator, reply("ＳＴＯＰ"))
    unsubscribe = Unsubscribe.objects.get()
    assert (unsubscribe.account, unsubscribe.phone) == (account, PHONE)
    assert unsubscribe.source_reply == Reply.objects.get()
    from smsconsole import clock

    with clock.frozen(timezone.now() + dt.timedelta(minutes=5)):
        [blocked] = send(api, sent.template, PHONE)
        [theirs] = send(other_api, TemplateFactory(account=other_account, body="hi"), PHONE)
    assert blocked.status == MessageStatus.PROCESSING_FAILED and blocked.reason == Reason.UNSUBSCRIBED
    assert theirs.status == MessageStatus.DELIVERED


def test_optout_like_reply_is_flagged_not_acted_on(simulator, sent):
    post_replies(simulator, reply("stop sending me these"))
    stored = Reply.objects.get()
    assert stored.is_optout_like and not stored.is_unsubscribe
    assert not Unsubscribe.objects.exists()


def test_a_second_stop_keeps_the_first_as_source(simulator, sent):
    post_replies(simulator, reply("STOP"))
    post_replies(simulator, reply("stop!!", at=timezone.now() + dt.timedelta(seconds=5)))
    assert Unsubscribe.objects.count() == 1
    assert Unsubscribe.objects.get().source_reply.content == "STOP"


def test_staff_can_add_unsubscribe_keywords(simulator, sent):
    UnsubscribeKeywordFactory(word="やめる")
    post_replies(simulator, reply("やめる"))
    assert Unsubscribe.objects.exists()


def test_the_same_reply_posted_twice_is_stored_once(simulator, sent):
    item = reply("Thanks")
    post_replies(simulator, item)
    post_replies(simulator, item, item)
    assert Reply.objects.count() == 1
    assert events(sent).count("reply") == 1


@pytest.mark.parametrize(
    "item, where",
    [
        ({"content": "hi", "received_at": "2026-11-28T10:00:00Z"}, "replies[0].from"),
        ({"from": "09011112222", "content": "hi", "received_at": "2026-11-28T10:00:00Z"}, "replies[0].from"),
        ({"from": PHONE, "content": "", "received_at": "2026-11-28T10:00:00Z"}, "replies[0].content"),
        ({"from": PHONE, "content": "hi"}, "replies[0].received_at"),
        ({"from": PHONE, "content": "a\u0000b", "received_at": "2026-11-28T10:00:00Z"}, "replies[0].content"),
        ({"from": PHONE, "content": "hi", "received_at": "0001-01-01T00:00:00Z"}, "replies[0].received_at"),
    ],
)
def test_malformed_replies_are_400(simulator, item, where):
    response = post_webhook(simulator, "replies", {"replies": [item]})
    assert response.status_code == 400
    assert where in response.json()["errors"]
    assert not Reply.objects.exists()
