"""Celery tasks: thin wrappers over the services of the same name, taking ids and plain values."""

import json

from celery import shared_task
from django.conf import settings

from delivery.models import Channel, InboxItem
from delivery.services import counts, dispatch, latency, receipts, retention
from smsconsole import clock


def _wake_for_retries(report: dispatch.DispatchReport) -> None:
    # With a broker, wake up when the first message waiting for its channel is due; beat is the
    # safety net. Eagerly (no broker) a countdown means nothing, so the next dispatch picks them up.
    if report.next_attempt_at and not settings.CELERY_TASK_ALWAYS_EAGER:
        countdown = max((report.next_attempt_at - clock.now()).total_seconds(), 1)
        dispatch_due.apply_async(countdown=countdown)


# A dispatch run claims batches for DISPATCH_RUN_SECONDS; the last batch may then take up to its
# lease. The limits sit beyond both, so they never cut a batch between its hand-over and the
# recording of the answer (the global task limits are shorter).
DISPATCH_SOFT_TIME_LIMIT = int(dispatch.DISPATCH_RUN_SECONDS + dispatch.claim_lease().total_seconds() + 30)
DISPATCH_TIME_LIMIT = DISPATCH_SOFT_TIME_LIMIT + 30


@shared_task(acks_late=True, soft_time_limit=DISPATCH_SOFT_TIME_LIMIT, time_limit=DISPATCH_TIME_LIMIT)
def dispatch_messages(message_ids: list[int]) -> dict:
    report = dispatch.messages_dispatch(message_ids=message_ids)
    _wake_for_retries(report)
    return report.as_dict()


@shared_task(acks_late=True, soft_time_limit=DISPATCH_SOFT_TIME_LIMIT, time_limit=DISPATCH_TIME_LIMIT)
def dispatch_due() -> dict:
    report = dispatch.due_messages_dispatch()
    _wake_for_retries(report)
    return report.as_dict()


@shared_task(acks_late=True)
def inbox_ingest() -> dict:
    return receipts.inbox_ingest().__dict__


@shared_task(acks_late=True)
def early_receipts_retry() -> dict:
    return receipts.early_receipts_retry().__dict__


@shared_task(acks_late=True)
def simulator_webhook(channel_id: int, kind: str, payload: dict) -> int:
    """The simulator "calls" its webhook: the body goes through the same inbox a real channel fills."""
    item = receipts.inbox_receive(
        channel=Channel.objects.get(pk=channel_id),
        kind=InboxItem.Kind(kind),
        body=json.dumps(payload, ensure_ascii=False).encode(),
        content_type="application/json",
    )
    return item.pk


@shared_task(acks_late=True)
def retention_purge() -> dict:
    return retention.retention_purge().__dict__


@shared_task(acks_late=True)
def message_counts_compact() -> dict:
    return counts.message_counts_compact().__dict__


@shared_task(acks_late=True)
def message_latency_rollup() -> dict:
    return latency.message_latency_rollup().__dict__
