"""What Kannel's smsbox (and the operator reading its log) gets back from the replies URL: 202 with
the count stored, or a refusal that names the parameter and the problem, with nothing stored."""

import urllib.parse

import pytest

from delivery.channels import kannel as kannel_channel
from delivery.models import InboxItem
from tests.pipeline.helpers import pipeline

pytestmark = pytest.mark.django_db

SENDER = "%2B819011110001"


def mo(client, channel, query: str, *, token: str | None = None):
    token = token if token is not None else kannel_channel.mo_token(channel.webhook_secret)
    with pipeline():
        return client.get(f"/api/v1/channels/{channel.code}/kannel/replies?token={token}&{query}")


def refused(response, status: int, field: str, problem: str) -> None:
    assert response.status_code == status
    assert response.json() == {
        "detail": f"Invalid callback: {field} {problem}.",
        "code": "invalid",
        "errors": {field: [problem]},
    }
    assert not InboxItem.objects.exists()


@pytest.mark.parametrize("coding", ["", "0", "1", "2"])
def test_a_reply_in_each_kannel_coding_is_accepted_and_counted(client, kannel, coding):
    response = mo(client, kannel, f"from={SENDER}&text=STOP&coding={coding}")
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert InboxItem.objects.count() == 1


def test_a_wrong_token_is_a_401_that_says_so(client, kannel):
    response = mo(client, kannel, f"from={SENDER}&text=STOP", token="0" * 32)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Refused: the token does not match this channel.",
        "code": "bad_token",
    }
    assert not InboxItem.objects.exists()


def test_an_overlong_token_is_a_400_naming_the_token(client, kannel):
    refused(
        mo(client, kannel, f"from={SENDER}&text=STOP", token="0" * 65),
        400,
        "token",
        "is longer than 64 characters",
    )


def test_a_reply_without_a_sender_is_a_400_naming_from(client, kannel):
    refused(mo(client, kannel, "text=STOP"), 400, "from", "is required")


def test_an_overlong_sender_is_a_400_naming_from(client, kannel):
    refused(mo(client, kannel, f"from={'1' * 33}&text=STOP"), 400, "from", "is longer than 32 characters")


def test_a_sender_of_32_characters_is_judged_as_a_number_not_for_its_length(client, kannel):
    response = mo(client, kannel, f"from={'1' * 32}&text=STOP")
    assert response.status_code == 400
    problem = "must be a valid phone number in international format (+81…)"
    assert response.json()["errors"] == {"from": [problem]}


def test_a_text_over_8000_bytes_is_a_400_naming_text(client, kannel):
    text = urllib.parse.quote("a" * 8001)
    refused(mo(client, kannel, f"from={SENDER}&text={text}"), 400, "text", "is longer than 8000 bytes")


def test_an_unknown_coding_is_a_400_naming_the_values_kannel_sends(client, kannel):
    refused(
        mo(client, kannel, f"from={SENDER}&text=STOP&coding=7"),
        400,
        "coding",
        "must be 0, 1 or 2 (Kannel's %c)",
    )


def test_a_three_character_coding_is_refused_for_its_length(client, kannel):
    refused(
        mo(client, kannel, f"from={SENDER}&text=STOP&coding=100"),
        400,
        "coding",
        "is longer than 2 characters",
    )


def test_an_unreadable_sender_is_a_400_naming_the_field_and_the_problem(client, kannel):
    response = mo(client, kannel, "from=not-a-number&text=STOP")
    assert response.status_code == 400
    problem = "must be a valid phone number in international format (+81…)"
    assert response.json() == {
        "detail": f"Invalid callback: from {problem}.",
        "code": "invalid",
        "errors": {"from": [problem]},
    }
    assert not InboxItem.objects.exists()
