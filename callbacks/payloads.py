"""What a callback POST carries: the events as JSON, with the message fields of the API.

A status event: `{"event": "status", "id": "<event id>", "sequence": <n>, "occurred_at": …,
"message": {…GET /api/v1/messages/<id> without send_log…}}`, its status fields as they were at the
event. A reply event: the same with `"reply": {…}` and the message it answers (or null). `sequence`
increases with every event of a message (it is the event's position in the platform's outbox), so a
receiver can tell an older event (a replay) from a newer one."""

import datetime as dt
import json

from django.utils import timezone

from callbacks.models import CallbackEvent, EventKind
from delivery.api import MessageSerializer
from delivery.models import Message
from replies.api import ReplySerializer
from replies.models import Reply

SNAPSHOT_FIELDS = ("status", "reason", "return_code", "failure_detail", "channel_delivered_at", "receipt_at")


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _message_snapshot(event: CallbackEvent, message: Message | None) -> dict:
    data = dict(MessageSerializer(message).data) if message is not None else {"id": event.message_id}
    for field in SNAPSHOT_FIELDS:
        value = getattr(event, field)
        data[field] = _iso(value) if isinstance(value, dt.datetime) else value
    data["reason"] = data["reason"] or None
    data["updated_at"] = _iso(event.occurred_at)
    return data


def event_payloads(events: list[CallbackEvent]) -> list[dict]:
    """The events as the customer receives them, in the order given (two queries for any number)."""
    message_ids = {e.message_id for e in events if e.message_id}
    reply_ids = {e.reply_id for e in events if e.reply_id}
    messages = Message.objects.select_related("sms_user", "template", "channel").in_bulk(message_ids)
    replies = Reply.objects.select_related("template").in_bulk(reply_ids)
    payloads = []
    # DRF writes times in the current zone; callbacks are in UTC whatever the server's zone.
    with timezone.override(dt.UTC):
        for event in events:
            body = {
                "event": event.kind,
                "id": str(event.pk),
                "sequence": event.pk,
                "occurred_at": _iso(event.occurred_at),
            }
            if event.kind == EventKind.STATUS:
                body["message"] = _message_snapshot(event, messages.get(event.message_id))
            elif event.kind == EventKind.REPLY:
                reply = replies.get(event.reply_id)
                body["reply"] = dict(ReplySerializer(reply).data) if reply else {"id": event.reply_id}
                message = messages.get(event.message_id)
                body["message"] = dict(MessageSerializer(message).data) if message else None
            else:
                body["message"] = None
            if event.is_replay:
                body["replay"] = True
            payloads.append(body)
    return payloads


def request_body(payloads: list[dict]) -> bytes:
    """One event alone; several as `{"events": [...]}`."""
    document = payloads[0] if len(payloads) == 1 else {"events": payloads}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
