"""Replies from recipients: attach each to the message it answers, and act on unsubscribes."""

import datetime as dt
import hashlib
import re
from collections import defaultdict

from django.db import transaction

from delivery.channels.base import ReplyItem
from delivery.models import Message, MessageEvent
from replies.models import Reply, Unsubscribe, UnsubscribeRemoval
from replies.selectors import unsubscribe_keywords
from smsconsole import clock
from smsconsole.exceptions import NotFound, ServiceError
from smsconsole.text import normalize_for_matching, strip_punctuation_and_space

# A reply may answer a message sent up to this long before it.
REPLY_LOOKBACK = dt.timedelta(days=30)
# Phrases that read like "stop" without being an unsubscribe keyword on their own.
OPTOUT_PHRASES = (
    "opt out",
    "optout",
    "remove me",
    "unsubscribe",
    "no more",
    "stop",
    "やめて",
    "不要",
    "停止",
    "解除",
)


def is_unsubscribe(content: str, keywords: set[str]) -> bool:
    """The whole reply is an unsubscribe keyword, ignoring width, case, punctuation and spaces."""
    return strip_punctuation_and_space(normalize_for_matching(content)) in keywords


def looks_like_optout(content: str, keywords: set[str]) -> bool:
    """The reply mentions stopping without being exactly a keyword: for an operator to look at."""
    text = normalize_for_matching(content)
    for phrase in (*keywords, *OPTOUT_PHRASES):
        if phrase.isascii():
            if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text):
                return True
        elif phrase in text:
            return True
    return False


def reply_fingerprint(channel_id: int, item: ReplyItem) -> str:
    raw = f"{channel_id}|{item.phone}|{item.received_at.isoformat()}|{item.content}"
    return hashlib.sha256(raw.encode()).hexdigest()


def replies_ingest(*, channel, replies: list[ReplyItem], now: dt.datetime) -> int:
    """Store replies, each attached to the latest message sent to its number before it arrived.

    A reply that is an unsubscribe keyword puts the number on that account's unsubscribe list; one
    that merely looks like an opt-out is flagged. Runs inside the caller's transaction; returns how
    many replies were new."""
    if not replies:
        return 0
    keywords = {strip_punctuation_and_space(normalize_for_matching(w)) for w in unsubscribe_keywords()}
    keywords.discard("")
    sent_to = _messages_by_phone(channel, replies)
    fingerprints = {reply_fingerprint(channel.pk, item): item for item in replies}
    known = set(Reply.objects.filter(fingerprint__in=fingerprints).values_list("fingerprint", flat=True))

    new_replies = []
    for fingerprint, item in fingerprints.items():
        if fingerprint in known:
            continue
        message = _answered_message(sent_to.get(item.phone, []), item.received_at)
        unsubscribe = message is not None and is_unsubscribe(item.content, keywords)
        new_replies.append(
            Reply(
                account_id=message.account_id if message else None,
                message=message,
                template_id=message.template_id if message else None,
                tag=message.tag if message else "",
                channel=channel,
                phone=item.phone,
                carrier=item.carrier,
                content=item.content,
                received_at=item.received_at,
                fingerprint=fingerprint,
                is_unsubscribe=unsubscribe,
                is_optout_like=not unsubscribe and looks_like_optout(item.content, keywords),
            )
        )
    with transaction.atomic():
        Reply.objects.bulk_create(new_replies)
        Unsubscribe.objects.bulk_create(
            [
                Unsubscribe(account_id=r.account_id, phone=r.phone, created_at=r.received_at, source_reply=r)
                for r in new_replies
                if r.is_unsubscribe
            ],
            ignore_conflicts=True,  # already unsubscribed: the first reply stays the source
        )
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=r.message_id,
                at=now,
                kind=MessageEvent.Kind.REPLY,
                detail={
                    "reply_id": r.pk,
                    "content": r.content[:200],
                    "received_at": r.received_at.isoformat(),
                    "unsubscribed": r.is_unsubscribe,
                },
            )
            for r in new_replies
            if r.message_id
        )
    return len(new_replies)


def _messages_by_phone(channel, replies: list[ReplyItem]) -> dict[str, list[Message]]:
    # Only messages this channel carried: a reply to account A's message must never reach (or
    # unsubscribe the number from) account B, which wrote to the number through another channel.
    earliest = min(item.received_at for item in replies) - REPLY_LOOKBACK
    latest = max(item.received_at for item in replies)
    candidates = (
        Message.objects.filter(
            channel=channel,
            phone__in={item.phone for item in replies},
            requested_at__gte=earliest,
            requested_at__lte=latest,
            channel_delivered_at__isnull=False,
        )
        .only("id", "phone", "account_id", "template_id", "tag", "channel_delivered_at", "requested_at")
        .order_by("-channel_delivered_at", "-id")
    )
    by_phone = defaultdict(list)
    for message in candidates:
        by_phone[message.phone].append(message)
    return by_phone


def _answered_message(sent: list[Message], received_at: dt.datetime) -> Message | None:
    # `sent` is newest first: the first one handed over before the reply arrived is the one it answers.
    for message in sent:
        if message.channel_delivered_at <= received_at:
            return message
    return None


UNSUBSCRIBE_NOTE_MAX_LENGTH = 500


def unsubscribe_remove(*, account, unsubscribe_id: int, actor_user, note: str) -> UnsubscribeRemoval:
    """Take a number off the account's unsubscribe list, so it may be sent to again. Audited.

    The note (why, e.g. "customer opted back in by phone") is required. Another account's entry is
    "not found" whether or not it exists."""
    note = note.strip()
    if not note:
        raise ServiceError("A note saying why the number may be sent to again is required.")
    if len(note) > UNSUBSCRIBE_NOTE_MAX_LENGTH:
        raise ServiceError(f"The note can be at most {UNSUBSCRIBE_NOTE_MAX_LENGTH} characters.")
    with transaction.atomic():
        # Locked, so two operators removing the same entry audit it once.
        entry = Unsubscribe.objects.select_for_update().filter(pk=unsubscribe_id, account=account).first()
        if entry is None:
            raise NotFound("No such unsubscribe entry in this account.")
        removal = UnsubscribeRemoval.objects.create(
            account=account,
            phone=entry.phone,
            unsubscribed_at=entry.created_at,
            source_reply_id=entry.source_reply_id,
            removed_at=clock.now(),
            removed_by=actor_user,
            removed_by_name=actor_user.get_username(),
            source=UnsubscribeRemoval.Source.CONSOLE,
            note=note,
        )
        entry.delete()
    return removal
