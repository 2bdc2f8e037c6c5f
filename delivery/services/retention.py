"""Purging data past retention: messages with their send logs, replies, processed webhook bodies."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from delivery.models import EarlyReceipt, InboxItem, Message
from replies.models import Reply
from smsconsole import clock
from smsconsole.models import Account

PURGE_BATCH_SIZE = 5000


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
            Message.objects.filter(account_id=account_id, requested_at__lt=cutoff), batch_size
        )
    report.replies = _purge(Reply.objects.filter(received_at__lt=cutoff), batch_size)
    report.inbox_items = _purge(InboxItem.objects.filter(processed_at__lt=cutoff), batch_size)
    report.early_receipts = _purge(EarlyReceipt.objects.filter(received_at__lt=cutoff), batch_size)
    return report


def _purge(queryset, batch_size: int) -> int:
    model = queryset.model
    total = 0
    while True:
        ids = list(queryset.values_list("id", flat=True)[:batch_size])
        if not ids:
            return total
        with transaction.atomic():
            # Cascades (a message's send log) go with it; soft references are left to dangle.
            total += model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
