"""Delivery to the customer's endpoint: signed, batched, in order, retried with backoff for 24 hours,
and the endpoint's health as the settings page shows it."""

import datetime as dt
import time

import pytest
from django.utils import timezone, translation

from callbacks.models import AttemptOutcome, CallbackAttempt, CallbackEndpoint, CallbackEvent, EventState
from callbacks.services import callbacks_deliver
from delivery.models import Message, MessageStatus, Reason
from smsconsole import clock
from tests.factories import CallbackEndpointFactory, MessageFactory

pytestmark = pytest.mark.usefixtures("allow_private_callbacks")


@pytest.fixture
def endpoint(account, receiver):
    return CallbackEndpointFactory(account=account, url=receiver.url)


def change_status(message, status, **fields):
    Message.objects.filter(pk=message.pk).update(status=status, updated_at=timezone.now(), **fields)


def later(**delta):
    return clock.frozen(timezone.now() + dt.timedelta(**delta))


@pytest.mark.django_db
def test_a_delivery_is_signed_so_the_customer_can_verify_it(endpoint, receiver, account):
    message = MessageFactory(account=account, tag="otp")
    change_status(message, MessageStatus.SEND_FAILED, reason=Reason.INVALID_NUMBER, return_code=500)

    callbacks_deliver()

    (request,) = receiver.requests
    assert request.is_signed_with(endpoint.secret)
    assert not request.is_signed_with("another secret")
    tampered = type(request)(request.path, request.headers, request.body.replace(b"otp", b"ott"))
    assert not tampered.is_signed_with(endpoint.secret)
    timestamp = int(request.headers["X-Signature"].split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 60
    event = request.json  # one event alone is not wrapped
    assert event["event"] == "status"
    assert event["message"]["id"] == message.pk
    assert event["message"]["status"] == "send_failed"
    assert (event["message"]["return_code"], event["message"]["reason"]) == (500, "invalid_number")
    assert event["message"]["tag"] == "otp" and "send_log" not in event["message"]
    assert CallbackEvent.objects.get().state == EventState.DELIVERED


@pytest.mark.django_db
def test_many_due_events_go_in_batches_of_100(endpoint, receiver, account):
    messages = MessageFactory.create_batch(250, account=account)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=MessageStatus.DELIVERED)

    report = callbacks_deliver()

    assert [len(request.events) for request in receiver.requests] == [100, 100, 50]
    assert all("events" in request.json for request in receiver.requests)
    assert sorted(e["message"]["id"] for e in receiver.events) == sorted(m.pk for m in messages)
    assert report.delivered == 250
    assert CallbackAttempt.objects.filter(outcome=AttemptOutcome.OK).count() == 3


@pytest.mark.django_db
def test_the_events_of_a_message_arrive_in_order_with_the_status_of_each(endpoint, receiver, account):
    first, second = MessageFactory(account=account), MessageFactory(account=account)
    change_status(first, MessageStatus.AWAITING_RECEIPT)
    change_status(second, MessageStatus.AWAITING_RECEIPT)
    change_status(first, MessageStatus.DELIVERED)
    receiver.answers = [500]  # the first attempt fails: the order still holds after the retry

    callbacks_deliver()
    with later(seconds=11):
        callbacks_deliver()

    delivered = receiver.requests[-1].events
    of_first = [e for e in delivered if e["message"]["id"] == first.pk]
    assert [e["message"]["status"] for e in of_first] == ["awaiting_receipt", "delivered"]
    assert of_first[0]["sequence"] < of_first[1]["sequence"]


@pytest.mark.django_db
def test_failures_are_retried_with_growing_delays_then_delivered(endpoint, receiver, account):
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [500, 503]

    callbacks_deliver()
    callbacks_deliver()  # backing off: nothing is sent before the delay
    assert len(receiver.requests) == 1
    with later(seconds=11):
        callbacks_deliver()
    assert len(receiver.requests) == 2
    with later(seconds=25):
        callbacks_deliver()  # the second delay is 20 s
    assert len(receiver.requests) == 2
    with later(seconds=40):
        callbacks_deliver()

    assert len(receiver.requests) == 3
    assert CallbackEvent.objects.get().state == EventState.DELIVERED
    outcomes = list(CallbackAttempt.objects.order_by("id").values_list("outcome", "response_code"))
    assert outcomes == [("failed", 500), ("failed", 503), ("ok", 200)]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


@pytest.mark.django_db
def test_a_timeout_is_a_failure_and_the_log_says_so(endpoint, receiver, account, settings):
    settings.SMS_CALLBACK_TIMEOUT_SECONDS = 0.3
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [("sleep", 1.0)]

    callbacks_deliver()

    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED and attempt.response_code is None
    assert "Timed out" in attempt.error
    assert CallbackEvent.objects.get().state == EventState.PENDING


@pytest.mark.django_db
def test_the_log_is_written_in_english_whatever_language_the_worker_runs_in(
    endpoint, receiver, account, settings
):
    settings.SMS_CALLBACK_TIMEOUT_SECONDS = 0.3
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [("sleep", 1.0)]

    with translation.override("ja"):  # a worker's default language
        callbacks_deliver()

    assert CallbackAttempt.objects.get().error == "Timed out after 0.3 s."


@pytest.mark.django_db
def test_an_endpoint_dripping_its_answer_is_cut_off_at_twice_the_timeout(
    endpoint, receiver, account, settings
):
    settings.SMS_CALLBACK_TIMEOUT_SECONDS = 0.3
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [("drip", 3.0)]

    started = time.monotonic()
    callbacks_deliver()

    assert time.monotonic() - started < 1.5
    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED and "Timed out" in attempt.error


@pytest.mark.django_db
def test_a_dead_endpoint_is_a_connection_error(account):
    CallbackEndpointFactory(account=account, url="http://127.0.0.1:9/nothing-listens")
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)

    callbacks_deliver()

    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED and attempt.error


@pytest.mark.django_db
def test_events_are_given_up_after_24_hours_of_failures(endpoint, receiver, account):
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [500] * 10

    callbacks_deliver()
    with later(hours=23):
        callbacks_deliver()
    assert CallbackEvent.objects.get().state == EventState.PENDING
    with later(hours=24, minutes=1):
        callbacks_deliver()

    assert CallbackEvent.objects.get().state == EventState.GIVEN_UP
    given_up = CallbackAttempt.objects.get(outcome=AttemptOutcome.GIVEN_UP)
    assert given_up.event_count == 1
    with later(hours=30):
        callbacks_deliver()
    assert len(receiver.requests) == 3  # never again


@pytest.mark.django_db
def test_an_endpoint_failing_persistently_is_unhealthy_until_a_success(endpoint, receiver, account, settings):
    settings.SMS_CALLBACK_UNHEALTHY_FAILURES = 3
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    receiver.answers = [500, 500, 500]

    for minutes in (0, 1, 2):
        with later(minutes=minutes):
            callbacks_deliver()
    endpoint.refresh_from_db()
    assert endpoint.is_unhealthy_at(timezone.now())

    with later(minutes=5):
        callbacks_deliver()
    endpoint.refresh_from_db()
    assert not endpoint.is_unhealthy_at(timezone.now())


@pytest.mark.django_db
def test_an_endpoint_failing_for_over_an_hour_is_unhealthy(endpoint):
    CallbackEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=1, failing_since=timezone.now() - dt.timedelta(minutes=61)
    )
    endpoint.refresh_from_db()
    assert endpoint.is_unhealthy_at(timezone.now())


@pytest.mark.django_db
def test_a_leased_endpoint_is_not_sent_to_by_a_second_worker(endpoint, receiver, account):
    change_status(MessageFactory(account=account), MessageStatus.DELIVERED)
    CallbackEndpoint.objects.filter(pk=endpoint.pk).update(
        lease_until=timezone.now() + dt.timedelta(seconds=30)
    )

    callbacks_deliver()

    assert receiver.requests == []
    with later(seconds=31):  # the first worker died: its lease lapses
        callbacks_deliver()
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_events_of_other_accounts_go_to_their_own_endpoints(endpoint, receiver, account, other_account):
    from tests.callbacks.receiver import Receiver

    with Receiver() as other_receiver:
        CallbackEndpointFactory(account=other_account, url=other_receiver.url)
        ours, theirs = MessageFactory(account=account), MessageFactory(account=other_account)
        change_status(ours, MessageStatus.DELIVERED)
        change_status(theirs, MessageStatus.DELIVERED)

        callbacks_deliver()

    assert [e["message"]["id"] for e in receiver.events] == [ours.pk]
    assert [e["message"]["id"] for e in other_receiver.events] == [theirs.pk]
