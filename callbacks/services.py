"""Every write of the callbacks app: the endpoint's settings, test events, replays, and delivery.

Delivery (`callbacks_deliver`, run by a worker every few seconds) claims one endpoint at a time with
a lease, so a single worker sends an account's events, in the order they were recorded: the events
of a message reach the customer in order. Up to SMS_CALLBACK_BATCH_SIZE events go in one POST. A
failed POST (timeout, connection error, anything but 2xx) backs the whole endpoint off
exponentially; events still undelivered SMS_CALLBACK_RETRY_HOURS after they were recorded are given
up, and the log says so."""

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _

from callbacks import addresses
from callbacks.models import (
    SUBSCRIBABLE_KINDS,
    AttemptOutcome,
    CallbackAttempt,
    CallbackEndpoint,
    CallbackEvent,
    EventKind,
    EventState,
    generate_callback_secret,
)
from callbacks.payloads import event_payloads, request_body
from callbacks.signing import SIGNATURE_HEADER, signature
from smsconsole import clock
from smsconsole.exceptions import NotFound, ServiceError
from smsconsole.models import Account
from smsconsole.queueing import task_queue

MAX_URL_LENGTH = 2000
# A delivery run drains endpoints for this long, then leaves the rest to the next run (beat).
DELIVER_RUN_SECONDS = 50.0
# Beyond the longest POST (connect and read may each take the whole timeout).
LEASE_MARGIN_SECONDS = 15
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
# How many event ids a log line keeps (a replay of a range may name thousands).
LOGGED_EVENT_IDS = 100


def claim_lease() -> dt.timedelta:
    return dt.timedelta(seconds=2 * settings.SMS_CALLBACK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


def retry_delay(failures: int) -> dt.timedelta:
    """10 s, 20 s, 40 s … doubling after each failed attempt in a row, at most an hour."""
    return dt.timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0), MAX_RETRY_SECONDS))


# --- the endpoint --------------------------------------------------------------------------------


def _events_clean(events: list[str]) -> list[str]:
    unknown = [kind for kind in events if kind not in SUBSCRIBABLE_KINDS]
    if unknown or not events:
        message = _('Choose one or more of "status" and "reply".')
        raise ServiceError(message, errors={"events": [message]})
    return list(dict.fromkeys(events))


def endpoint_save(*, account: Account, url: str, events: list[str]) -> tuple[CallbackEndpoint, bool]:
    """Set the account's callback URL and events (creating the endpoint with a new secret if it had
    none). Returns the endpoint and whether it was created; refuses a URL the platform may not call."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        message = _("At most %(max)d characters.") % {"max": MAX_URL_LENGTH}
        raise ServiceError(message, errors={"url": [message]})
    try:
        addresses.url_check(url)
    except addresses.UnsafeUrl as exc:
        raise ServiceError(str(exc), errors={"url": [str(exc)]}) from None
    kinds = _events_clean(events)
    now = clock.now()
    with transaction.atomic():
        endpoint = CallbackEndpoint.objects.select_for_update().filter(account=account).first()
        is_created = endpoint is None
        if is_created:
            endpoint = CallbackEndpoint(account=account, created_at=now)
        elif endpoint.url != url:
            # A new address starts with a clean record, and is tried at once.
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.next_attempt_at = None
        endpoint.url = url
        endpoint.is_status_subscribed = EventKind.STATUS in kinds
        endpoint.is_reply_subscribed = EventKind.REPLY in kinds
        endpoint.updated_at = now
        endpoint.save()
    return endpoint, is_created


def endpoint_secret_rotate(*, account: Account) -> CallbackEndpoint:
    """Give the endpoint a new signing secret; deliveries from now on are signed with it."""
    updated = CallbackEndpoint.objects.filter(account=account).update(
        secret=generate_callback_secret(), updated_at=clock.now()
    )
    if not updated:
        raise NotFound(_("This account has no callback URL."))
    return CallbackEndpoint.objects.get(account=account)


def endpoint_delete(*, account: Account) -> None:
    """Remove the callback URL and its events (undelivered ones have nowhere to go); the log stays."""
    with transaction.atomic():
        deleted, _rows = CallbackEndpoint.objects.filter(account=account).delete()
        if not deleted:
            raise NotFound(_("This account has no callback URL."))
        CallbackEvent.objects.filter(account=account).delete()


def test_event_send(*, account: Account) -> CallbackEvent:
    """Queue a test event to the endpoint, ahead of the others and whatever its backoff; it is logged."""
    now = clock.now()
    with transaction.atomic():
        if not CallbackEndpoint.objects.filter(account=account).update(next_attempt_at=None):
            raise NotFound(_("This account has no callback URL."))
        event = CallbackEvent.objects.create(
            account=account, kind=EventKind.TEST, occurred_at=now, created_at=now
        )
        transaction.on_commit(lambda: _queue_delivery(account.pk), robust=True)
    return event


# --- replay --------------------------------------------------------------------------------------


def _replay(*, account: Account, events, user, what: str) -> int:
    now = clock.now()
    with transaction.atomic():
        if not CallbackEndpoint.objects.filter(account=account).update(next_attempt_at=None):
            raise NotFound(_("This account has no callback URL."))
        ids = list(events.exclude(kind=EventKind.TEST).order_by("id").values_list("id", flat=True))
        # Sent again with the same id and sequence (a receiver can tell it has it already), in the
        # order they were first recorded, with a fresh retry window.
        CallbackEvent.objects.filter(pk__in=ids).update(
            state=EventState.PENDING, is_replay=True, created_at=now, delivered_at=None
        )
        CallbackAttempt.objects.create(
            account=account,
            attempted_at=now,
            outcome=AttemptOutcome.REPLAY,
            event_ids=ids[:LOGGED_EVENT_IDS],
            event_count=len(ids),
            is_replay=True,
            requested_by=user,
            error=what,
        )
        if ids:
            transaction.on_commit(lambda: _queue_delivery(account.pk), robust=True)
    return len(ids)


def event_replay(*, account: Account, event_id: int, user) -> int:
    """Send one of the account's events again (logged as a replay); NotFound for another's."""
    events = CallbackEvent.objects.filter(account=account, pk=event_id)
    if not events.exists():
        raise NotFound(_("No such event in your account."))
    return _replay(account=account, events=events, user=user, what=_("Event %(id)s") % {"id": event_id})


def events_replay_range(*, account: Account, start: dt.datetime, end: dt.datetime, user) -> int:
    """Send again every event of the account that occurred in [start, end]; returns how many."""
    if end < start:
        raise ServiceError(_("The end of the period is before its start."))
    events = CallbackEvent.objects.filter(account=account, occurred_at__gte=start, occurred_at__lte=end)
    what = _("Events from %(start)s to %(end)s") % {"start": start.isoformat(), "end": end.isoformat()}
    return _replay(account=account, events=events, user=user, what=what)


def _queue_delivery(account_id: int) -> None:
    # Imported here: tasks wrap services, so services reach tasks only at call time.
    from callbacks.tasks import callbacks_deliver as callbacks_deliver_task

    task_queue(callbacks_deliver_task, account_id)


# --- delivery ------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    posts: int = 0
    delivered: int = 0
    failed: int = 0
    given_up: int = 0


def callbacks_deliver(
    *, account_id: int | None = None, run_seconds: float = DELIVER_RUN_SECONDS
) -> DeliveryReport:
    """POST due events to their endpoints (of one account, if given) for up to `run_seconds`.

    The errors it logs are written in English, whatever language the worker runs in (the send
    log's failure details are English too): a worker has no reader whose language it could use."""
    with translation.override("en"):
        return _callbacks_deliver(account_id=account_id, run_seconds=run_seconds)


def _callbacks_deliver(*, account_id: int | None, run_seconds: float) -> DeliveryReport:
    report = DeliveryReport()
    deadline = time.monotonic() + run_seconds
    tried: set[int] = set()
    while time.monotonic() < deadline:
        claim = _endpoint_claim(now=clock.now(), exclude=tried, account_id=account_id)
        if claim is None:
            break
        endpoint, lease = claim
        tried.add(endpoint.pk)
        try:
            _endpoint_drain(endpoint, lease=lease, report=report, deadline=deadline)
        finally:
            # Only our own lease: if it lapsed, another worker may hold the endpoint now.
            CallbackEndpoint.objects.filter(pk=endpoint.pk, lease_until=lease["until"]).update(
                lease_until=None
            )
    return report


def _is_free(now: dt.datetime) -> Q:
    return (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) & (
        Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    )


def _endpoint_claim(*, now: dt.datetime, exclude: set[int], account_id: int | None):
    """One due endpoint with pending events, leased to this worker (a conditional update, so two
    workers never hold the same endpoint); None when there is none."""
    candidates = CallbackEndpoint.objects.filter(_is_free(now)).exclude(pk__in=exclude)
    if account_id is not None:
        candidates = candidates.filter(account_id=account_id)
    pending = CallbackEvent.objects.filter(account_id=OuterRef("account_id"), state=EventState.PENDING)
    candidates = candidates.filter(Exists(pending)).order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
    for pk in candidates.values_list("pk", flat=True)[:20]:
        lease_until = now + claim_lease()
        if CallbackEndpoint.objects.filter(_is_free(now), pk=pk).update(lease_until=lease_until):
            return CallbackEndpoint.objects.get(pk=pk), {"until": lease_until}
    return None


def _batch(account_id: int) -> list[CallbackEvent]:
    """The next events to send: test events first (someone is waiting for them), then in order."""
    size = settings.SMS_CALLBACK_BATCH_SIZE
    pending = CallbackEvent.objects.filter(account_id=account_id, state=EventState.PENDING)
    tests = list(pending.filter(kind=EventKind.TEST).order_by("id")[:size])
    if tests:
        return tests
    return list(pending.order_by("id")[:size])


def _endpoint_drain(endpoint, *, lease: dict, report: DeliveryReport, deadline: float) -> None:
    """Send the endpoint's due events batch after batch until none is left, one fails, or time is up.
    `lease["until"]` follows each renewal, so the caller releases the lease it holds."""
    while time.monotonic() < deadline:
        endpoint = CallbackEndpoint.objects.filter(pk=endpoint.pk, lease_until=lease["until"]).first()
        if endpoint is None:
            return  # deleted meanwhile (or the lease lapsed and another worker has it)
        batch = _batch(endpoint.account_id)
        if not batch:
            return
        body = request_body(event_payloads(batch))
        sent_at = clock.now()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "smsconsole-callbacks/1",
            SIGNATURE_HEADER: signature(
                body=body, secret=endpoint.secret, timestamp=int(sent_at.timestamp())
            ),
        }
        result = addresses.post(
            endpoint.url, body=body, headers=headers, timeout=settings.SMS_CALLBACK_TIMEOUT_SECONDS
        )
        report.posts += 1
        if not _attempt_record(endpoint, batch, result, at=sent_at, report=report):
            return
        renewed = clock.now() + claim_lease()
        if not CallbackEndpoint.objects.filter(pk=endpoint.pk, lease_until=lease["until"]).update(
            lease_until=renewed
        ):
            return
        lease["until"] = renewed


def _attempt_record(endpoint, batch, result: addresses.PostResult, *, at: dt.datetime, report) -> bool:
    """Log the attempt and move its events on; returns whether it succeeded."""
    ids = [event.pk for event in batch]
    now = clock.now()
    common = {
        "account_id": endpoint.account_id,
        "attempted_at": at,
        "url": endpoint.url,
        "event_ids": ids,
        "event_count": len(ids),
        "response_code": result.response_code,
        "latency_ms": result.latency_ms,
        "response_excerpt": result.excerpt,
        "error": result.error
        or ("" if result.is_ok else _("The endpoint answered %(code)s.") % {"code": result.response_code}),
        "is_replay": any(event.is_replay for event in batch),
        "is_test": any(event.kind == EventKind.TEST for event in batch),
    }
    with transaction.atomic():
        events = CallbackEvent.objects.filter(pk__in=ids, state=EventState.PENDING)
        if result.is_ok:
            report.delivered += events.update(
                state=EventState.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
            )
            CallbackAttempt.objects.create(outcome=AttemptOutcome.OK, **common)
            CallbackEndpoint.objects.filter(pk=endpoint.pk).update(
                consecutive_failures=0, failing_since=None, last_success_at=now, next_attempt_at=None
            )
            return True
        report.failed += 1
        events.update(attempts=F("attempts") + 1)
        CallbackAttempt.objects.create(outcome=AttemptOutcome.FAILED, **common)
        failures = endpoint.consecutive_failures + 1
        CallbackEndpoint.objects.filter(pk=endpoint.pk).update(
            consecutive_failures=F("consecutive_failures") + 1,
            failing_since=Coalesce(F("failing_since"), now),
            last_failure_at=now,
            next_attempt_at=now + retry_delay(failures),
        )
        _give_up(
            endpoint, now=now, report=report, tested_ids=[e.pk for e in batch if e.kind == EventKind.TEST]
        )
    return False


def _give_up(endpoint, *, now: dt.datetime, report: DeliveryReport, tested_ids: list[int]) -> None:
    """Give up events past their retry window, and test events after one failed try (both logged)."""
    window_start = now - dt.timedelta(hours=settings.SMS_CALLBACK_RETRY_HOURS)
    expired = CallbackEvent.objects.filter(account_id=endpoint.account_id, state=EventState.PENDING).filter(
        Q(created_at__lte=window_start) | Q(pk__in=tested_ids)
    )
    ids = list(expired.order_by("id").values_list("id", flat=True))
    if not ids:
        return
    CallbackEvent.objects.filter(pk__in=ids, state=EventState.PENDING).update(state=EventState.GIVEN_UP)
    report.given_up += len(ids)
    CallbackAttempt.objects.create(
        account_id=endpoint.account_id,
        attempted_at=now,
        url=endpoint.url,
        outcome=AttemptOutcome.GIVEN_UP,
        event_ids=ids[:LOGGED_EVENT_IDS],
        event_count=len(ids),
        is_test=bool(tested_ids) and set(ids) <= set(tested_ids),
        error=_("Not delivered within %(hours)d hours of retries.")
        % {"hours": settings.SMS_CALLBACK_RETRY_HOURS}
        if not set(ids) <= set(tested_ids)
        else _("A test event is tried once."),
    )


# --- retention -----------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    events: int = 0
    attempts: int = 0


def callbacks_purge() -> PurgeReport:
    """Delete finished events and log lines older than SMS_RETENTION_DAYS (one account at a time,
    each through its own index: the tables never get a scan of their own)."""
    cutoff = clock.now() - dt.timedelta(days=settings.SMS_RETENTION_DAYS)
    report = PurgeReport()
    for account_id in Account.objects.values_list("pk", flat=True):
        attempts = CallbackAttempt.objects.filter(account_id=account_id, attempted_at__lt=cutoff)
        report.attempts += attempts.delete()[0]
        events = CallbackEvent.objects.filter(account_id=account_id, occurred_at__lt=cutoff)
        report.events += events.exclude(state=EventState.PENDING).delete()[0]
    return report
