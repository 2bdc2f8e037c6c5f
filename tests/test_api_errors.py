"""Every answer under /api/ is JSON in the documented error shape, whatever the request was."""

import json

import pytest
from django.db import OperationalError, connection
from django.test import Client

from delivery.models import InboxItem, Message
from replies.models import Reply
from tests.factories import TemplateFactory
from tests.faults import dropped_while_writing
from tests.pipeline.helpers import post_webhook

pytestmark = pytest.mark.django_db

GOOD_RECEIPT = {"id": "m1", "status": "delivered", "done_at": "2026-11-28T10:00:00+09:00"}
GOOD_REPLY = {"from": "+819011112222", "content": "ok", "received_at": "2026-11-28T10:00:00+09:00"}


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Code {{code}}")


def send_raw(api, body: bytes | str, **extra):
    return api.generic("POST", "/api/v1/messages", body, content_type="application/json", **extra)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code:
        assert body["code"] == code
    assert set(body) <= {"detail", "code", "errors"}
    return body


# --- routes and methods --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/nothing-here"),
        ("post", "/api/v2/messages"),
        ("get", "/api/"),
        ("get", "/api/v1/messages/abc"),
        ("get", "/api/v1/messages/"),
        ("delete", "/api/v1/intercepts/false"),
        ("delete", "/api/v1/intercepts/-1"),
    ],
)
def test_unknown_routes_and_non_integer_ids_are_a_json_404(api, method, path):
    body = assert_error(getattr(api, method)(path), 404, "not_found")
    assert "pattern" not in body["detail"].lower()  # not Django's list of URL patterns


def test_unknown_routes_are_json_even_with_debug_on(api, settings):
    settings.DEBUG = True
    assert_error(api.get("/api/v1/nothing-here"), 404)


def test_a_missing_object_is_a_json_404(api):
    assert_error(api.get("/api/v1/messages/999999999"), 404, "not_found")
    assert_error(api.delete("/api/v1/intercepts/999999999"), 404, "not_found")


def test_console_pages_keep_their_html_404(operator_client):
    response = operator_client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_what_django_refuses_before_any_view_is_json_under_the_api(api, operator_client):
    # An unknown Host header, and more query parameters than Django parses: SuspiciousOperation.
    assert_error(api.get("/api/v1/messages", HTTP_HOST="evil.example"), 400, "bad_request")
    too_many = "&".join(f"f{i}=1" for i in range(1001))
    assert_error(api.get(f"/api/v1/messages?{too_many}"), 400, "bad_request")
    console = operator_client.get("/status/", HTTP_HOST="evil.example")
    assert console.status_code == 400 and console["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "method, path",
    [("put", "/api/v1/messages"), ("patch", "/api/v1/intercepts"), ("get", "/api/v1/channels/sim/receipts")],
)
def test_a_method_the_endpoint_does_not_have_is_a_json_405(api, simulator, method, path):
    response = getattr(api, method)(path)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_another_media_type_is_a_json_415(api, template):
    response = api.generic(
        "POST", "/api/v1/messages", "template=1", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")
    assert not Message.objects.exists()


def test_authentication_errors_carry_a_code(client, sms_user):
    assert_error(client.get("/api/v1/messages"), 401, "not_authenticated")
    assert_error(
        client.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer nope"), 401, "authentication_failed"
    )
    sms_user.is_active = False
    sms_user.save()
    response = client.get("/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {sms_user.raw_key}")
    assert_error(response, 403, "permission_denied")


def test_validation_errors_have_the_documented_shape(api):
    body = assert_error(api.post("/api/v1/messages", {"messages": []}, format="json"), 400, "invalid")
    assert set(body["errors"]) == {"template", "messages"}
    body = assert_error(api.get("/api/v1/messages", {"limit": "0"}), 400, "invalid")
    assert "limit" in body["errors"]


@pytest.mark.parametrize("limit", ["0", "501", "-1", "5_0", " 5", "٥", "1.0", "x", "9" * 40])
def test_limit_takes_only_a_whole_number_from_1_to_500(api, limit):
    body = assert_error(api.get("/api/v1/messages", {"limit": limit}), 400, "invalid")
    assert "limit" in body["errors"]


def test_limit_at_its_bounds_is_accepted(api):
    assert api.get("/api/v1/messages", {"limit": "1"}).status_code == 200
    assert api.get("/api/v1/messages", {"limit": "500"}).status_code == 200


# --- bodies too large or too deep ----------------------------------------------------------------


TOO_LARGE = 25 * 1024 * 1024


def test_a_25_mb_send_is_a_json_413_and_nothing_is_stored(api, template):
    padding = "x" * TOO_LARGE
    body = json.dumps({"template": template.pk, "tag": padding, "messages": [{"to": "+819011112222"}]})
    assert_error(send_raw(api, body), 413, "too_large")
    assert not Message.objects.exists()


@pytest.mark.parametrize("kind", ["receipts", "replies"])
def test_a_25_mb_webhook_body_is_a_json_413_and_nothing_is_stored(simulator, kind):
    body = json.dumps({kind: [GOOD_RECEIPT if kind == "receipts" else GOOD_REPLY], "pad": "x" * TOO_LARGE})
    assert_error(post_webhook(simulator, kind, body.encode()), 413, "too_large")
    assert not InboxItem.objects.exists()


def test_a_body_at_the_limit_is_read(api, template, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    body = json.dumps({"template": template.pk, "messages": [{"to": "+819011112222", "vars": {"code": "1"}}]})
    body += " " * (200 - len(body))
    assert send_raw(api, body).status_code == 202
    assert_error(send_raw(api, body + " "), 413, "too_large")
    assert Message.objects.count() == 1


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_is_a_400_on_the_send_api(api, depth):
    assert_error(send_raw(api, "[" * depth + "]" * depth), 400, "parse_error")
    assert_error(send_raw(api, "[" * depth), 400, "parse_error")
    assert not Message.objects.exists()


def test_nesting_that_parses_is_refused_by_validation(api, template):
    nested = "[" * 500 + "]" * 500
    body = (
        f'{{"template": {template.pk}, "messages": [{{"to": "+819011112222", "vars": {{"a": {nested}}}}}]}}'
    )
    assert_error(send_raw(api, body), 400, "invalid")
    assert not Message.objects.exists()


@pytest.mark.parametrize("kind", ["receipts", "replies"])
@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"receipts": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"receipts": [{"id": ' + "9" * 5000 + "}]}",
        '{"replies": [{"from": ' + "9" * 5000 + "}]}",
    ],
    ids=["open-brackets", "nested-list", "huge-int-receipt", "huge-int-reply"],
)
def test_bodies_python_cannot_parse_are_a_400_on_the_webhooks(simulator, kind, body):
    body = assert_error(post_webhook(simulator, kind, body.encode()), 400, "invalid")
    assert "JSON" in body["detail"]
    assert not InboxItem.objects.exists()


def test_a_huge_integer_is_a_400_on_the_send_api(api, template):
    body = f'{{"template": {"9" * 5000}, "messages": [{{"to": "+819011112222"}}]}}'
    assert_error(send_raw(api, body), 400, "parse_error")


# --- text the database cannot store --------------------------------------------------------------


@pytest.mark.parametrize(
    "vars_json, where",
    [
        ('{"code": "\\ud800"}', "vars"),
        ('{"code": "ok\\udfff"}', "vars"),
        ('{"\\ud800": "1"}', "vars"),
        ('{"a\\u0000b": "1"}', "vars"),
        ('{"code": "a\\u0000b"}', "vars"),
        ('{"code": ' + "9" * 2001 + "}", "vars"),
    ],
)
def test_text_the_database_cannot_store_is_a_400_naming_the_recipient(api, template, vars_json, where):
    body = f'{{"template": {template.pk}, "messages": [{{"to": "+819011112222", "vars": {vars_json}}}]}}'
    errors = assert_error(send_raw(api, body), 400, "invalid")["errors"]
    assert where in errors["messages"]["0"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("field, value", [("tag", '"\\ud800"'), ("tag", '"a\\u0000"')])
def test_an_unstorable_tag_is_a_400(api, template, field, value):
    body = f'{{"template": {template.pk}, "{field}": {value}, "messages": [{{"to": "+819011112222"}}]}}'
    assert field in assert_error(send_raw(api, body), 400, "invalid")["errors"]
    assert not Message.objects.exists()


def test_astral_characters_are_stored_as_sent(api, template):
    response = api.post(
        "/api/v1/messages",
        {
            "template": template.pk,
            "tag": "🎉",
            "messages": [{"to": "+819011112222", "vars": {"code": "𠮷😀"}}],
        },
        format="json",
    )
    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.tag, message.content) == ("🎉", "Code 𠮷😀")


@pytest.mark.parametrize(
    "item, where",
    [
        ({**GOOD_RECEIPT, "id": "m\ud800"}, "receipts[1].id"),
        ({**GOOD_RECEIPT, "detail": "\udfffcarrier"}, "receipts[1].detail"),
        ({**GOOD_RECEIPT, "id": "a\u0000"}, "receipts[1].id"),
        ({**GOOD_RECEIPT, "detail": "a\u0000"}, "receipts[1].detail"),
    ],
)
def test_receipts_the_database_cannot_store_are_a_400_naming_the_item(simulator, item, where):
    # The valid receipt beside the bad one is not stored either: the sender fixes and resends the body.
    response = post_webhook(simulator, "receipts", {"receipts": [GOOD_RECEIPT, item]})
    assert set(assert_error(response, 400, "invalid")["errors"]) == {where}
    assert not InboxItem.objects.exists()


@pytest.mark.parametrize(
    "item, where",
    [
        ({**GOOD_REPLY, "content": "stop\ud800"}, "replies[0].content"),
        ({**GOOD_REPLY, "carrier": "\ud83d"}, "replies[0].carrier"),
        ({**GOOD_REPLY, "content": "nul\u0000"}, "replies[0].content"),
        ({**GOOD_REPLY, "from": "+819011112222;ext=12"}, "replies[0].from"),
        ({**GOOD_REPLY, "from": "+81 90 1111 2222 ext. 3"}, "replies[0].from"),
        ({**GOOD_REPLY, "content": "a" * 8001}, "replies[0].content"),  # refused, never cut
        ({**GOOD_REPLY, "carrier": "c" * 101}, "replies[0].carrier"),
    ],
)
def test_replies_that_cannot_be_ingested_are_a_400_naming_the_item(simulator, item, where):
    response = post_webhook(simulator, "replies", {"replies": [item]})
    assert set(assert_error(response, 400, "invalid")["errors"]) == {where}
    assert not InboxItem.objects.exists() and not Reply.objects.exists()


def test_an_smpp_line_with_nul_is_a_400_naming_the_line(simulator):
    good = "id:1 sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000"
    body = f"{good}\n{good} text:a\x00b".encode()
    response = post_webhook(simulator, "receipts", body, content_type="text/plain")
    assert set(assert_error(response, 400, "invalid")["errors"]) == {"line 2"}
    assert not InboxItem.objects.exists()


def test_a_long_reply_is_stored_whole(simulator):
    reply = {**GOOD_REPLY, "content": "停止" * 4000, "carrier": "c" * 100}
    assert post_webhook(simulator, "replies", {"replies": [reply]}).status_code == 202
    assert Reply.objects.get().content == "停止" * 4000


def test_astral_text_in_webhooks_is_ingested(simulator):
    reply = {**GOOD_REPLY, "content": "やめて😀𠮷", "carrier": "NTT 🐢"}
    assert post_webhook(simulator, "replies", {"replies": [reply]}).status_code == 202
    assert Reply.objects.get().content == "やめて😀𠮷"
    receipt = {**GOOD_RECEIPT, "id": "😀", "detail": "𠮷"}
    assert post_webhook(simulator, "receipts", {"receipts": [receipt]}).status_code == 202
    assert not InboxItem.objects.filter(processed_at__isnull=True).exists()
    assert not InboxItem.objects.filter(attempts__gt=0).exists()


# --- types the schema names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda t: {"tag": 0}, "tag"),
        (lambda t: {"tag": True}, "tag"),
        (lambda t: {"tag": None}, "tag"),
        (lambda t: {"tag": ["a"]}, "tag"),
        (lambda t: {"template": str(t.pk)}, "template"),
        (lambda t: {"template": True}, "template"),
        (lambda t: {"template": t.pk + 0.5}, "template"),
        (lambda t: {"template": 2**63}, "template"),
        (lambda t: {"messages": [{"to": 9012345678}]}, "messages"),
        (lambda t: {"messages": [{"to": ["+819012345678"]}]}, "messages"),
        (lambda t: {"messages": [{"to": "+819012345678", "vars": ["a"]}]}, "messages"),
        (lambda t: {"messages": [{"to": "+819012345678", "vars": {"a": True}}]}, "messages"),
        (lambda t: {"messages": {"to": "+819012345678"}}, "messages"),
    ],
)
def test_a_value_of_another_type_than_the_schema_says_is_a_400_naming_the_field(api, template, change, field):
    body = {"template": template.pk, "tag": "t", "messages": [{"to": "+819012345678"}], **change(template)}
    errors = assert_error(api.post("/api/v1/messages", body, format="json"), 400, "invalid")["errors"]
    assert field in errors
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(api, body):
    assert_error(send_raw(api, body), 400, "invalid")
    assert not Message.objects.exists()


def test_a_whole_number_written_as_a_float_is_still_an_integer(api, template):
    body = {"template": float(template.pk), "messages": [{"to": "+819012345678"}]}
    assert api.post("/api/v1/messages", body, format="json").status_code == 202


# --- phone extensions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to", ["090-1234-5678 ext. 9", "+819012345678;ext=12", "09012345678 x9", "+1 201 555 0123 ext 55"]
)
def test_a_number_with_an_extension_is_refused(api, template, to):
    body = {"template": template.pk, "messages": [{"to": "+819011112222"}, {"to": to}]}
    errors = assert_error(api.post("/api/v1/messages", body, format="json"), 400, "invalid")["errors"]
    assert "extension" in errors["messages"]["1"]["to"][0]
    assert not Message.objects.exists()


# --- failures on our side ------------------------------------------------------------------------


@pytest.fixture
def crashing_selector(monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("secret internals: /srv/app/settings.py password=hunter2")

    monkeypatch.setattr("delivery.api.message_get_for_api", crash)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_json_500_without_internals(sms_user, crashing_selector, settings, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {sms_user.raw_key}")
    response = client.get("/api/v1/messages/1")
    assert_error(response, 500, "server_error")
    assert b"secret" not in response.content and b"Traceback" not in response.content


def drop_the_connection(when: str):
    """A database that goes away: every statement matching `when` fails as a lost connection would."""

    def wrapper(execute, sql, params, many, context):
        if when in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


def test_a_lost_database_connection_is_a_json_503_with_retry_after(api, template):
    with drop_the_connection("SELECT"):
        response = api.get("/api/v1/messages")
    body = assert_error(response, 503, "unavailable")
    assert response["Retry-After"] == "5"
    assert "Idempotency-Key" in body["detail"]


def test_a_connection_lost_while_storing_is_a_503_and_stores_nothing(api, template):
    payload = {"template": template.pk, "messages": [{"to": "+819011112222", "vars": {"code": "1"}}]}
    with dropped_while_writing("delivery_message"):
        response = api.post("/api/v1/messages", payload, format="json")
    assert_error(response, 503, "unavailable")
    assert not Message.objects.exists()


@pytest.mark.parametrize("kind", ["receipts", "replies"])
def test_a_connection_lost_on_a_webhook_is_a_503_and_stores_nothing(simulator, kind):
    payload = {kind: [GOOD_RECEIPT if kind == "receipts" else GOOD_REPLY]}
    with drop_the_connection('INSERT INTO "delivery_inboxitem"'):
        response = post_webhook(simulator, kind, payload)
    assert_error(response, 503, "unavailable")
    assert response["Retry-After"]
    assert not InboxItem.objects.exists()


def test_a_webhook_names_each_problem_in_a_list_as_the_send_api_does(simulator):
    response = post_webhook(simulator, "replies", {"replies": [{**GOOD_REPLY, "from": "nope"}]})

    errors = assert_error(response, 400, "invalid")["errors"]
    assert errors == {"replies[0].from": ["must be a valid phone number in international format (+81…)"]}
