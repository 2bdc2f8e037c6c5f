import pytest

from delivery.models import Message, MessageStatus
from smsconsole.models import Account
from tests.factories import SmsUserFactory, TemplateFactory
from tests.pipeline.helpers import events, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Order {{order}} shipped")


def test_send_answers_202_in_request_order_and_stores_e164(api, template):
    response = api.post(
        "/api/v1/messages",
        {
            "template": template.pk,
            "tag": "shipping",
            "messages": [
                {"to": "090-1111-2222", "vars": {"order": "A1"}},
                {"to": "+81 80 3333 4444", "vars": {"order": 7}},
            ],
        },
        format="json",
    )
    assert response.status_code == 202
    body = response.json()["messages"]
    assert [(m["to"], m["status"]) for m in body] == [
        ("+819011112222", "requesting"),
        ("+818033334444", "requesting"),
    ]
    first = Message.objects.get(pk=body[0]["id"])
    assert first.tag == "shipping" and first.content == "Order A1 shipped" and first.segments == 1
    assert Message.objects.get(pk=body[1]["id"]).variables == {"order": "7"}


def test_sent_messages_go_through_the_pipeline(api, template):
    [message] = send(api, template, "+819011112222")
    assert message.status == MessageStatus.DELIVERED
    assert events(message) == ["requested", "checks_passed", "handed_to_channel", "receipt"]
    assert message.channel_delivered_at and message.receipt_at and message.channel_message_id


@pytest.mark.parametrize(
    "body, field",
    [
        ({"messages": [{"to": "+819011112222"}]}, "template"),
        ({"template": "x", "messages": [{"to": "+819011112222"}]}, "template"),
        ({"template": 1}, "messages"),
        ({"template": 1, "messages": []}, "messages"),
        ({"template": 1, "messages": [{"vars": {}}]}, "messages"),
        ({"template": 1, "messages": [{"to": "+819011112222", "vars": {"a": {"nested": 1}}}]}, "messages"),
        ({"template": 1, "messages": [{"to": "+819011112222"}], "tag": "t" * 65}, "tag"),
        ({"template": 1, "messages": [{"to": "+819011112222", "vars": {"code": "9" * 2001}}]}, "messages"),
        ({"template": 1, "messages": [{"to": "+819011112222", "vars": {"code": "1\u00002"}}]}, "messages"),
        (
            {"template": 1, "messages": [{"to": "+819011112222", "vars": {f"v{i}": 1 for i in range(101)}}]},
            "messages",
        ),
    ],
)
def test_malformed_requests_are_400_naming_the_field(api, template, body, field):
    response = api.post("/api/v1/messages", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Message.objects.count() == 0


def test_bad_json_is_400(api):
    response = api.generic("POST", "/api/v1/messages", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_too_many_recipients_is_400(api, template):
    recipients = [{"to": f"+8190{i:08d}"} for i in range(1001)]
    response = api.post("/api/v1/messages", {"template": template.pk, "messages": recipients}, format="json")
    assert response.status_code == 400
    assert "messages" in response.json()["errors"]
    assert Message.objects.count() == 0


def test_invalid_numbers_are_named_by_index_and_nothing_is_stored(api, template):
    response = api.post(
        "/api/v1/messages",
        {"template": template.pk, "messages": [{"to": "+819011112222"}, {"to": "12345"}, {"to": "abc"}]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]["messages"]) == {"1", "2"}
    assert Message.objects.count() == 0


def test_another_accounts_template_is_unknown(api, other_account):
    foreign = TemplateFactory(account=other_account)
    response = api.post(
        "/api/v1/messages", {"template": foreign.pk, "messages": [{"to": "+819011112222"}]}, format="json"
    )
    assert response.status_code == 400
    assert "template" in response.json()["errors"]
    assert Message.objects.count() == 0


def test_national_numbers_use_the_accounts_region(api, account, template):
    Account.objects.filter(pk=account.pk).update(default_region="US")
    response = api.post(
        "/api/v1/messages", {"template": template.pk, "messages": [{"to": "(201) 555-0123"}]}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["messages"][0]["to"] == "+12015550123"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Token abc", "Bearer "])
def test_missing_or_wrong_key_is_401(client, template, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        "/api/v1/messages",
        {"template": template.pk, "messages": [{"to": "+819011112222"}]},
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 401
    assert "detail" in response.json()


def test_inactive_sms_user_is_403(api, sms_user, template):
    sms_user.is_active = False
    sms_user.save()
    response = api.post(
        "/api/v1/messages", {"template": template.pk, "messages": [{"to": "+819011112222"}]}, format="json"
    )
    assert response.status_code == 403
    assert "inactive" in response.json()["detail"]
    assert Message.objects.count() == 0


def test_suspended_account_is_403(api, account, template):
    Account.objects.filter(pk=account.pk).update(status="suspended")
    response = api.post(
        "/api/v1/messages", {"template": template.pk, "messages": [{"to": "+819011112222"}]}, format="json"
    )
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]


def test_last_used_is_recorded(api, sms_user, template):
    api.get("/api/v1/messages/1")
    sms_user.refresh_from_db()
    assert sms_user.last_used_at is not None


def test_get_message_shows_every_field_and_its_send_log(api, template, sms_user):
    [message] = send(api, template, "+819011112222")
    response = api.get(f"/api/v1/messages/{message.pk}")
    assert response.status_code == 200
    body = response.json()
    for field in [
        "status", "reason", "return_code", "sms_user", "message_count", "to", "template", "template_type",
        "tag",
        "requested_at", "channel_delivered_at", "receipt_at", "updated_at", "content",
    ]:  # fmt: skip
        assert field in body
    assert body["sms_user"] == sms_user.name
    assert [e["kind"] for e in body["send_log"]] == [
        "requested",
        "checks_passed",
        "handed_to_channel",
        "receipt",
    ]


def test_another_accounts_message_is_404(api, other_api, other_account, template):
    other_template = TemplateFactory(account=other_account)
    [theirs] = send(other_api, other_template, "+819011112222")
    assert api.get(f"/api/v1/messages/{theirs.pk}").status_code == 404
    assert api.get("/api/v1/messages/999999").status_code == 404
    assert other_api.get(f"/api/v1/messages/{theirs.pk}").status_code == 200


def test_another_sms_user_of_the_same_account_sees_the_message(api, account, template):
    [message] = send(api, template, "+819011112222")
    colleague = SmsUserFactory(account=account)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {colleague.raw_key}")
    assert client.get(f"/api/v1/messages/{message.pk}").status_code == 200


def test_openapi_schema_documents_every_endpoint(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json() if response["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    assert "/api/v1/messages" in paths and "post" in paths["/api/v1/messages"]
    assert "/api/v1/messages/{message_id}" in paths
    assert "/api/v1/channels/{code}/receipts" in paths
    assert "/api/v1/channels/{code}/replies" in paths
    assert "delete" in paths["/api/v1/intercepts/{intercept_id}"]


def test_a_dispatch_that_fails_after_the_commit_still_answers_202(api, template, monkeypatch):
    # The messages are stored; a 500 here would make the client submit them a second time.
    def broken(**kwargs):
        raise RuntimeError("broker unreachable")

    monkeypatch.setattr("delivery.services.dispatch.messages_dispatch", broken)
    [message] = send(api, template, "+819011110001")
    assert message.status == MessageStatus.REQUESTING
    assert events(message) == ["requested"]
