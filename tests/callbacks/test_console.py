"""The settings page at /settings/callbacks/, its actions, and the delivery log with replay."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks.models import AttemptOutcome, CallbackAttempt, CallbackEndpoint, CallbackEvent, EventState
from callbacks.services import callbacks_deliver
from delivery.models import Message, MessageStatus
from tests.factories import CallbackEndpointFactory, MessageFactory

SETTINGS = reverse("callbacks:endpoint-settings")
LOG = reverse("callbacks:attempt-list")

pytestmark = pytest.mark.usefixtures("allow_private_callbacks")


def delivered_event(account):
    message = MessageFactory(account=account)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED, updated_at=timezone.now())
    return CallbackEvent.objects.filter(message_id=message.pk).get()


@pytest.mark.django_db
def test_an_operator_sets_the_url_and_sees_the_secret_once(operator_client, account, receiver):
    response = operator_client.post(
        SETTINGS, {"url": receiver.url, "events": ["status"]}, HTTP_ACCEPT_LANGUAGE="en"
    )

    endpoint = CallbackEndpoint.objects.get(account=account)
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert endpoint.events == ["status"]
    page = operator_client.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert endpoint.secret not in page and receiver.url in page and "Healthy" in page


@pytest.mark.django_db
def test_a_refused_url_is_shown_on_the_form(operator_client, settings, account):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = False

    response = operator_client.post(
        SETTINGS, {"url": "http://127.0.0.1/hook", "events": ["status"]}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert "must start with https://" in response.content.decode()
    assert not CallbackEndpoint.objects.exists()


@pytest.mark.django_db
def test_rotating_shows_the_new_secret_and_removing_deletes(operator_client, account):
    old = CallbackEndpointFactory(account=account).secret

    response = operator_client.post(reverse("callbacks:endpoint-secret"))
    new = CallbackEndpoint.objects.get(account=account).secret
    assert new != old and new in response.content.decode()

    operator_client.post(reverse("callbacks:endpoint-delete"))
    assert not CallbackEndpoint.objects.exists()


@pytest.mark.django_db
def test_an_unhealthy_endpoint_says_so(operator_client, account):
    CallbackEndpointFactory(account=account, consecutive_failures=9, failing_since=timezone.now())

    page = operator_client.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Unhealthy" in page and "failed 9 attempts in a row" in page


@pytest.mark.django_db
def test_a_test_event_is_sent_and_logged(
    operator_client, account, receiver, django_capture_on_commit_callbacks
):
    endpoint = CallbackEndpointFactory(account=account, url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(reverse("callbacks:endpoint-test"))

    assert response.status_code == 302
    (request,) = receiver.requests
    assert request.json["event"] == "test" and request.is_signed_with(endpoint.secret)
    page = operator_client.get(LOG, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "(test event)" in page and "200" in page


@pytest.mark.django_db
def test_the_log_shows_each_attempt_and_filters_by_outcome(operator_client, account, receiver):
    CallbackEndpointFactory(account=account, url=receiver.url)
    delivered_event(account)
    receiver.answers = [500]
    callbacks_deliver()

    page = operator_client.get(LOG, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "500" in page and '{"answer":500' in page.replace("&quot;", '"').replace(" ", "")
    ok_only = operator_client.get(LOG, {"outcome": "ok"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No callback was attempted in this period." in ok_only
    failed = operator_client.get(LOG, {"outcome": "failed"}, HTTP_ACCEPT_LANGUAGE="en")
    assert len(failed.context["table"].rows) == 1


@pytest.mark.django_db
def test_replaying_one_event_sends_it_again_and_is_audited(operator_client, operator, account, receiver):
    CallbackEndpointFactory(account=account, url=receiver.url)
    event = delivered_event(account)
    callbacks_deliver()

    response = operator_client.post(reverse("callbacks:event-replay", kwargs={"event_id": event.pk}))
    callbacks_deliver()

    assert response.status_code == 302
    first, again = receiver.requests
    assert again.json["id"] == first.json["id"] == str(event.pk) and again.json["replay"] is True
    audit = CallbackAttempt.objects.get(outcome=AttemptOutcome.REPLAY)
    assert audit.requested_by == operator and audit.event_ids == [event.pk]
    assert CallbackAttempt.objects.filter(outcome=AttemptOutcome.OK, is_replay=True).count() == 1


@pytest.mark.django_db
def test_replaying_a_range_sends_its_events_in_order(operator_client, account, receiver):
    CallbackEndpointFactory(account=account, url=receiver.url)
    events = [delivered_event(account) for _ in range(3)]
    CallbackEvent.objects.filter(pk=events[0].pk).update(occurred_at=timezone.now() - dt.timedelta(days=2))
    callbacks_deliver()
    start = timezone.localtime(timezone.now() - dt.timedelta(hours=1), account.zone)

    response = operator_client.post(
        reverse("callbacks:range-replay"), {"start": start.strftime("%Y-%m-%d %H:%M"), "end": ""}
    )
    assert response.status_code == 400  # the end is required
    end = timezone.localtime(timezone.now() + dt.timedelta(hours=1), account.zone)
    response = operator_client.post(
        reverse("callbacks:range-replay"),
        {"start": start.strftime("%Y-%m-%d %H:%M"), "end": end.strftime("%Y-%m-%d %H:%M")},
    )
    callbacks_deliver()

    assert response.status_code == 302
    assert [e["id"] for e in receiver.requests[-1].events] == [str(events[1].pk), str(events[2].pk)]
    assert CallbackAttempt.objects.get(outcome=AttemptOutcome.REPLAY).event_count == 2


@pytest.mark.django_db
def test_another_accounts_events_and_log_are_not_yours(operator_client, account, other_account, receiver):
    CallbackEndpointFactory(account=account, url=receiver.url)
    CallbackEndpointFactory(account=other_account, url=receiver.url)
    theirs = delivered_event(other_account)
    callbacks_deliver()
    CallbackEvent.objects.filter(pk=theirs.pk).update(state=EventState.DELIVERED)

    response = operator_client.post(reverse("callbacks:event-replay", kwargs={"event_id": theirs.pk}))

    assert response.status_code == 404
    assert CallbackEvent.objects.get(pk=theirs.pk).is_replay is False
    assert len(operator_client.get(LOG).context["table"].rows) == 0


@pytest.mark.django_db
def test_staff_see_the_account_they_switched_to(staff_client, account, other_account):
    CallbackEndpointFactory(account=other_account, url="http://127.0.0.1:9/bobs")
    staff_client.post(reverse("account-switch"), {"account": other_account.pk})

    page = staff_client.get(SETTINGS).content.decode()

    assert "http://127.0.0.1:9/bobs" in page


@pytest.mark.django_db
def test_an_account_without_an_endpoint_has_nothing_to_act_on(operator_client):
    assert operator_client.post(reverse("callbacks:endpoint-test")).status_code == 404
    assert operator_client.post(reverse("callbacks:endpoint-delete")).status_code == 404
    assert operator_client.get(SETTINGS).status_code == 200


@pytest.mark.django_db
def test_the_settings_page_speaks_japanese(operator_client, account):
    CallbackEndpointFactory(account=account, consecutive_failures=9)

    page = operator_client.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="ja").content.decode()

    assert "ステータスコールバック" in page and "9回連続で失敗" in page and "署名付きのJSON" in page
