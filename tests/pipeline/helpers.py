"""Small helpers the pipeline tests share: sending through the API and posting signed webhooks."""

import json

from django.test import Client, TestCase

from delivery.channels.base import signed_headers
from delivery.models import Message


def pipeline():
    """Run what the code queues after commit (tasks run eagerly), as a real request would.

    Tests run inside a transaction that never commits, so on_commit callbacks need this nudge."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def send(api, template, *recipients, tag="test"):
    """POST /api/v1/messages and return the stored messages, refreshed after the eager pipeline ran."""
    body = {"template": template.pk, "tag": tag, "messages": [_recipient(r) for r in recipients]}
    with pipeline():
        response = api.post("/api/v1/messages", body, format="json")
    assert response.status_code == 202, response.content
    ids = [item["id"] for item in response.json()["messages"]]
    by_id = Message.objects.in_bulk(ids)
    return [by_id[i] for i in ids]


def _recipient(recipient):
    if isinstance(recipient, str):
        return {"to": recipient, "vars": {"order": "A-1", "code": "1234", "name": "Sato"}}
    return recipient


def post_webhook(channel, kind, payload, *, secret=None, content_type="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pipeline():
        return Client().post(
            f"/api/v1/channels/{channel.code}/{kind}",
            data=body,
            content_type=content_type,
            headers=signed_headers(body, secret or channel.webhook_secret),
        )


def events(message) -> list[str]:
    return list(message.events.order_by("id").values_list("kind", flat=True))
