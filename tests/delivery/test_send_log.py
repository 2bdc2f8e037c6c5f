"""The send log as people read it: sentences with their facts, in the account's zone and language."""

import datetime as dt

import pytest
from django.urls import reverse

from delivery.models import MessageEvent
from tests.factories import MessageEventFactory, MessageFactory

PHONE = "+819012345678"
# 03:00 UTC: 22:00 the day before in New York, 12:00 in Tokyo (the server's default zone).
T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
CONNECTION_REFUSED = (
    "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /send "
    "(Caused by NewConnectionError(... [Errno 111] Connection refused))"
)


@pytest.fixture
def new_york(account):
    account.time_zone = "America/New_York"
    account.save()
    return account


def detail_url(message):
    return reverse("delivery:message-detail", kwargs={"message_id": message.pk})


def page(client, message, language="en") -> str:
    response = client.get(detail_url(message), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def failed_after_outage(account, *, attempts=12, hours=5):
    """A message whose channel stayed down: one channel error per attempt, then "other"."""
    message = MessageFactory(
        account=account,
        phone=PHONE,
        status="processing_failed",
        reason="other",
        requested_at=T0,
        updated_at=T0 + dt.timedelta(hours=hours),
        failure_detail="The carrier connection was unavailable; the platform retried 12 times over 5 hours.",
    )
    MessageEventFactory(message=message, at=T0, kind="requested", detail={"sms_user": "backend"})
    step = dt.timedelta(hours=hours) / (attempts - 1)
    for attempt in range(1, attempts + 1):
        at = T0 + step * (attempt - 1)
        MessageEventFactory(message=message, at=at, kind="checks_passed")
        detail = {"channel": "jp-carrier-b", "attempt": attempt, "error": CONNECTION_REFUSED}
        if attempt < attempts:
            detail["next_attempt_at"] = (at + step).isoformat()
        MessageEventFactory(message=message, at=at, kind="channel_error", detail=detail)
    last = T0 + dt.timedelta(hours=hours)
    MessageEventFactory(
        message=message,
        at=last,
        kind="check_failed",
        detail={
            "reason": "other",
            "problem": "channel_unavailable",
            "channel": "jp-carrier-b",
            "attempts": 12,
        },
    )
    return message


@pytest.mark.django_db
def test_a_channel_outage_reads_as_one_plain_sentence_for_customers(operator_client, account):
    message = failed_after_outage(account)

    content = page(operator_client, message)

    sentence = "The carrier connection was unavailable; the platform retried 12 times over 5 hours."
    assert content.count(sentence) == 2  # the failure detail, and the one send-log line for the attempts
    assert "HTTPConnectionPool" not in content and "Connection refused" not in content
    assert "ConnectionError" not in content and "Technical detail" not in content
    # What happened first comes first: the attempts, then the failure they caused.
    assert content.index("retried 12 times", content.index('data-testid="send-log"')) < content.index(
        "Not sent: the carrier could not be reached in 12 attempts"
    )
    assert content.count("Passed the platform&#x27;s checks.") == 1  # not once per retry


@pytest.mark.django_db
def test_staff_see_the_same_sentences_and_the_technical_detail(staff_client, account):
    message = failed_after_outage(account)

    content = page(staff_client, message)

    assert "retried 12 times over 5 hours" in content
    assert 'data-testid="technical-detail"' in content
    assert content.count("HTTPConnectionPool") == 12  # every attempt's error, kept for staff


@pytest.mark.django_db
def test_the_send_log_is_in_japanese_for_a_japanese_reader(operator_client, account):
    message = failed_after_outage(account)

    content = page(operator_client, message, language="ja")

    assert "キャリアに接続できませんでした。5時間にわたり12回再試行しました。" in content
    assert "The carrier connection" not in content and "HTTPConnectionPool" not in content


@pytest.mark.django_db
def test_facts_have_labels_times_are_in_the_accounts_zone_and_nothing_internal_shows(
    operator_client, new_york
):
    message = MessageFactory(
        account=new_york, phone=PHONE, status="send_failed", reason="busy", return_code=530,
        failure_detail="SUBSCRIBER_BUSY: the handset is busy",
        requested_at=T0, updated_at=T0 + dt.timedelta(minutes=1),
    )  # fmt: skip
    MessageEventFactory(
        message=message,
        at=T0,
        kind="requested",
        detail={"sms_user": "web-backend", "template": "otp", "tag": ""},
    )
    MessageEventFactory(
        message=message,
        at=T0,
        kind="handed_to_channel",
        detail={"channel": "sim", "channel_message_id": "sim-9"},
    )
    receipt = {"id": "sim-9", "status": "delivered", "code": None, "detail": "", "fingerprint": "ab12cd34"}
    MessageEventFactory(
        message=message,
        at=T0 + dt.timedelta(seconds=30),
        kind="receipt",
        detail={**receipt, "done_at": (T0 + dt.timedelta(seconds=20)).isoformat(), "part": 2, "parts": 3},
    )
    MessageEventFactory(
        message=message,
        at=T0 + dt.timedelta(minutes=1),
        kind="receipt",
        detail={
            **receipt, "status": "failed", "code": 530, "detail": "SUBSCRIBER_BUSY: the handset is busy",
            "done_at": (T0 + dt.timedelta(seconds=50)).isoformat(), "part": 3, "parts": 3,
        },
    )  # fmt: skip
    MessageEventFactory(
        message=message,
        at=T0 + dt.timedelta(minutes=1),
        kind="intercepted",
        detail={
            "intercept_id": 7,
            "action": "extended",
            "scope": "global",
            "expires_at": "2026-11-28T04:00:00+00:00",
        },
    )

    content = page(operator_client, message)

    assert "Times in America/New_York" in content
    assert "The carrier reports part 2 of 3 delivered to the handset at 2026-11-27 22:00:20." in content
    assert (
        "The carrier reports it failed at 2026-11-27 22:00:50: return code 530 Busy. (part 3 of 3)" in content
    )
    assert "The number&#x27;s global intercept record was extended until 2026-11-27 23:00." in content
    assert "Carrier&#x27;s answer" in content and "SUBSCRIBER_BUSY: the handset is busy" in content
    assert "SMS_USER:</span> web-backend" in content
    for internal in [
        "done_at",
        "expires_at",
        "next_attempt_at",
        "fingerprint",
        "ab12cd34",
        "None",
        "sms_user:",
    ]:
        assert internal not in content
    assert "sim-9" not in content  # the carrier's own id is for staff


@pytest.mark.django_db
def test_the_log_is_ordered_by_what_happened_not_by_when_it_was_written(operator_client, account):
    message = MessageFactory(account=account, requested_at=T0, updated_at=T0 + dt.timedelta(minutes=5))
    # Written in the wrong order (ids), stamped in the right one.
    MessageEventFactory(message=message, at=T0 + dt.timedelta(minutes=5), kind="checks_passed")
    MessageEventFactory(message=message, at=T0, kind="requested", detail={"sms_user": "backend"})

    content = page(operator_client, message)

    assert content.index("Accepted by the platform") < content.index("Passed the platform&#x27;s checks.")


@pytest.mark.django_db
def test_a_requesting_message_says_it_waits_for_the_carrier_and_until_when(operator_client, new_york):
    next_at = T0 + dt.timedelta(minutes=5)
    message = MessageFactory(
        account=new_york, status="requesting", requested_at=T0, updated_at=T0, next_attempt_at=next_at
    )
    MessageEventFactory(
        message=message,
        at=T0,
        kind="channel_error",
        detail={
            "channel": "b",
            "attempt": 1,
            "error": CONNECTION_REFUSED,
            "next_attempt_at": next_at.isoformat(),
        },
    )

    english = page(operator_client, message)
    japanese = page(operator_client, message, language="ja")

    assert (
        "Waiting for the carrier: the last attempt could not reach it; next attempt at 2026-11-27 22:05."
        in english
    )
    assert "次回の試行は2026-11-27 22:05です。" in japanese
    assert "HTTPConnectionPool" not in english + japanese


@pytest.mark.django_db
def test_the_number_thread_reads_receipts_the_same_way(operator_client, account):
    message = MessageFactory(account=account, phone=PHONE, status="delivered", requested_at=T0, updated_at=T0)
    MessageEventFactory(
        message=message,
        at=T0 + dt.timedelta(seconds=10),
        kind=MessageEvent.Kind.RECEIPT,
        detail={"id": "sim-1", "status": "delivered", "done_at": T0.isoformat(), "part": None, "parts": None,
                "fingerprint": "ff00"},
    )  # fmt: skip

    url = reverse("delivery:number-thread", kwargs={"phone": PHONE})
    english = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    japanese = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="ja").content.decode()

    assert "The carrier reports it delivered to the handset at 2026-11-28 12:00:00." in english
    assert "2026-11-28 12:00:00に端末へ配信されました" in japanese
    for internal in ["done_at", "fingerprint", "ff00", "part: None"]:
        assert internal not in english


@pytest.mark.django_db
def test_the_api_send_log_has_sentences_and_leaves_the_channels_exception_out(api, account):
    message = failed_after_outage(account)
    url = f"/api/v1/messages/{message.pk}"

    body = api.get(url).json()
    japanese = api.get(url, HTTP_ACCEPT_LANGUAGE="ja").json()

    assert "HTTPConnectionPool" not in str(body) and "HTTPConnectionPool" not in str(japanese)
    assert body["failure_detail"].startswith("The carrier connection was unavailable")
    errors = [entry for entry in body["send_log"] if entry["kind"] == "channel_error"]
    assert len(errors) == 12 and errors[0]["detail"] == {
        "channel": "jp-carrier-b",
        "attempt": 1,
        "next_attempt_at": errors[0]["detail"]["next_attempt_at"],
    }
    assert (
        errors[0]["summary"]
        == "The carrier connection was unavailable (attempt 1). Next attempt at 2026-11-28 12:27."
    )
    assert [entry["kind"] for entry in body["send_log"]][-2:] == ["channel_error", "check_failed"]
    assert japanese["send_log"][-1]["summary"].startswith("送信されませんでした")


@pytest.mark.django_db
def test_older_failure_details_with_the_exception_are_rewritten_as_the_sentence(account):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("delivery.migrations.0010_plain_channel_unavailable_detail")
    legacy = MessageFactory(
        account=account,
        status="processing_failed",
        reason="other",
        requested_at=T0,
        updated_at=T0 + dt.timedelta(hours=5, minutes=20),
        failure_detail=f"channel jp-carrier-b unavailable after 12 attempts: {CONNECTION_REFUSED}",
    )
    suspended = MessageFactory(
        account=account, status="processing_failed", reason="other", failure_detail="account suspended"
    )

    migration.rewrite(apps, None)

    legacy.refresh_from_db()
    suspended.refresh_from_db()
    assert legacy.failure_detail == (
        "The carrier connection was unavailable; the platform retried 12 times over 5 hours."
    )
    assert suspended.failure_detail == "account suspended"


def sentence(kind, detail, *, at=T0):
    from delivery.send_log import event_summary

    return event_summary(MessageEvent(kind=kind, detail=detail, at=at))


@pytest.mark.parametrize(
    "detail, expected",
    [
        (
            {"reason": "global_intercept", "return_code": 500, "expires_at": "2026-12-28T03:00:00+00:00"},
            "Not sent: the number is on the global intercept list (return code 500 Invalid number) "
            "until 2026-12-28 12:00.",
        ),
        ({"reason": "unsubscribed", "phone": PHONE},
         "Not sent: the recipient unsubscribed from your messages."),
        ({"reason": "keyword_filtered", "keyword": "casino"},
         "Not sent: the content contains the filtered keyword “casino”."),
        ({"reason": "variable_error", "missing": ["code", "url"]},
         "Not sent: template variables missing or empty: code, url."),
        ({"reason": "content_noncompliant", "problem": "template_not_approved"},
         "Not sent: the template is not approved for sending."),
        (
            {"reason": "frequency_exceeded", "window_seconds": 3600, "max_messages": 5, "sent_in_window": 5},
            "Not sent: 5 messages already went to this number in the last 1 hour (at most 5 allowed).",
        ),
        ({"reason": "other", "problem": "account_suspended"}, "Not sent: the account is suspended."),
        # Written before problems had codes: the cause's text says which.
        ({"reason": "other", "cause": "channel b unavailable after 12 attempts: ConnectionError: …"},
         "Not sent: the carrier could not be reached in 12 attempts, so the platform gave up."),
        ({"reason": "other", "cause": "gave up after 3 attempts without a recorded answer"},
         "Not sent: the platform gave up after 3 attempts without the carrier's answer on record."),
    ],
)  # fmt: skip
def test_each_check_failure_reads_as_a_sentence(detail, expected):
    assert sentence("check_failed", detail) == expected


@pytest.mark.parametrize(
    "note, expected",
    [
        ("Kannel: 0: Accepted for delivery", "Handed to the carrier, which accepted it for delivery."),
        (
            "Kannel: 3: Queued for later delivery",
            "Handed to the carrier, which queued it for later delivery.",
        ),
        (
            "not sent again: Kannel already has this message (a callback about it came in …)",
            "Handed to the carrier, which already had this message (it was not sent again).",
        ),
        (None, "Handed to the carrier; waiting for its delivery receipt."),
    ],
)
def test_kannels_answers_read_as_sentences(note, expected):
    detail = {"channel": "kannel", "channel_message_id": "kannel-1", **({"note": note} if note else {})}
    assert sentence("handed_to_channel", detail) == expected


def test_other_events_read_as_sentences():
    assert sentence("outcome_unknown", {"error": "x", "cause": "OperationalError: …"}) == (
        "Handed to the carrier, but its answer could not be recorded: the outcome is unknown. "
        "It was not sent again."
    )
    assert sentence(
        "intercepted", {"action": "created", "scope": "local", "expires_at": "2026-11-28T04:00:00+00:00"}
    ) == ("The number was put on the local intercept list until 2026-11-28 13:00.")
    assert sentence("channel_rejected", {"return_code": 520, "detail": "BLACKLISTED"}) == (
        "Refused by the carrier: return code 520 Blacklisted."
    )
    assert sentence(
        "receipt_ignored",
        {"status": "failed", "code": 530, "done_at": T0.isoformat(), "why": "contradicts the final status",
         "final_status": "delivered"},
    ) == (
        "The carrier reports it failed at 2026-11-28 12:00:00: return code 530 Busy. "
        "Not applied: the status was already final (Delivered)."
    )  # fmt: skip
