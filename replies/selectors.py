"""Reads of the replies app, used by views, tasks and other apps."""

from dataclasses import dataclass

from django.db.models import QuerySet

from delivery.models import Message, Reason
from replies.models import Reply, Unsubscribe, UnsubscribeKeyword, UnsubscribeRemoval
from smsconsole.caching import cached_or_read
from smsconsole.models import Account


def unsubscribed_pairs(*, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (account, phone) pairs are on their account's unsubscribe list."""
    if not pairs:
        return set()
    rows = Unsubscribe.objects.filter(
        account_id__in={account_id for account_id, _ in pairs}, phone__in={phone for _, phone in pairs}
    ).values_list("account_id", "phone")
    return {row for row in rows if row in pairs}


def unsubscribe_keywords() -> list[str]:
    return list(UnsubscribeKeyword.objects.values_list("word", flat=True))


# --- Console reads -------------------------------------------------------------------------------


def reply_list(*, account: Account) -> QuerySet[Reply]:
    """An account's replies with what the list shows; filter and order it further."""
    return Reply.objects.filter(account=account).select_related("template")


def reply_list_for_phone(*, account: Account, phone: str, limit: int = 500) -> list[Reply]:
    return list(reply_list(account=account).filter(phone=phone).order_by("-received_at", "-id")[:limit])


def unsubscribe_list_for_phone(*, account: Account, phone: str) -> list[Unsubscribe]:
    return list(Unsubscribe.objects.filter(account=account, phone=phone))


def reply_list_for_message(*, account: Account, message, limit: int = 50) -> list[Reply]:
    """The replies that answered one of the account's messages, oldest first.

    Through reply_phone_time (account, phone, time): a reply answers the latest message sent to its
    number, so it is on that number and arrived after the message was requested."""
    return list(
        Reply.objects.filter(
            account=account,
            phone=message.phone,
            received_at__gte=message.requested_at,
            message_id=message.pk,
        ).order_by("received_at", "id")[:limit]
    )


def reply_present_message_ids(*, account: Account, replies) -> frozenset[int]:
    """Which of the messages these replies answered are still kept (messages are purged first)."""
    ids = {reply.message_id for reply in replies if reply.message_id}
    if not ids:
        return frozenset()
    return frozenset(Message.objects.filter(account=account, pk__in=ids).values_list("pk", flat=True))


def unsubscribe_list(*, account: Account) -> QuerySet[Unsubscribe]:
    """An account's unsubscribe list with the replies that put each number on it."""
    return Unsubscribe.objects.filter(account=account).select_related("source_reply")


def unsubscribe_get(*, account: Account, unsubscribe_id: int) -> Unsubscribe | None:
    """One entry of the account's list, or None (another account's id is as absent as a missing one)."""
    return unsubscribe_list(account=account).filter(pk=unsubscribe_id).first()


@dataclass(frozen=True)
class UnsubscribeState:
    """Why a message failed as unsubscribed, as its page tells it: the entry, or its removal since."""

    entry: Unsubscribe | None
    removal: UnsubscribeRemoval | None


def unsubscribe_state_for_message(*, account: Account, message) -> UnsubscribeState | None:
    """For a message that failed as `unsubscribed`: the entry that blocked it (the account's entry
    for the number), or, if the number has been taken off the list since, the latest removal."""
    if message.reason != Reason.UNSUBSCRIBED:
        return None
    entry = unsubscribe_list(account=account).filter(phone=message.phone).first()
    removal = None
    if entry is None:
        removal = (
            UnsubscribeRemoval.objects.filter(account=account, phone=message.phone)
            .order_by("-removed_at", "-id")
            .first()
        )
    return UnsubscribeState(entry=entry, removal=removal)


# See delivery.selectors.TAG_SUGGESTION_WINDOW.
REPLY_TAG_SUGGESTION_WINDOW = 5000
REPLY_TAG_SUGGESTION_SECONDS = 300


def reply_tag_suggestions(*, account: Account) -> list[str]:
    """Tags of the account's recent replies, for the tag filter's suggestions (kept 5 minutes)."""

    def read():
        recent = Reply.objects.filter(account=account).order_by("-received_at", "-id")
        tags = recent.values_list("tag", flat=True)[:REPLY_TAG_SUGGESTION_WINDOW]
        return sorted({tag for tag in tags if tag})

    return cached_or_read(f"reply-tag-suggestions:{account.pk}", read, REPLY_TAG_SUGGESTION_SECONDS)
