"""Reads of the callbacks app, always scoped to one account."""

from django.db.models import QuerySet

from callbacks.models import CallbackAttempt, CallbackEndpoint, CallbackEvent, EventState
from smsconsole.models import Account


def endpoint_get(*, account: Account) -> CallbackEndpoint | None:
    return CallbackEndpoint.objects.filter(account=account).first()


def attempt_list(*, account: Account) -> QuerySet[CallbackAttempt]:
    """The account's delivery log (order it yourself: the list pages by keyset)."""
    return CallbackAttempt.objects.filter(account=account)


def pending_event_count(*, account: Account) -> int:
    return CallbackEvent.objects.filter(account=account, state=EventState.PENDING).count()


def event_exists(*, account: Account, event_id: int) -> bool:
    return CallbackEvent.objects.filter(account=account, pk=event_id).exists()
