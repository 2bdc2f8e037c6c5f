"""The OpenAPI schema and the API agree: schemathesis generates requests from the schema, sends them
through the WSGI app (real database, real middleware) and checks every answer against the schema.

Its default checks run: no 5xx, documented status codes, content types and headers, answers that
match their schema, schema-violating requests refused (4xx), schema-valid requests not refused, a
missing required header refused, an undocumented method answered 405, ignored authentication.

A schema cannot say everything a valid request needs: that a template id or an SMS_USER id is one of
the account's own, that a phone number is dialable, that a failed receipt carries a code, that the
period reaches back at most 30 days. Where a generated part of a request is schema-valid,
`business_valid` turns such values into ones the account has, so the schema-valid cases test the
happy path rather than the same 400 each time; parts the case means to be invalid are left as
generated.
"""

import datetime as dt
import io
import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.adapter.parameters import ParameterLocation

from delivery.channels.base import signed_headers
from delivery.models import STATUS_REASONS, Channel, MessageStatus
from tests.factories import (
    CallbackEndpointFactory,
    InterceptFactory,
    MessageEventFactory,
    MessageFactory,
    ReplyFactory,
    TemplateFactory,
)

WEBHOOK_PATH = re.compile(r"^/api/v1/channels/(?P<code>[-a-zA-Z0-9_]+)/(receipts|replies)$")


def signing(app):
    """The channel's side of a webhook: a request that carries both signature headers is signed with
    the named channel's secret over the bytes actually sent. Without them it goes unsigned, so the
    schema's required headers still get tested."""

    def signed_app(environ, start_response):
        match = WEBHOOK_PATH.match(environ.get("PATH_INFO", ""))
        channel = match and Channel.objects.filter(code=match["code"]).first()
        if channel and "HTTP_X_SIGNATURE" in environ and "HTTP_X_SIGNATURE_TIMESTAMP" in environ:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            for name, value in signed_headers(body, channel.webhook_secret).items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        return app(environ, start_response)

    return signed_app


schema = schemathesis.openapi.from_wsgi("/api/v1/schema", signing(get_wsgi_application()))
# No NUL in generated text: every text field refuses it (PostgreSQL cannot store it), which
# test_api_errors and test_api_properties cover, and repeating it in each string's schema as a
# pattern would say less clearly what the README says once.
schema.config.generation.update(allow_x00=False)


@pytest.fixture(autouse=True)
def one_connection_throughout():
    """Requests reach the WSGI app directly, so Django's end-of-request handler would close the
    database connection, and with it the test's transaction; Django's test client unhooks it too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(account, sms_user, simulator, settings):
    """An account with something in every list, including the rows whose fields are null."""
    # Rate limits are tested on their own; here they would turn a long run into 429s.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            scope: None for scope in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        },
    }
    template = TemplateFactory(account=account, body="Code {{code}}")
    waiting = MessageFactory(account=account, sms_user=sms_user, template=template)  # no channel yet
    delivered = MessageFactory(
        account=account,
        sms_user=sms_user,
        template=template,
        status=MessageStatus.DELIVERED,
        channel=simulator,
        channel_message_id="sim-1",
        channel_delivered_at=waiting.requested_at,
        receipt_at=waiting.requested_at,
    )
    MessageEventFactory(message=delivered, detail={"status": "delivered"})
    intercept = InterceptFactory(account=account)
    ReplyFactory(account=account, message=None, template=None)
    ReplyFactory(account=account, message=delivered, template=template)
    # A callback URL on loopback, as development allows (PUT puts CALLBACK_URL; DELETE removes it).
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True
    CallbackEndpointFactory(account=account, url=CALLBACK_URL)
    return {
        "sms_user": sms_user,
        "template": template,
        "message": waiting,
        "channel": simulator,
        "intercept": intercept,
    }


SMPP_DATE = re.compile(r"((?:submit|done) date:)([0-9]{10}(?:[0-9]{2})?)(?![0-9])")
PHONES = ["+819011112222", "090-3333-4444", "+81 80 5555 6666"]
CALLBACK_URL = "http://127.0.0.1:9/callbacks"


def _is_positive(case, location) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode.is_positive


def _plausible(value) -> str:
    """A generated date-time moved into the years we accept, with an offset, at most a day back."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat() if isinstance(value, str) else value


def _valid_receipt(item: dict) -> dict:
    item = {**item, "done_at": _plausible(item.get("done_at"))}
    if not str(item.get("id", "")).strip():
        item["id"] = "sim-1"
    code = item.get("code")
    if item.get("status") == "failed" and not (isinstance(code, int) and 500 <= code <= 599):
        item["code"] = 500
    if (item.get("part") is None) != (item.get("parts") is None):
        item["part"] = item["parts"] = None
    elif item.get("part") is not None and item["part"] > item["parts"]:
        item["part"], item["parts"] = item["parts"], item["part"]
    return item


def _valid_reply(item: dict, index: int) -> dict:
    content = item.get("content")
    return {
        **item,
        "from": PHONES[index % len(PHONES)].replace("090", "+8190"),
        "content": content if isinstance(content, str) and content.strip() else "ok",
        "received_at": _plausible(item.get("received_at")),
    }


def business_valid(case, world) -> None:
    """Give the schema-valid parts of a case values the account actually has (see the docstring)."""
    path = case.operation.path
    headers = case.headers or {}
    # A bearer token as the schema describes it stands for the SMS_USER's key; a header the case
    # spoils (no "Bearer ", or left out) is sent as generated and must be a 401.
    if str(headers.get("Authorization", "")).startswith("Bearer "):
        headers["Authorization"] = f"Bearer {world['sms_user'].raw_key}"
    if _is_positive(case, ParameterLocation.PATH):
        if "code" in case.path_parameters:
            case.path_parameters["code"] = world["channel"].code
        if "message_id" in case.path_parameters:
            case.path_parameters["message_id"] = world["message"].pk
        if "intercept_id" in case.path_parameters:
            case.path_parameters["intercept_id"] = world["intercept"].pk  # 204, then 404 once deleted
    if _is_positive(case, ParameterLocation.QUERY) and case.query:
        query = case.query
        for name in ("sms_user", "template"):
            if query.get(name) not in (None, ""):
                query[name] = world[name].pk
        if query.get("phone"):
            query["phone"] = PHONES[0]
        for name in ("requested_from", "requested_to", "received_from", "received_to"):
            query.pop(name, None)
        query.pop("cursor", None)  # opaque: only one the API issued is valid
        status, reason = query.get("status"), query.get("reason")
        if status and reason and reason not in STATUS_REASONS.get(status, ()):
            query.pop("reason")
    if not _is_positive(case, ParameterLocation.BODY):
        return
    body = case.body
    if isinstance(body, str):  # SMPP receipts: the pattern cannot say which dates exist
        case.body = SMPP_DATE.sub(lambda m: m[1] + "2611281204" + ("00" if len(m[2]) == 12 else ""), body)
        return
    if not isinstance(body, dict):
        return
    if path == "/api/v1/messages":
        body["template"] = world["template"].pk
        for index, recipient in enumerate(body.get("messages") or []):
            recipient["to"] = PHONES[index % len(PHONES)]
            # OpenAPI 3.0 has no propertyNames: the 64-character limit on names is in words only.
            if isinstance(recipient.get("vars"), dict):
                recipient["vars"] = {name: v for name, v in recipient["vars"].items() if len(name) <= 64}
    elif path == "/api/v1/messages/check":
        body["template"] = world["template"].pk
        # Exactly one of numbers and messages (a rule the schema states in words only).
        if "numbers" in body or "messages" not in body:
            body.pop("messages", None)
            count = len(body.get("numbers") or [0])
            body["numbers"] = [PHONES[index % len(PHONES)] for index in range(count)]
        for index, recipient in enumerate(body.get("messages") or []):
            recipient["to"] = PHONES[index % len(PHONES)]
        for variables in [body.get("vars"), *(r.get("vars") for r in body.get("messages") or [])]:
            if isinstance(variables, dict):
                for name in [name for name in variables if len(name) > 64]:
                    del variables[name]
    elif path == "/api/v1/callback":
        body["url"] = CALLBACK_URL  # one that resolves to an address the platform may call
    elif path.endswith("/receipts") and isinstance(body.get("receipts"), list):
        body["receipts"] = [_valid_receipt(item) for item in body["receipts"]]
    elif path.endswith("/replies") and isinstance(body.get("replies"), list):
        body["replies"] = [_valid_reply(item, index) for index, item in enumerate(body["replies"])]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=60,
    derandomize=True,  # the same cases on every run: CI fails on the schema, not on luck
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, world):
    business_valid(case, world)
    response = case.call_and_validate()
    headers = case.headers or {}
    if (
        WEBHOOK_PATH.match(case.formatted_path)
        and headers.get("X-Signature")
        and headers.get("X-Signature-Timestamp")
    ):
        assert response.status_code != 401, response.text  # the signing above works
