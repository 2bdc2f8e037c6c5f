"""PUT / GET / DELETE /api/v1/callback and POST /api/v1/callback/secret."""

import pytest

from callbacks.models import CallbackEndpoint, CallbackEvent
from delivery.models import Message, MessageStatus
from tests.factories import CallbackEndpointFactory, MessageFactory

URL = "/api/v1/callback"
HOOK = "http://127.0.0.1:8000/hooks/sms"


@pytest.fixture(autouse=True)
def development(settings):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True


@pytest.mark.django_db
def test_put_creates_the_endpoint_and_shows_its_secret_once(api, account):
    response = api.put(URL, {"url": HOOK, "events": ["status", "reply"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == HOOK and body["events"] == ["status", "reply"] and body["is_healthy"] is True
    assert body["secret"] == CallbackEndpoint.objects.get(account=account).secret

    again = api.put(URL, {"url": HOOK + "/v2", "events": ["reply"]}, format="json")
    assert again.status_code == 200
    assert "secret" not in again.json() and again.json()["events"] == ["reply"]
    read = api.get(URL)
    assert read.status_code == 200 and "secret" not in read.json()
    assert read.json()["url"] == HOOK + "/v2"


@pytest.mark.django_db
def test_rotating_the_secret_answers_the_new_one(api, account):
    old = CallbackEndpointFactory(account=account).secret

    response = api.post(URL + "/secret")

    assert response.status_code == 200
    assert response.json()["secret"] != old
    assert response.json()["secret"] == CallbackEndpoint.objects.get(account=account).secret


@pytest.mark.django_db
def test_delete_removes_it_and_its_undelivered_events(api, account):
    CallbackEndpointFactory(account=account)
    Message.objects.filter(pk=MessageFactory(account=account).pk).update(status=MessageStatus.DELIVERED)

    assert api.delete(URL).status_code == 204
    assert api.get(URL).status_code == 404
    assert api.delete(URL).status_code == 404
    assert not CallbackEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"events": ["status"]}, "url"),
        ({"url": HOOK}, "events"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["sent"]}, "events"),
        ({"url": 5, "events": ["status"]}, "url"),
        ({"url": "not a url", "events": ["status"]}, "url"),
        ({"url": "https://" + "a" * 2000 + ".example", "events": ["status"]}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.put(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["errors"]
    assert not CallbackEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook"]
)
def test_production_refuses_plain_http_and_private_addresses(api, settings, url):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = False

    response = api.put(URL, {"url": url, "events": ["status"]}, format="json")

    assert response.status_code == 400 and "url" in response.json()["errors"]


@pytest.mark.django_db
def test_another_accounts_endpoint_is_not_yours(api, other_api, account):
    CallbackEndpointFactory(account=account, url=HOOK)

    assert other_api.get(URL).status_code == 404
    assert other_api.delete(URL).status_code == 404
    assert other_api.post(URL + "/secret").status_code == 404
    assert CallbackEndpoint.objects.filter(account=account).exists()


def test_the_api_needs_a_key(client, db):
    assert client.get(URL).status_code == 401
