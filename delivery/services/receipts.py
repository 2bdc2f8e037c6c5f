"""Webhook inbox and receipt ingestion: never loses a receipt, never moves a status backwards.

- `inbox_receive` validates a webhook body and stores it raw; the webhook answers 202 after that.
- `inbox_ingest` drains stored bodies in batches, one transaction per batch.
- `receipts_apply` turns receipts into statuses: idempotent (a receipt seen before changes
  nothing), order-safe (the first final outcome wins; later contradicting receipts are logged),
  multipart-aware (delivered when every part is, failed when any part fails).
"""

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F

from delivery.channels.base import ReceiptItem
from delivery.channels.payloads import PayloadError, parse_receipts_json, parse_replies_json
from delivery.channels.smpp import INTERMEDIATE_STATS, SmppReceipt, parse_dlr_text
from delivery.models import (
    EVENT_ROW_FIELDS,
    FINAL_STATUSES,
    Channel,
    EarlyReceipt,
    InboxItem,
    Message,
    MessageEvent,
    MessageStatus,
)
from delivery.selectors import smpp_mappings
from delivery.services.failures import SendFailure, send_failures_record
from replies.services import replies_ingest
from smsconsole import clock
from smsconsole.bulk import rows_insert, rows_update
from smsconsole.queueing import task_queue
from smsconsole.reconnect import TRANSIENT_DATABASE_ERRORS, run_reconnecting

logger = logging.getLogger(__name__)

# A stored body that fails this many times is left aside (visible in admin) instead of blocking others.
MAX_INGEST_ATTEMPTS = 5
# How many stored bodies one batch may lock at most.
MAX_INBOX_ROWS_PER_BATCH = 100


def is_smpp_text(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "text/plain"


def parse_inbox_body(*, kind: str, content_type: str, body: bytes) -> list:
    """The items of a webhook body; raises PayloadError naming each problem."""
    if kind == InboxItem.Kind.REPLIES:
        return parse_replies_json(body)
    if is_smpp_text(content_type):
        return parse_dlr_text(body)
    return parse_receipts_json(body)


def inbox_receive(*, channel: Channel, kind: str, body: bytes, content_type: str) -> InboxItem:
    """Validate a webhook body and store it as it came; ingestion is queued after the commit."""
    items = parse_inbox_body(kind=kind, content_type=content_type, body=body)
    with transaction.atomic():
        item = InboxItem.objects.create(
            channel=channel,
            kind=kind,
            content_type=content_type[:100],
            body=body.decode("utf-8"),
            item_count=len(items),
            received_at=clock.now(),
        )
        # Robust: the body is stored; beat drains the inbox if queueing its task fails.
        transaction.on_commit(_queue_ingest, robust=True)
    return item


def _queue_ingest() -> None:
    from delivery.tasks import inbox_ingest as inbox_ingest_task

    # Never waits on the broker for more than about a second: the 202 does not depend on it.
    task_queue(inbox_ingest_task)


@dataclass
class IngestReport:
    bodies: int = 0
    items: int = 0
    failed_bodies: int = 0


# A batch is one transaction; a dropped connection rolls it back and it is simply run again.
INGEST_RECONNECT_SECONDS = 60


def inbox_ingest(*, max_items: int | None = None, max_batches: int = 1000) -> IngestReport:
    """Process stored webhook bodies until none is waiting.

    A database that goes away stops the run (the bodies stay pending for the next one, nothing
    counted against them); a body that fails on its own is applied item by item, so one bad
    item never costs the good ones beside it."""
    max_items = max_items or settings.SMS_INGEST_BATCH_SIZE
    report = IngestReport()
    for _ in range(max_batches):
        try:
            bodies, items = run_reconnecting(
                lambda: _ingest_batch(max_items=max_items),
                within_seconds=INGEST_RECONNECT_SECONDS,
                what="ingesting webhook bodies",
            )
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except Exception:
            logger.exception("inbox batch failed; retrying its bodies one by one")
            report.failed_bodies += _ingest_one_by_one(max_items=max_items)
            continue
        if not bodies:
            break
        report.bodies += bodies
        report.items += items
    return report


def _pending_inbox():
    return InboxItem.objects.filter(processed_at__isnull=True, attempts__lt=MAX_INGEST_ATTEMPTS)


def _ingest_batch(*, max_items: int, only_id: int | None = None) -> tuple[int, int]:
    with transaction.atomic():
        pending = _pending_inbox()
        if only_id is not None:
            pending = pending.filter(pk=only_id)
        candidates = list(
            pending.select_for_update(skip_locked=True).order_by("id")[:MAX_INBOX_ROWS_PER_BATCH]
        )
        batch, items = [], 0
        for row in candidates:
            if batch and items + row.item_count > max_items:
                break
            batch.append(row)
            items += row.item_count
        if not batch:
            return 0, 0
        now = clock.now()
        for row in batch:
            _ingest_row(row, now=now)
        InboxItem.objects.filter(pk__in=[row.pk for row in batch]).update(processed_at=now)
    return len(batch), items


def _ingest_one_by_one(*, max_items: int) -> int:
    """Each pending body alone; one that still fails is applied item by item."""
    failed = 0
    for row_id in list(
        _pending_inbox().order_by("id").values_list("id", flat=True)[:MAX_INBOX_ROWS_PER_BATCH]
    ):
        try:
            _ingest_batch(max_items=max_items, only_id=row_id)
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except Exception:
            logger.exception("inbox item %s failed; applying its items one by one", row_id)
            try:
                _ingest_items_one_by_one(row_id)
            except TRANSIENT_DATABASE_ERRORS:
                raise
            except Exception as exc:
                # The body cannot even be read item by item: count the attempt; after the last
                # one it is left aside, visible in admin.
                failed += 1
                logger.exception("inbox item %s failed as a whole", row_id)
                InboxItem.objects.filter(pk=row_id).update(
                    attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
                )
    return failed


def _ingest_items_one_by_one(row_id: int) -> None:
    """Apply each item of one body in a savepoint of its own; record the items that fail."""
    with transaction.atomic():
        row = _pending_inbox().select_for_update().filter(pk=row_id).first()
        if row is None:
            return
        items = parse_inbox_body(kind=row.kind, content_type=row.content_type, body=row.body.encode("utf-8"))
        now = clock.now()
        failed_items = []
        for index, item in enumerate(items):
            try:
                with transaction.atomic():
                    _apply_items(row, [item], now=now)
            except TRANSIENT_DATABASE_ERRORS:
                raise
            except Exception as exc:
                logger.exception("inbox item %s: item %d failed", row_id, index)
                failed_items.append({"index": index, "error": f"{type(exc).__name__}: {exc}"[:500]})
        row.processed_at = now
        row.failed_items = failed_items
        row.last_error = (
            f"{len(failed_items)} of {len(items)} items could not be applied" if failed_items else ""
        )
        row.save(update_fields=["processed_at", "failed_items", "last_error"])


def _ingest_row(row: InboxItem, *, now: dt.datetime) -> None:
    body = row.body.encode("utf-8")
    _apply_items(row, parse_inbox_body(kind=row.kind, content_type=row.content_type, body=body), now=now)


def _apply_items(row: InboxItem, items: list, *, now: dt.datetime) -> None:
    if row.kind == InboxItem.Kind.REPLIES:
        replies_ingest(channel=row.channel, replies=items, now=now)
    elif is_smpp_text(row.content_type):
        receipts_apply(channel=row.channel, receipts=smpp_to_receipts(items), now=now)
    else:
        receipts_apply(channel=row.channel, receipts=items, now=now)


def smpp_to_receipts(dlrs: list[SmppReceipt]) -> list[ReceiptItem]:
    """Map SMPP (stat, err) to our outcome with the staff-editable table; unmapped failures are 590."""
    mappings = smpp_mappings()
    receipts = []
    for dlr in dlrs:
        if dlr.stat in INTERMEDIATE_STATS:
            status, code = "pending", None
        else:
            key = (dlr.stat, dlr.err) if (dlr.stat, dlr.err) in mappings else (dlr.stat, "*")
            code = mappings.get(key, None if dlr.stat == "DELIVRD" else 590)
            status = "delivered" if code is None else "failed"
        receipts.append(
            ReceiptItem(
                channel_message_id=dlr.channel_message_id,
                status=status,
                code=code,
                detail=f"stat:{dlr.stat} err:{dlr.err}" + (f" text:{dlr.text}" if dlr.text else ""),
                done_at=dlr.done_at,
            )
        )
    return receipts


def receipt_fingerprint(receipt: ReceiptItem) -> str:
    return hashlib.sha256(json.dumps(receipt.as_log(), sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class ReceiptReport:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    early: int = 0


# What a send failure reads and writes of its message (failures.py).
FAILURE_MESSAGE_FIELDS = (
    "id", "account_id", "phone", "status", "reason", "return_code", "failure_detail", "receipt_at",
    "updated_at", "next_attempt_at",
)  # fmt: skip


@dataclass
class _Receiving:
    """A message named by a receipt of the batch: its status as the batch changes it."""

    pk: int
    status: str
    receipt_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


def receipts_apply(*, channel: Channel, receipts: list[ReceiptItem], now: dt.datetime) -> ReceiptReport:
    """Apply receipts to their messages. Runs inside the caller's transaction."""
    report = ReceiptReport()
    if not receipts:
        return report
    channel_ids = {r.channel_message_id for r in receipts}
    # Plain rows, locked in id order: building 5,000 model instances cost more than the UPDATE.
    messages = {
        channel_message_id: _Receiving(pk=pk, status=status)
        for pk, channel_message_id, status in Message.objects.select_for_update()
        .filter(channel=channel, channel_message_id__in=channel_ids)
        .order_by("pk")
        .values_list("pk", "channel_message_id", "status")
    }
    seen, parts_delivered = _receipt_history([message.pk for message in messages.values()])

    events, delivered, failed, early = [], {}, [], []
    for receipt in receipts:
        message = messages.get(receipt.channel_message_id)
        if message is None:
            early.append(receipt)
            continue
        fingerprint = receipt_fingerprint(receipt)
        if fingerprint in seen[message.pk]:
            report.duplicates += 1
            continue
        seen[message.pk].add(fingerprint)
        log = {**receipt.as_log(), "fingerprint": fingerprint}
        if message.status in FINAL_STATUSES:
            report.ignored += 1
            events.append(_ignored_event(message, receipt, log, now))
            continue
        if message.status != MessageStatus.AWAITING_RECEIPT:
            report.ignored += 1
            events.append(
                _event(message, MessageEvent.Kind.RECEIPT_IGNORED, now, log, why="not handed to the channel")
            )
            continue
        report.applied += 1
        events.append(_event(message, MessageEvent.Kind.RECEIPT, now, log))
        # A carrier clock running ahead must not put the receipt after the moment we learnt of it:
        # the update time stays the latest time of the message.
        handset_at = min(receipt.done_at, now)
        if receipt.status == "failed":
            message.status = MessageStatus.SEND_FAILED  # final from here on, for later receipts of the batch
            failed.append((message.pk, receipt, handset_at))
        elif receipt.status == "delivered":
            done = parts_delivered[message.pk]
            done[receipt.part or 1] = max(handset_at, done.get(receipt.part or 1, handset_at))
            if len(done) >= (receipt.parts or 1):
                message.status = MessageStatus.DELIVERED
                message.receipt_at = min(max(done.values()), now)
                message.updated_at = now
                delivered[message.pk] = message

    rows_insert(MessageEvent, EVENT_ROW_FIELDS, events)
    rows_update(
        list(delivered.values()),
        ["status", "receipt_at", "updated_at"],
        where_in={"status": [MessageStatus.AWAITING_RECEIPT]},
        model=Message,
    )
    send_failures_record(failures=_send_failures(failed), now=now)
    report.early = _store_early(channel, early, now=now)
    return report


def _send_failures(failed: list[tuple[int, ReceiptItem, dt.datetime]]) -> list[SendFailure]:
    # Only failed receipts (a few percent) need their message as a model instance.
    if not failed:
        return []
    loaded = Message.objects.only(*FAILURE_MESSAGE_FIELDS).in_bulk([pk for pk, _, _ in failed])
    return [
        SendFailure(
            message=loaded[pk],
            return_code=receipt.code,
            detail=receipt.detail,
            failed_at=handset_at,
            source="receipt",
            receipt_at=handset_at,
        )
        for pk, receipt, handset_at in failed
    ]


def _receipt_history(message_ids: list[int]) -> tuple[dict, dict]:
    """Fingerprints of receipts already logged, and the parts already delivered, per message."""
    seen: dict[int, set] = defaultdict(set)
    parts: dict[int, dict] = defaultdict(dict)
    if not message_ids:
        return seen, parts
    rows = MessageEvent.objects.filter(
        message_id__in=message_ids, kind__in=[MessageEvent.Kind.RECEIPT, MessageEvent.Kind.RECEIPT_IGNORED]
    ).values_list("message_id", "kind", "detail")
    for message_id, kind, detail in rows:
        if detail.get("fingerprint"):
            seen[message_id].add(detail["fingerprint"])
        if kind == MessageEvent.Kind.RECEIPT and detail.get("status") == "delivered":
            parts[message_id][detail.get("part") or 1] = dt.datetime.fromisoformat(detail["done_at"])
    return seen, parts


def _event(message: _Receiving, kind: str, now: dt.datetime, log: dict, **extra) -> tuple:
    return (message.pk, now, kind, {**log, **extra})


def _ignored_event(message: _Receiving, receipt: ReceiptItem, log: dict, now: dt.datetime) -> tuple:
    agrees = (message.status == MessageStatus.DELIVERED and receipt.status == "delivered") or (
        message.status == MessageStatus.SEND_FAILED and receipt.status == "failed"
    )
    why = "already final" if agrees else "contradicts the final status"
    return _event(message, MessageEvent.Kind.RECEIPT_IGNORED, now, log, why=why, final_status=message.status)


def _store_early(channel: Channel, receipts: list[ReceiptItem], *, now: dt.datetime) -> int:
    if not receipts:
        return 0
    waiting = defaultdict(set)
    for cid, receipt in EarlyReceipt.objects.filter(
        channel=channel, channel_message_id__in={r.channel_message_id for r in receipts}
    ).values_list("channel_message_id", "receipt"):
        waiting[cid].add(receipt.get("fingerprint"))
    new = []
    for receipt in receipts:
        fingerprint = receipt_fingerprint(receipt)
        if fingerprint in waiting[receipt.channel_message_id]:
            continue
        waiting[receipt.channel_message_id].add(fingerprint)
        new.append(
            EarlyReceipt(
                channel=channel,
                channel_message_id=receipt.channel_message_id,
                receipt={**receipt.as_log(), "fingerprint": fingerprint},
                received_at=now,
                last_attempt_at=now,
            )
        )
    EarlyReceipt.objects.bulk_create(new)
    return len(new)


def receipt_from_log(log: dict) -> ReceiptItem:
    return ReceiptItem(
        channel_message_id=log["id"],
        status=log["status"],
        code=log.get("code"),
        detail=log.get("detail") or "",
        done_at=dt.datetime.fromisoformat(log["done_at"]),
        part=log.get("part"),
        parts=log.get("parts"),
    )


def early_receipts_apply_for(*, channel: Channel, channel_message_ids: list[str], now: dt.datetime) -> int:
    """Apply the receipts that came before these messages were recorded as handed over.

    Called in the transaction that records the hand-over, so a receipt that raced the channel's
    answer is applied at once rather than at the next periodic retry."""
    if not channel_message_ids:
        return 0
    waiting = list(
        EarlyReceipt.objects.select_for_update()
        .filter(channel=channel, channel_message_id__in=channel_message_ids, orphaned_at__isnull=True)
        .order_by("id")
    )
    if not waiting:
        return 0
    receipts_apply(channel=channel, receipts=[receipt_from_log(e.receipt) for e in waiting], now=now)
    EarlyReceipt.objects.filter(pk__in=[e.pk for e in waiting]).delete()
    return len(waiting)


@dataclass
class EarlyReceiptReport:
    applied: int = 0
    waiting: int = 0
    orphaned: int = 0


def early_receipts_retry(*, batch_size: int = 1000) -> EarlyReceiptReport:
    """Apply waiting receipts whose message is now known; give up on those past the retry window."""
    report = EarlyReceiptReport()
    now = clock.now()
    give_up_before = now - dt.timedelta(hours=settings.SMS_EARLY_RECEIPT_RETRY_HOURS)
    with transaction.atomic():
        waiting = list(
            EarlyReceipt.objects.select_for_update(skip_locked=True)
            .filter(orphaned_at__isnull=True)
            .select_related("channel")
            .order_by("id")[:batch_size]
        )
        by_channel = defaultdict(list)
        for early in waiting:
            by_channel[early.channel].append(early)
        for channel, earlies in by_channel.items():
            known = set(
                Message.objects.filter(
                    channel=channel, channel_message_id__in={e.channel_message_id for e in earlies}
                ).values_list("channel_message_id", flat=True)
            )
            ready = [e for e in earlies if e.channel_message_id in known]
            receipts_apply(channel=channel, receipts=[receipt_from_log(e.receipt) for e in ready], now=now)
            EarlyReceipt.objects.filter(pk__in=[e.pk for e in ready]).delete()
            report.applied += len(ready)
            still = [e for e in earlies if e.channel_message_id not in known]
            for early in still:
                early.attempts += 1
                early.last_attempt_at = now
                if early.received_at < give_up_before:
                    early.orphaned_at = now
                    report.orphaned += 1
                else:
                    report.waiting += 1
            rows_update(still, ["attempts", "last_attempt_at", "orphaned_at"])
    return report


__all__ = ["PayloadError", "inbox_receive", "inbox_ingest", "receipts_apply", "early_receipts_retry"]
