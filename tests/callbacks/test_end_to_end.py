"""A message sent through the API with the simulator reaches the customer as callbacks: handed over
(awaiting_receipt), then delivered, with a failure's code and reason, and a reply."""

import pytest

from callbacks.services import callbacks_deliver, endpoint_save
from delivery.models import MessageStatus
from tests.factories import TemplateFactory
from tests.pipeline.helpers import send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private_callbacks")]


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Order {{order}} shipped")


@pytest.fixture
def endpoint(account, receiver):
    endpoint, _created = endpoint_save(account=account, url=receiver.url, events=["status", "reply"])
    return endpoint


def test_a_sent_message_calls_back_awaiting_receipt_then_delivered(api, template, endpoint, receiver):
    [message] = send(api, template, "+819012345671")
    assert message.status == MessageStatus.DELIVERED

    callbacks_deliver()

    assert all(request.is_signed_with(endpoint.secret) for request in receiver.requests)
    mine = [e for e in receiver.events if e["message"]["id"] == message.pk]
    assert [e["message"]["status"] for e in mine] == ["awaiting_receipt", "delivered"]
    assert mine[0]["message"]["receipt_at"] is None and mine[1]["message"]["receipt_at"]
    assert mine[1]["message"]["to"] == "+819012345671" and mine[1]["message"]["channel"] == "sim"


def test_a_failed_send_calls_back_with_its_code_and_reason(api, template, endpoint, receiver):
    [message] = send(api, template, "+819012345530")  # the simulator: busy

    callbacks_deliver()

    last = [e for e in receiver.events if e["message"]["id"] == message.pk][-1]["message"]
    assert (last["status"], last["return_code"], last["reason"]) == ("send_failed", 530, "busy")


def test_a_check_failure_calls_back_processing_failed(api, template, endpoint, receiver, account):
    from tests.factories import InterceptFactory

    InterceptFactory(account=account, scope="local", phone="+819012345671")
    [message] = send(api, template, "+819012345671")

    callbacks_deliver()

    (event,) = [e for e in receiver.events if e["message"]["id"] == message.pk]
    assert (event["message"]["status"], event["message"]["reason"]) == (
        "processing_failed",
        "local_intercept",
    )


def test_a_reply_calls_back_with_the_message_it_answers(api, template, endpoint, receiver, simulator):
    from django.utils import timezone

    from tests.pipeline.helpers import post_webhook

    [message] = send(api, template, "+819012345671")
    reply = {"from": "+819012345671", "content": "Thanks", "received_at": timezone.now().isoformat()}
    assert post_webhook(simulator, "replies", {"replies": [reply]}).status_code == 202

    callbacks_deliver()

    (event,) = [e for e in receiver.events if e["event"] == "reply"]
    assert event["reply"]["content"] == "Thanks" and event["reply"]["message"] == message.pk
    assert event["message"]["id"] == message.pk


def test_a_slow_endpoint_never_holds_sending_or_ingestion(api, template, endpoint, receiver):
    import time

    receiver.answers = [("sleep", 3)] * 5
    started = time.monotonic()
    [message] = send(api, template, "+819012345671")  # dispatch, hand-over and receipt, eagerly

    assert message.status == MessageStatus.DELIVERED
    assert time.monotonic() - started < 2
    assert receiver.requests == []  # nothing is POSTed until a worker delivers
