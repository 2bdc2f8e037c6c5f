"""The channel webhooks: signatures, validation, SMPP delivery receipts, limits."""

import json
import time

import pytest
from django.test import Client
from django.utils import timezone

from delivery.channels.base import sign, signed_headers
from delivery.channels.smpp import parse_dlr_line
from delivery.models import EarlyReceipt, InboxItem, MessageStatus, SmppErrorMapping
from tests.factories import ChannelFactory, MessageFactory
from tests.pipeline.helpers import post_webhook

pytestmark = pytest.mark.django_db


def awaiting(account, cid, phone="+819011112222"):
    return MessageFactory(
        account=account,
        phone=phone,
        status=MessageStatus.AWAITING_RECEIPT,
        channel=account.default_channel,
        channel_message_id=cid,
        channel_delivered_at=timezone.now(),
    )


GOOD = {"receipts": [{"id": "m1", "status": "delivered", "done_at": "2026-11-28T10:00:00+09:00"}]}


def test_right_signature_is_accepted_with_202(simulator):
    response = post_webhook(simulator, "receipts", GOOD)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    item = InboxItem.objects.get()
    assert json.loads(item.body) == GOOD and item.processed_at is not None


@pytest.mark.parametrize("signature", [None, "", "sha256=00", "md5=abc", "sha256="])
def test_missing_or_wrong_signature_is_401_and_nothing_is_stored(simulator, signature):
    headers = {"HTTP_X_SIGNATURE": signature} if signature is not None else {}
    response = Client().post(
        f"/api/v1/channels/{simulator.code}/receipts",
        json.dumps(GOOD),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401
    assert "X-Signature" in response.json()["detail"]
    assert not InboxItem.objects.exists()


def _post_signed(channel, body, headers):
    return Client().post(
        f"/api/v1/channels/{channel.code}/receipts", body, content_type="application/json", headers=headers
    )


def test_a_timestamp_outside_five_minutes_is_401_so_an_old_capture_cannot_be_replayed(simulator):
    body = json.dumps(GOOD).encode()
    now = int(time.time())
    for stale in (now - 301, now + 301):
        response = _post_signed(
            simulator, body, signed_headers(body, simulator.webhook_secret, timestamp=stale)
        )
        assert response.status_code == 401
        assert "300 seconds" in response.json()["detail"]
    assert not InboxItem.objects.exists()
    fresh = signed_headers(body, simulator.webhook_secret, timestamp=now - 290)
    assert _post_signed(simulator, body, fresh).status_code == 202


def test_the_timestamp_is_inside_the_signature(simulator):
    body = json.dumps(GOOD).encode()
    headers = signed_headers(body, simulator.webhook_secret, timestamp=int(time.time()) - 100)
    headers["X-Signature-Timestamp"] = str(int(time.time()))  # moved forward, signature kept
    assert _post_signed(simulator, body, headers).status_code == 401
    assert not InboxItem.objects.exists()


def test_the_legacy_body_only_signature_is_refused_unless_the_channel_still_accepts_it(simulator):
    body = json.dumps(GOOD).encode()
    legacy = {"X-Signature": sign(body, simulator.webhook_secret)}
    response = _post_signed(simulator, body, legacy)
    assert response.status_code == 401
    assert "X-Signature-Timestamp" in response.json()["detail"]
    simulator.accepts_legacy_signatures = True
    simulator.save()
    assert _post_signed(simulator, body, legacy).status_code == 202
    assert InboxItem.objects.count() == 1


@pytest.mark.parametrize("timestamp", ["soon", "-5", "1e9", "١٢٣", "9" * 40])
def test_an_unreadable_timestamp_is_401(simulator, timestamp):
    body = json.dumps(GOOD).encode()
    headers = {"X-Signature-Timestamp": timestamp, "X-Signature": sign(body, simulator.webhook_secret)}
    assert _post_signed(simulator, body, headers).status_code == 401


def test_another_channels_secret_is_401(simulator):
    other = ChannelFactory(code="other")
    assert post_webhook(simulator, "receipts", GOOD, secret=other.webhook_secret).status_code == 401


def test_unknown_channel_is_404(simulator):
    simulator.code = "nope"
    assert post_webhook(simulator, "receipts", GOOD).status_code == 404


@pytest.mark.parametrize(
    "payload, where",
    [
        ({"receipts": []}, "receipts"),
        ({"nothing": []}, "receipts"),
        ({"receipts": [{"status": "delivered", "done_at": "2026-11-28T10:00:00Z"}]}, "receipts[0].id"),
        (
            {"receipts": [{"id": "m1", "status": "lost", "done_at": "2026-11-28T10:00:00Z"}]},
            "receipts[0].status",
        ),
        (
            {"receipts": [{"id": "m1", "status": "failed", "done_at": "2026-11-28T10:00:00Z"}]},
            "receipts[0].code",
        ),
        (
            {"receipts": [{"id": "m1", "status": "failed", "code": 42, "done_at": "2026-11-28T10:00:00Z"}]},
            "receipts[0].code",
        ),
        ({"receipts": [{"id": "m1", "status": "delivered", "done_at": "yesterday"}]}, "receipts[0].done_at"),
        (
            {"receipts": [{"id": "m1", "status": "delivered", "done_at": "2026-11-28T10:00:00"}]},
            "receipts[0].done_at",
        ),
        (
            {
                "receipts": [
                    {
                        "id": "m1",
                        "status": "delivered",
                        "done_at": "2026-11-28T10:00:00Z",
                        "part": 3,
                        "parts": 2,
                    }
                ]
            },
            "receipts[0].part",
        ),
        ({"receipts": [GOOD["receipts"][0], "oops"]}, "receipts[1]"),
        # Values that parse but would break ingestion later: refused here, not lost there.
        (
            {"receipts": [{**GOOD["receipts"][0], "done_at": "0001-01-01T00:00:00+09:00"}]},
            "receipts[0].done_at",
        ),
        (
            {"receipts": [{**GOOD["receipts"][0], "done_at": "9999-12-31T23:59:59-01:00"}]},
            "receipts[0].done_at",
        ),
        ({"receipts": [{**GOOD["receipts"][0], "id": "x" * 65}]}, "receipts[0].id"),
        ({"receipts": [{**GOOD["receipts"][0], "detail": "bad\u0000byte"}]}, "receipts[0].detail"),
    ],
)
def test_malformed_receipts_are_400_naming_the_item_and_nothing_is_stored(simulator, payload, where):
    response = post_webhook(simulator, "receipts", payload)
    assert response.status_code == 400
    assert where in response.json()["errors"]
    assert not InboxItem.objects.exists()


def test_a_non_ascii_signature_is_401_not_a_crash(simulator):
    response = Client().post(
        f"/api/v1/channels/{simulator.code}/receipts",
        json.dumps(GOOD),
        content_type="application/json",
        HTTP_X_SIGNATURE="sha256=ü",
    )
    assert response.status_code == 401


def test_invalid_json_is_400(simulator):
    response = post_webhook(simulator, "receipts", b"{nope")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]


def test_up_to_ten_thousand_items_per_request(account, simulator):
    items = [{"id": f"x{i}", "status": "delivered", "done_at": "2026-11-28T10:00:00Z"} for i in range(10_000)]
    assert post_webhook(simulator, "receipts", {"receipts": items}).status_code == 202
    assert EarlyReceipt.objects.count() == 10_000
    items.append(items[0])
    response = post_webhook(simulator, "receipts", {"receipts": items})
    assert response.status_code == 400 and "10000" in response.json()["detail"]


# --- SMPP delivery receipts ---------------------------------------------------------------------


def test_parse_dlr_line():
    dlr = parse_dlr_line(
        "id:7220411 sub:001 dlvrd:001 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000"
        " text:Your code"
    )
    assert (dlr.channel_message_id, dlr.stat, dlr.err, dlr.text) == ("7220411", "DELIVRD", "000", "Your code")
    assert dlr.done_at.isoformat() == "2026-11-28T12:04:00+00:00"
    with_seconds = parse_dlr_line(
        "id:a sub:1 dlvrd:0 submit date:261128120301 done date:261128120459 stat:UNDELIV err:1"
    )
    assert with_seconds.done_at.second == 59 and with_seconds.err == "001"


@pytest.mark.parametrize(
    "line",
    [
        "hello",
        "id:1 sub:001 dlvrd:001 submit date:2611281203 done date:2611281204 stat:MAYBE err:000",
        "id:1 sub:001 dlvrd:001 submit date:26112812 done date:2611281204 stat:DELIVRD err:000",
        "id:1 sub:001 dlvrd:001 submit date:2613281203 done date:2611281204 stat:DELIVRD err:000",
    ],
)
def test_bad_dlr_lines_are_refused(line):
    with pytest.raises(ValueError):
        parse_dlr_line(line)


def smpp(*lines):
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    "stat, err, status, code",
    [
        ("DELIVRD", "000", MessageStatus.DELIVERED, None),
        ("UNDELIV", "001", MessageStatus.SEND_FAILED, 500),
        ("UNDELIV", "027", MessageStatus.SEND_FAILED, 580),
        ("UNDELIV", "099", MessageStatus.SEND_FAILED, 590),
        ("EXPIRED", "000", MessageStatus.SEND_FAILED, 570),
        ("REJECTD", "000", MessageStatus.SEND_FAILED, 550),
    ],
)
def test_smpp_receipts_map_to_our_return_codes(account, simulator, stat, err, status, code):
    message = awaiting(account, "7220411")
    line = f"id:7220411 sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:{stat} err:{err}"
    response = post_webhook(simulator, "receipts", smpp(line), content_type="text/plain")
    assert response.status_code == 202
    message.refresh_from_db()
    assert (message.status, message.return_code) == (status, code)
    assert message.events.get(kind="receipt").detail["detail"].startswith(f"stat:{stat} err:{err}")


def test_smpp_mapping_is_staff_editable(account, simulator):
    SmppErrorMapping.objects.filter(stat="UNDELIV", err="*").update(return_code=530)
    message = awaiting(account, "1")
    line = "id:1 sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:UNDELIV err:555"
    post_webhook(simulator, "receipts", smpp(line), content_type="text/plain")
    message.refresh_from_db()
    assert message.return_code == 530


def test_smpp_intermediate_states_are_logged_not_final(account, simulator):
    message = awaiting(account, "1")
    line = "id:1 sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:ENROUTE err:000"
    post_webhook(simulator, "receipts", smpp(line), content_type="text/plain")
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert message.events.get(kind="receipt").detail["status"] == "pending"


def test_smpp_bad_line_is_400_naming_the_line(simulator):
    good = "id:1 sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000"
    response = post_webhook(simulator, "receipts", smpp(good, "", "garbage"), content_type="text/plain")
    assert response.status_code == 400
    assert "line 3" in response.json()["errors"]
    assert not InboxItem.objects.exists()


def test_smpp_ids_longer_than_we_store_and_nul_characters_are_400(simulator):
    long_id = smpp(
        f"id:{'7' * 65} sub:1 dlvrd:1 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000"
    )
    nul = smpp(
        "id:1 sub:1 dlvrd:1 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000 text:a\x00b"
    )
    for body in (long_id, nul):
        response = post_webhook(simulator, "receipts", body, content_type="text/plain")
        assert response.status_code == 400, response.content
    assert not InboxItem.objects.exists()
