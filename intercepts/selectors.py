"""Reads of the intercepts app, used by views, tasks and other apps."""

import datetime as dt

from django.db.models import Q, QuerySet

from delivery.models import Message, MessageStatus, Reason
from intercepts.models import Intercept, InterceptEvent, InterceptRule, Scope
from smsconsole.models import Account


def blocking_intercepts(*, phones, account_ids, at: dt.datetime) -> list[Intercept]:
    """Live records that block any of `account_ids` from any of `phones` at `at`."""
    if not phones:
        return []
    return list(
        Intercept.objects.live(at)
        .filter(phone__in=set(phones))
        .filter(Q(scope=Scope.GLOBAL) | Q(scope=Scope.LOCAL, account_id__in=set(account_ids)))
    )


def intercept_rules_by_code() -> dict[int, InterceptRule]:
    return {rule.return_code: rule for rule in InterceptRule.objects.all()}


# --- Console reads -------------------------------------------------------------------------------
# A customer sees the records its account originated, and other accounts' *global* records only
# where they matter to it: they blocked one of its messages, or it looked up that exact number.


def _foreign_ids_blocking(*, account: Account) -> list[int]:
    # Served by msg_status_time (account, status, reason, ...): only this account's messages that
    # a global record blocked are read, however big the intercept table is.
    return list(
        Message.objects.filter(
            account=account,
            status=MessageStatus.PROCESSING_FAILED,
            reason=Reason.GLOBAL_INTERCEPT,
            blocking_intercept__isnull=False,
        )
        .order_by()
        .values_list("blocking_intercept_id", flat=True)
        .distinct()
    )


def intercept_list_for(*, account: Account, phone: str = "") -> QuerySet[Intercept]:
    """The intercept records `account` may see; with `phone` (E.164), that number's records only."""
    if phone:
        return Intercept.objects.filter(Q(account=account) | Q(scope=Scope.GLOBAL), phone=phone)
    foreign_ids = _foreign_ids_blocking(account=account)
    if not foreign_ids:
        return Intercept.objects.filter(account=account)
    return Intercept.objects.filter(Q(account=account) | Q(pk__in=foreign_ids, scope=Scope.GLOBAL))


def intercept_get_for(*, account: Account, intercept_id: int) -> Intercept | None:
    """A record `account` may see: its own, or a global one that blocked it or is on a number it messaged."""
    intercept = Intercept.objects.filter(pk=intercept_id).first()
    if intercept is None or intercept.account_id == account.pk:
        return intercept
    if intercept.scope != Scope.GLOBAL:
        return None
    blocked_us = Message.objects.filter(account=account, blocking_intercept_id=intercept.pk).exists()
    messaged = blocked_us or Message.objects.filter(phone=intercept.phone, account=account).exists()
    return intercept if messaged else None


def intercept_own_get(*, account: Account, intercept_id: int) -> Intercept | None:
    """A record `account` originated (and so may delete), or None."""
    return Intercept.objects.filter(pk=intercept_id, account=account).first()


def intercept_history(*, intercept_ids) -> dict[int, list[InterceptEvent]]:
    """Each record's events (created, extended, deleted) oldest first, in one query."""
    history: dict[int, list[InterceptEvent]] = {}
    events = (
        InterceptEvent.objects.filter(intercept_id__in=list(intercept_ids))
        .select_related("actor_user", "actor_sms_user")
        .order_by("intercept_id", "at", "id")
    )
    for event in events:
        history.setdefault(event.intercept_id, []).append(event)
    return history


def intercept_events_for_phone(*, account: Account, phone: str, limit: int = 500) -> list[InterceptEvent]:
    """Events of the account's own records and of global records for one number, newest first."""
    return list(
        InterceptEvent.objects.filter(Q(account=account) | Q(scope=Scope.GLOBAL), phone=phone)
        .select_related("actor_user", "actor_sms_user")
        .order_by("-at", "-id")[:limit]
    )


def intercept_event_actor_label(*, event: InterceptEvent, account: Account) -> str:
    """Who caused an event, as `account` may be told: names only from its own activity."""
    if event.actor_account_id == account.pk:
        return event.actor_display
    return str(event.get_source_display())


def intercept_rule_get(*, return_code: int) -> InterceptRule | None:
    return InterceptRule.objects.filter(return_code=return_code).first()


def intercept_is_customer_deletable(*, intercept: Intercept, account: Account, rules=None) -> bool:
    """Whether `account` may delete the record: it originated it and the rule lets customers."""
    if intercept.account_id != account.pk:
        return False
    if rules is None:
        rule = intercept_rule_get(return_code=intercept.return_code)
    else:
        rule = rules.get(intercept.return_code)
    return rule.is_customer_deletable if rule else True
