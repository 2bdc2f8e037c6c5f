"""Purging data past retention: messages with their send logs, replies, processed webhook bodies."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from delivery.models import EarlyReceipt, InboxItem, Message, MessageEvent
from replies.models import Reply
from smsconsole import clock
from smsconsole.models import Account
from smsconsole.pagination import keyset_after

# Rows a statement deletes at most. At 5 M messages, the oldest day's rows are cold: about 70 µs
# each (docs/benchmarks.md, bench_report's retention), so 1,000 keep a statement near 70 ms.
PURGE_BATCH_SIZE = 1000


@dataclass
class RetentionReport:
    messages: int = 0
    replies: int = 0
    inbox_items: int = 0
    early_receipts: int = 0


def retention_purge(*, days: int | None = None, batch_size: int = PURGE_BATCH_SIZE) -> RetentionReport:
    """Delete what is older than the retention period, batch by batch, each batch its own transaction.

    Intercept records and their audit history are not touched: they have their own lifetime."""
    cutoff = clock.now() - dt.timedelta(days=days or settings.SMS_RETENTION_DAYS)
    report = RetentionReport()
    for account_id in Account.objects.values_list("id", flat=True):
        # Per account, so each batch is a range of the (account, requested_at) index.
        report.messages += _purge(
            Message.objects.filter(account_id=account_id, requested_at__lt=cutoff),
            "requested_at",
            batch_size,
            before_each=_send_logs_delete,
        )
    report.replies = _purge(Reply.objects.filter(received_at__lt=cutoff), "received_at", batch_size)
    report.inbox_items = _purge(InboxItem.objects.filter(processed_at__lt=cutoff), "processed_at", batch_size)
    report.early_receipts = _purge(
        EarlyReceipt.objects.filter(received_at__lt=cutoff), "received_at", batch_size
    )
    return report


def _purge(queryset, time_field: str, batch_size: int, *, before_each=None) -> int:
    """Delete `queryset` oldest first, `batch_size` rows a transaction.

    Each batch starts after the last one (keyset on time and id): the rows just deleted stay in
    the index until a VACUUM, and a scan from the start of the range would walk over all of them
    again for every batch."""
    model = queryset.model
    ordered = queryset.order_by(time_field, "id")
    total, last = 0, None
    while True:
        batch = ordered
        if last is not None:
            batch = batch.filter(keyset_after(time_field, *last, newest_first=False))
        rows = list(batch.values_list(time_field, "id")[:batch_size])
        if not rows:
            return total
        last = rows[-1]
        ids = [pk for _, pk in rows]
        with transaction.atomic():
            if before_each is not None:
                before_each(ids, batch_size)
            # Cascades go with it; soft references are left to dangle.
            total += model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)


def _send_logs_delete(message_ids: list[int], batch_size: int) -> None:
    # A message has four or more log lines, written at different times, so on pages of their own:
    # deleted with their messages, 5,000 messages' lines took one statement 1.5 s at 5 M messages.
    # At most half of `batch_size` lines a statement keeps each short (under 100 ms, cold).
    # Looked up a quarter of the messages at a time: about `batch_size` lines, read from the index.
    step = max(batch_size // 4, 1)
    for start in range(0, len(message_ids), step):
        event_ids = list(
            MessageEvent.objects.filter(message_id__in=message_ids[start : start + step]).values_list(
                "pk", flat=True
            )
        )
        for first in range(0, len(event_ids), step * 2):  # lines are wider than their index entries
            MessageEvent.objects.filter(pk__in=event_ids[first : first + step * 2]).delete()
