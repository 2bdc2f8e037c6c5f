"""Reads of the replies app, used by views, tasks and other apps."""

from django.db.models import QuerySet

from replies.models import Reply, Unsubscribe, UnsubscribeKeyword
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


# See delivery.selectors.TAG_SUGGESTION_WINDOW.
REPLY_TAG_SUGGESTION_WINDOW = 5000


def reply_tag_suggestions(*, account: Account) -> list[str]:
    recent = Reply.objects.filter(account=account).order_by("-received_at", "-id")
    tags = recent.values_list("tag", flat=True)[:REPLY_TAG_SUGGESTION_WINDOW]
    return sorted({tag for tag in tags if tag})
