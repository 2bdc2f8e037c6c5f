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


# Ids are 64-bit: a larger one in a URL names nothing.
MAX_RECORD_ID = 2**63 - 1


def _ids_that_blocked(*, account: Account, intercept_id: int | None = None) -> list[int]:
    """Ids of the records that blocked this account's messages for being on the global list."""
    # Served by msg_status_time (account, status, reason, ...): only this account's messages that
    # a global record blocked are read, however big the intercept table is. For one record, the
    # partial index on blocking_intercept answers instead.
    messages = Message.objects.filter(
        account=account,
        status=MessageStatus.PROCESSING_FAILED,
        reason=Reason.GLOBAL_INTERCEPT,
        blocking_intercept__isnull=False,
    )
    if intercept_id is not None:
        messages = messages.filter(blocking_intercept_id=intercept_id)
    return list(messages.order_by().values_list("blocking_intercept_id", flat=True).distinct())


def _visible(*, account: Account, blocked_ids, looked_up_phone: str = "") -> Q:
    """The one rule of what `account` may see of intercept records (DESIGN.md, "Intercept list").

    Its own records, whatever their scope; and other accounts' *global* records only where they
    matter to it: one blocked a message of its (`blocked_ids`), or it looked up that exact number
    (`looked_up_phone`, E.164). Another account's local record is never visible. Nothing built on
    this rule names the other account.
    """
    foreign = Q(pk__in=list(blocked_ids))
    if looked_up_phone:
        foreign |= Q(phone=looked_up_phone)
    return Q(account=account) | (Q(scope=Scope.GLOBAL) & foreign)


def intercept_list_for(*, account: Account, phone: str = "") -> QuerySet[Intercept]:
    """The intercept records `account` may see; with `phone` (E.164, looked up exactly), that number's only.

    The list, its CSV, the API's list and the number thread all read through here."""
    if phone:
        # Every global record on a looked-up number is visible, those that blocked the account
        # included: which ones did need not be read.
        return Intercept.objects.filter(
            _visible(account=account, blocked_ids=(), looked_up_phone=phone), phone=phone
        )
    return Intercept.objects.filter(_visible(account=account, blocked_ids=_ids_that_blocked(account=account)))


def intercept_get_for(*, account: Account, intercept_id: int, looked_up_phone: str = "") -> Intercept | None:
    """One record `account` may see (the rule of intercept_list_for), or None.

    `looked_up_phone` is the number the account looked up on the way here (the list's or the number
    thread's exact phone): a global record on it is visible, as it was in that list. The record page,
    the delete confirmation and the API's delete all read through here."""
    if not 0 < intercept_id <= MAX_RECORD_ID:
        return None  # no such row, and the soft key's lookup would not fit the column
    rule = _visible(
        account=account,
        blocked_ids=_ids_that_blocked(account=account, intercept_id=intercept_id),
        looked_up_phone=looked_up_phone,
    )
    return Intercept.objects.filter(rule, pk=intercept_id).first()


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


# How many records one console request may delete at once: a page of the list, with room.
BULK_DELETE_LIMIT = 100


def intercept_is_deletable_now(
    *, intercept: Intercept, account: Account, at: dt.datetime, rules=None
) -> bool:
    """Whether the console offers Delete: the account may delete the record and it is still live.

    An expired record blocks nothing any more and is tidied away by itself."""
    return intercept.is_live(at) and intercept_is_customer_deletable(
        intercept=intercept, account=account, rules=rules
    )


def intercepts_deletable_now(*, account: Account, intercept_ids, at: dt.datetime) -> list[Intercept]:
    """Those of `intercept_ids` (at most BULK_DELETE_LIMIT) the account may delete from the console now."""
    ids = list(intercept_ids)[:BULK_DELETE_LIMIT]
    rules = intercept_rules_by_code()
    # Own records only: the visibility rule's other half (global records from elsewhere) can never be deleted.
    candidates = Intercept.objects.filter(account=account, pk__in=ids).order_by("-intercepted_at", "-id")
    return [
        intercept
        for intercept in candidates
        if intercept_is_deletable_now(intercept=intercept, account=account, at=at, rules=rules)
    ]
