"""Writes for intercept records: applying a return code's rule, and audited deletion."""

from collections.abc import Iterable

from django.db import transaction

from intercepts.models import Intercept, InterceptEvent
from smsconsole import clock


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
