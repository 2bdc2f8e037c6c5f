"""Webhook signatures and Kannel tokens as a sender meets them: computed the documented way they are
accepted; bad, old or missing they are refused with a reason that says what to fix, nothing stored.

The expected signatures and tokens are computed here with hmac, from the documentation, not with
the code under test: a sender's own implementation is what has to keep working."""

import hashlib
import hmac
import json
import time
import urllib.parse

import pytest
from django.conf import settings
from django.test import Client

from delivery.channels.base import signature_problem
from delivery.channels.kannel import dlr_url
from delivery.models import InboxItem
from delivery.services.kannel import kannel_mo_url
from delivery.services.setup import channel_create
from replies.models import Reply
from tests.pipeline.helpers import pipeline

pytestmark = pytest.mark.django_db

BODY = json.dumps(
    {"receipts": [{"id": "m1", "status": "delivered", "done_at": "2026-11-28T10:00:00+09:00"}]}
).encode()
HOW_TO_SIGN = (
    "Sign with X-Signature-Timestamp: <Unix seconds> and "
    'X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>.'
)


def documented_signature(secret: str, body: bytes, timestamp: int | str | None = None) -> str:
    message = body if timestamp is None else f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post_receipts(channel, headers, *, body=BODY, content_type="application/json"):
    with pipeline():
        return Client().post(
            f"/api/v1/channels/{channel.code}/receipts", body, content_type=content_type, headers=headers
        )


def assert_refused(response, reason: str):
    assert response.status_code == 401
    assert response.json() == {"detail": f"Refused: {reason}. {HOW_TO_SIGN}", "code": "bad_signature"}
    assert not InboxItem.objects.exists()


# --- channel webhooks (receipts, replies) ----------------------------------------------------------


def test_a_request_signed_as_documented_is_accepted_and_stored(simulator):
    now = int(time.time())
    headers = {
        "X-Signature-Timestamp": str(now),
        "X-Signature": documented_signature(simulator.webhook_secret, BODY, now),
    }

    response = post_receipts(simulator, headers)

    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert InboxItem.objects.get().body == BODY.decode()


def test_a_legacy_body_only_signature_is_accepted_while_the_channel_allows_it(simulator):
    simulator.accepts_legacy_signatures = True
    simulator.save()
    signature = documented_signature(simulator.webhook_secret, BODY)

    # No timestamp header, or an empty one (a sender's template with the value left out).
    assert post_receipts(simulator, {"X-Signature": signature}).status_code == 202
    response = post_receipts(simulator, {"X-Signature": signature, "X-Signature-Timestamp": " "})
    assert response.status_code == 202
    assert InboxItem.objects.count() == 2


def test_a_body_posted_without_a_content_type_is_read_as_json(simulator):
    now = int(time.time())
    headers = {
        "X-Signature-Timestamp": str(now),
        "X-Signature": documented_signature(simulator.webhook_secret, BODY, now),
    }

    response = post_receipts(simulator, headers, content_type="")

    assert response.status_code == 202, response.content
    assert InboxItem.objects.get().content_type == "application/json"


def _now() -> int:
    return int(time.time())


REFUSALS = {
    "no signature": (lambda s: {"X-Signature-Timestamp": str(_now())}, "missing X-Signature"),
    "empty signature": (
        lambda s: {"X-Signature-Timestamp": str(_now()), "X-Signature": ""},
        "missing X-Signature",
    ),
    "legacy, not allowed": (
        lambda s: {"X-Signature": documented_signature(s, BODY)},
        "missing X-Signature-Timestamp",
    ),
    "empty timestamp": (
        lambda s: {"X-Signature-Timestamp": "", "X-Signature": documented_signature(s, BODY)},
        "missing X-Signature-Timestamp",
    ),
    "wrong secret": (
        lambda s: {
            "X-Signature-Timestamp": str(_now()),
            "X-Signature": documented_signature("other", BODY, _now()),
        },
        "wrong X-Signature",
    ),
    "body-only signature with a timestamp": (
        lambda s: {"X-Signature-Timestamp": str(_now()), "X-Signature": documented_signature(s, BODY)},
        "wrong X-Signature",
    ),
    "not a number": (
        lambda s: {
            "X-Signature-Timestamp": "yesterday",
            "X-Signature": documented_signature(s, BODY, "yesterday"),
        },
        "X-Signature-Timestamp must be Unix seconds",
    ),
    "digits that are not ASCII": (
        lambda s: {"X-Signature-Timestamp": "١٧٦٤٦٤٠٠٠٠", "X-Signature": documented_signature(s, BODY)},
        "X-Signature-Timestamp must be Unix seconds",
    ),
    "milliseconds": (
        lambda s: {
            "X-Signature-Timestamp": str(_now() * 1000),
            "X-Signature": documented_signature(s, BODY, _now() * 1000),
        },
        "X-Signature-Timestamp must be Unix seconds",
    ),
    "twelve digits, far in the future": (
        lambda s: {
            "X-Signature-Timestamp": "100000000000",
            "X-Signature": documented_signature(s, BODY, 100000000000),
        },
        "X-Signature-Timestamp is more than 300 seconds away from now",
    ),
    "ten minutes old": (
        lambda s: {
            "X-Signature-Timestamp": str(_now() - 600),
            "X-Signature": documented_signature(s, BODY, _now() - 600),
        },
        "X-Signature-Timestamp is more than 300 seconds away from now",
    ),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_signature_says_what_to_fix_and_nothing_is_stored(simulator, case):
    headers, reason = case

    assert_refused(post_receipts(simulator, headers(simulator.webhook_secret)), reason)


def test_a_wrong_legacy_signature_is_refused_even_where_legacy_is_allowed(simulator):
    simulator.accepts_legacy_signatures = True
    simulator.save()

    response = post_receipts(
        simulator, {"X-Signature": documented_signature(simulator.webhook_secret, b"{}")}
    )

    assert_refused(response, "wrong X-Signature")


SENT_AT = 1_764_640_000  # a fixed moment, far from the clock of the machine running the tests


@pytest.mark.parametrize("age", [-300, 0, 300])
def test_a_signature_up_to_exactly_five_minutes_away_holds(age):
    signature = documented_signature("s3cret", BODY, SENT_AT)

    problem = signature_problem(
        BODY, "s3cret", signature=signature, timestamp=str(SENT_AT), accepts_legacy=False, now=SENT_AT + age
    )

    assert problem is None


@pytest.mark.parametrize("age", [-301, 301])
def test_a_signature_more_than_five_minutes_away_is_refused(age):
    signature = documented_signature("s3cret", BODY, SENT_AT)

    problem = signature_problem(
        BODY, "s3cret", signature=signature, timestamp=str(SENT_AT), accepts_legacy=False, now=SENT_AT + age
    )

    assert problem == "X-Signature-Timestamp is more than 300 seconds away from now"


# --- Kannel: tokens in the URLs Kannel is configured with -------------------------------------------


def documented_token(secret: str, subject: str) -> str:
    """The OpenAPI description's: HMAC-SHA256 of the subject with the webhook secret, 32 hex digits."""
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def kannel():
    return channel_create(
        code="kannel",
        kind="kannel",
        send_url="http://127.0.0.1:9/cgi-bin/sendsms",
        send_username="console",
        send_password="console-password",
    )


def mo(kannel, query: dict, *, token=None, method="get", body=b"", content_type="text/plain"):
    params = {"token": documented_token(kannel.webhook_secret, "kannel-mo") if token is None else token}
    url = f"/api/v1/channels/{kannel.code}/kannel/replies?" + urllib.parse.urlencode({**params, **query})
    with pipeline():
        if method == "post":
            return Client().post(url, data=body, content_type=content_type)
        return Client().get(url)


def test_the_urls_kannel_calls_back_carry_the_documented_tokens(kannel):
    dlr_token = documented_token(kannel.webhook_secret, "kannel-dlr:4711")
    mo_token = documented_token(kannel.webhook_secret, "kannel-mo")

    assert f"?id=4711&token={dlr_token}&" in dlr_url(
        endpoint="https://console.example/dlr", ref=4711, secret=kannel.webhook_secret
    )
    assert kannel_mo_url(kannel).startswith(
        f"{settings.SMS_PUBLIC_BASE_URL}/api/v1/channels/kannel/kannel/replies?token={mo_token}&"
    )


def test_a_kannel_reply_with_the_documented_token_is_stored(kannel):
    response = mo(kannel, {"from": "+819011110001", "smsc": "carrier-a", "coding": "0", "text": "hello"})

    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1}
    reply = Reply.objects.get()
    assert (reply.phone, reply.content, reply.carrier) == ("+819011110001", "hello", "carrier-a")


@pytest.mark.parametrize("token", ["", "0" * 32, "kannel-mo", "é" * 10])
def test_a_kannel_reply_without_the_right_token_is_refused_and_nothing_is_stored(kannel, token):
    response = mo(kannel, {"from": "+819011110001", "text": "STOP"}, token=token)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Refused: the token does not match this channel.",
        "code": "bad_token",
    }
    assert not InboxItem.objects.exists() and not Reply.objects.exists()


def test_a_kannel_reply_with_no_token_at_all_is_refused(kannel):
    with pipeline():
        response = Client().get(
            f"/api/v1/channels/{kannel.code}/kannel/replies?from=%2B819011110001&text=STOP"
        )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_token"
    assert not InboxItem.objects.exists()


def test_a_kannel_reply_with_another_channels_token_is_refused(kannel):
    other = channel_create(
        code="kannel-2",
        kind="kannel",
        send_url="http://127.0.0.1:9/cgi-bin/sendsms",
        send_username="console",
        send_password="console-password",
    )

    response = mo(
        kannel,
        {"from": "+819011110001", "text": "STOP"},
        token=documented_token(other.webhook_secret, "kannel-mo"),
    )

    assert response.status_code == 401
    assert not InboxItem.objects.exists()


# --- Kannel replies: what a callback that cannot be read is told --------------------------------------

FROM = "+819011110001"
UNREADABLE = {
    "no sender": ({"text": "STOP"}, "from", "is required"),
    "sender too long": ({"from": "+81" + "9" * 30, "text": "STOP"}, "from", "is longer than 32 characters"),
    "no text": ({"from": FROM}, "text", "is required"),
    "empty text": ({"from": FROM, "text": ""}, "text", "is required"),
    "text over 8000 bytes": ({"from": FROM, "text": "a" * 8001}, "text", "is longer than 8000 bytes"),
    "unknown coding": (
        {"from": FROM, "text": "STOP", "coding": "7"},
        "coding",
        "must be 0, 1 or 2 (Kannel's %c)",
    ),
    "coding too long": (
        {"from": FROM, "text": "STOP", "coding": "000"},
        "coding",
        "is longer than 2 characters",
    ),
    "charset too long": (
        {"from": FROM, "text": "STOP", "charset": "x" * 41},
        "charset",
        "is longer than 40 characters",
    ),
}


@pytest.mark.parametrize("case", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_kannel_reply_is_a_400_naming_the_parameter(kannel, case):
    query, field, problem = case

    response = mo(kannel, query)

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Invalid callback: {field} {problem}.",
        "code": "invalid",
        "errors": {field: [problem]},
    }
    assert not InboxItem.objects.exists()


def test_a_kannel_token_longer_than_any_token_is_a_400_not_a_lookup(kannel):
    response = mo(kannel, {"from": FROM, "text": "STOP"}, token="a" * 65)

    assert response.status_code == 400
    assert response.json()["errors"] == {"token": ["is longer than 64 characters"]}
    assert mo(kannel, {"from": FROM, "text": "STOP"}, token="a" * 64).status_code == 401
    assert not InboxItem.objects.exists()


def test_a_kannel_reply_from_a_number_that_is_not_one_is_a_400_naming_the_reply(kannel):
    response = mo(kannel, {"from": "not-a-number", "text": "STOP"})

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == (
        "Invalid callback: from must be a valid phone number in international format (+81…)."
    )
    assert body["code"] == "invalid"
    assert body["errors"] == {"from": ["must be a valid phone number in international format (+81…)"]}
    assert not InboxItem.objects.exists()


EDGES = {
    "no coding": ({"coding": ""}, "STOP"),
    "coding 0": ({"coding": "0"}, "STOP"),
    "coding 1": ({"coding": "1"}, "STOP"),
    "coding 2": ({"coding": "2", "text": "停止".encode("utf-16-be")}, "停止"),
    "charset of 40": ({"charset": "UTF-8" + " " * 35}, "STOP"),
    "text of 8000 bytes": ({"text": "a" * 8000}, "a" * 8000),  # stored whole, never cut
}


@pytest.mark.parametrize("case", EDGES.values(), ids=EDGES.keys())
def test_a_kannel_reply_at_the_edge_of_what_is_allowed_is_stored(kannel, case):
    query, content = case

    response = mo(kannel, {"from": FROM, "text": "STOP", **query})

    assert response.status_code == 202, response.content
    assert Reply.objects.get().content == content


def test_a_kannel_reply_by_post_url_needs_a_body_and_keeps_the_limits(kannel):
    empty = mo(kannel, {"from": FROM}, method="post", body=b"")
    too_long = mo(kannel, {"from": FROM}, method="post", body=b"a" * 8001)
    bad_charset = mo(kannel, {"from": FROM, "charset": "x" * 41}, method="post", body=b"STOP")

    assert empty.status_code == 400
    assert (
        empty.json()["detail"] == "Invalid callback: body is empty: post-url sends the message as the body."
    )
    assert empty.json()["errors"] == {"body": ["is empty: post-url sends the message as the body"]}
    assert too_long.json()["errors"] == {"text": ["is longer than 8000 bytes"]}
    assert bad_charset.json()["errors"] == {"charset": ["is longer than 40 characters"]}
    assert not InboxItem.objects.exists()
    assert mo(kannel, {"from": FROM}, method="post", body=b"a" * 8000).status_code == 202
    assert Reply.objects.get().content == "a" * 8000  # stored whole, never cut
