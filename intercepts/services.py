"""Writes for intercept records: applying a return code's rule, and audited deletion."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext

from intercepts.models import Intercept, InterceptEvent, InterceptRule, Scope
from intercepts.selectors import intercept_get_for, intercept_is_customer_deletable, intercepts_deletable_now
from smsconsole import clock
from smsconsole.bulk import rows_update
from smsconsole.exceptions import NotFound, PermissionDenied


def intercept_snapshot(intercept: Intercept) -> dict:
    return {
        "id": intercept.pk,
        "phone": intercept.phone,
        "scope": intercept.scope,
        "account_id": intercept.account_id,
        "return_code": intercept.return_code,
        "reason": intercept.reason,
        "intercepted_at": intercept.intercepted_at.isoformat(),
        "expires_at": intercept.expires_at.isoformat(),
        "source_message_id": intercept.source_message_id,
    }


def intercepts_delete(
    *,
    intercepts: Iterable[Intercept],
    source: str,
    actor_user=None,
    actor_sms_user=None,
    actor_account=None,
) -> int:
    """Delete intercept records, writing one audit event per record. Returns how many were deleted."""
    at = clock.now()
    with transaction.atomic():
        ids = [intercept.pk for intercept in intercepts]
        # Lock and re-read, so two people clearing the same record audit it once.
        locked = list(Intercept.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        InterceptEvent.objects.bulk_create(
            InterceptEvent(
                intercept_id=intercept.pk,
                phone=intercept.phone,
                scope=intercept.scope,
                account_id=intercept.account_id,
                kind=InterceptEvent.Kind.DELETED,
                at=at,
                source=source,
                actor_user=actor_user,
                actor_sms_user=actor_sms_user,
                actor_account=actor_account,
                record=intercept_snapshot(intercept),
            )
            for intercept in locked
        )
        Intercept.objects.filter(pk__in=[intercept.pk for intercept in locked]).delete()
    return len(locked)


@dataclass(frozen=True)
class InterceptCause:
    """A send failure that may intercept its number."""

    account_id: int
    phone: str
    return_code: int
    detail: str
    failed_at: dt.datetime
    message_id: int


@dataclass(frozen=True)
class InterceptOutcome:
    message_id: int
    intercept_id: int
    action: str  # "created" or "extended"
    scope: str
    expires_at: dt.datetime


def _record_key(phone: str, scope: str, account_id: int) -> tuple:
    return (phone, scope, account_id if scope == Scope.LOCAL else None)


def intercepts_apply(
    *, causes: list[InterceptCause], rules: dict[int, InterceptRule], now: dt.datetime
) -> list[InterceptOutcome]:
    """Create or extend the one record per (phone, scope, originator) for each cause whose rule intercepts.

    Codes whose rule intercepts for 0 seconds create nothing; a failure whose intercept would already
    be over (an old receipt) creates nothing either. Runs inside the caller's transaction."""
    wanted = []
    for cause in causes:
        rule = rules.get(cause.return_code)
        if rule is None or not rule.intercepts:
            continue
        # A carrier clock running ahead must not lengthen an intercept: it runs from now at the latest.
        expires_at = min(cause.failed_at, now) + rule.duration
        if expires_at <= now:
            continue
        wanted.append((_record_key(cause.phone, rule.scope, cause.account_id), cause, rule, expires_at))
    if not wanted:
        return []

    phones = {key[0] for key, *_ in wanted}
    existing = {
        _record_key(record.phone, record.scope, record.account_id): record
        for record in Intercept.objects.select_for_update().filter(phone__in=phones).order_by("pk")
    }
    new_records: dict[tuple, Intercept] = {}
    changed: dict[tuple, Intercept] = {}
    actions: list[tuple[tuple, InterceptCause, str]] = []
    for key, cause, rule, expires_at in wanted:
        record = existing.get(key) or new_records.get(key)
        if record is None:
            record = Intercept(phone=cause.phone, scope=rule.scope, account_id=cause.account_id)
            _start(record, cause, expires_at, now)
            new_records[key] = record
            action = InterceptEvent.Kind.CREATED
        elif record.pk and not record.is_live(now):
            # Expired but not tidied away yet: it starts again, originated by this failure.
            record.account_id = cause.account_id
            _start(record, cause, expires_at, now)
            changed[key] = record
            action = InterceptEvent.Kind.CREATED
        else:
            _extend(record, cause, expires_at, now)
            if record.pk:
                changed[key] = record
            action = InterceptEvent.Kind.EXTENDED
        actions.append((key, cause, action))

    if new_records:
        # Another worker may have created the same record since we looked; keep theirs and extend it.
        Intercept.objects.bulk_create(new_records.values(), ignore_conflicts=True)
        stored = {
            _record_key(record.phone, record.scope, record.account_id): record
            for record in Intercept.objects.filter(phone__in={key[0] for key in new_records}).order_by("pk")
        }
        for key, record in new_records.items():
            winner = stored[key]
            if (
                winner.source_message_id != record.source_message_id
                or winner.intercepted_at != record.intercepted_at
            ):
                _extend(winner, _cause_of(record), record.expires_at, now)
                changed[key] = winner
            new_records[key] = winner
    if changed:
        rows_update(
            list(changed.values()),
            [
                "account",
                "return_code",
                "reason",
                "intercepted_at",
                "expires_at",
                "updated_at",
                "source_message",
            ],
        )

    records = {**new_records, **changed}
    InterceptEvent.objects.bulk_create(
        InterceptEvent(
            intercept_id=records[key].pk,
            phone=records[key].phone,
            scope=records[key].scope,
            account_id=records[key].account_id,
            kind=action,
            at=now,
            source=InterceptEvent.Source.PIPELINE,
            actor_account_id=cause.account_id,
            record={**intercept_snapshot(records[key]), "message_id": cause.message_id},
        )
        for key, cause, action in actions
    )
    return [
        InterceptOutcome(
            message_id=cause.message_id,
            intercept_id=records[key].pk,
            action=action,
            scope=records[key].scope,
            expires_at=records[key].expires_at,
        )
        for key, cause, action in actions
    ]


def _start(record: Intercept, cause: InterceptCause, expires_at: dt.datetime, now: dt.datetime) -> None:
    record.return_code = cause.return_code
    record.reason = cause.detail
    record.intercepted_at = min(cause.failed_at, now)
    record.expires_at = expires_at
    record.updated_at = now
    record.source_message_id = cause.message_id


def _extend(record: Intercept, cause: InterceptCause, expires_at: dt.datetime, now: dt.datetime) -> None:
    # The latest failure describes the number best; the block lasts as long as the longest one.
    record.return_code = cause.return_code
    record.reason = cause.detail
    record.expires_at = max(record.expires_at, expires_at)
    record.updated_at = now
    record.source_message_id = cause.message_id


def _cause_of(record: Intercept) -> InterceptCause:
    return InterceptCause(
        account_id=record.account_id,
        phone=record.phone,
        return_code=record.return_code,
        detail=record.reason,
        failed_at=record.intercepted_at,
        message_id=record.source_message_id,
    )


# Rows one DELETE takes at most: 10,000 took the longest statement 25 ms at 5 M messages
# (bench_report's expiry); 5,000 keep every statement near 10 ms, the target 20.
EXPIRE_BATCH_SIZE = 5_000


def intercepts_expire(*, batch_size: int = EXPIRE_BATCH_SIZE) -> int:
    """Delete records that expired more than the grace period ago, in short statements.

    Blocking never waits for this: it compares `expires_at` with the clock. Expired records are kept
    for `SMS_INTERCEPT_EXPIRED_GRACE_DAYS` so operators can still see what recently stopped blocking.
    Safe to run concurrently: each statement re-checks the expiry of the rows it deletes."""
    cutoff = clock.now() - dt.timedelta(days=settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS)
    table = connection.ops.quote_name(Intercept._meta.db_table)
    if connection.vendor == "postgresql":
        # By physical row address: no index lookups per row, and each statement stays short.
        sql = (
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE expires_at <= %s LIMIT %s)) AND expires_at <= %s"
        )
    else:
        sql = (
            f"DELETE FROM {table} WHERE id IN ("
            f"SELECT id FROM {table} WHERE expires_at <= %s LIMIT %s) AND expires_at <= %s"
        )
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [cutoff, batch_size, cutoff])
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted


def intercept_delete_by_customer(
    *, account, intercept_id: int, source: str, actor_user=None, actor_sms_user=None
) -> None:
    """Delete a record `account` originated, if its rule lets customers delete it. Audited.

    Another account's record is "not found" whether or not it exists (even a global one the
    account may see: it can look, not clear)."""
    intercept = intercept_get_for(account=account, intercept_id=intercept_id)
    if intercept is None or intercept.account_id != account.pk:
        raise NotFound(gettext("No such intercept record in this account."))
    if not intercept_is_customer_deletable(intercept=intercept, account=account):
        raise PermissionDenied(gettext("This record can only be cleared by support; please contact them."))
    intercepts_delete(
        intercepts=[intercept],
        source=source,
        actor_user=actor_user,
        actor_sms_user=actor_sms_user,
        actor_account=account,
    )


def intercepts_delete_by_operator(*, account, intercept_ids, actor_user) -> int:
    """Delete, from the console, those of `intercept_ids` the operator may delete now; one audit event each.

    The others (another account's, expired, or of a rule only support clears) are left as they are.
    Returns how many were deleted (a record someone cleared a moment earlier is not counted twice)."""
    return intercepts_delete(
        intercepts=intercepts_deletable_now(account=account, intercept_ids=intercept_ids, at=clock.now()),
        source=InterceptEvent.Source.CONSOLE,
        actor_user=actor_user,
        actor_account=account,
    )
