"""Receipt ingestion: statuses, intercepts, idempotency, ordering, early receipts, multipart."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.channels.base import ReceiptItem
from delivery.models import EarlyReceipt, InboxItem, Message, MessageStatus, Reason
from delivery.services.receipts import early_receipts_retry, inbox_ingest, receipts_apply
from intercepts.models import Intercept, InterceptEvent
from smsconsole import clock
from tests.factories import AccountFactory, MessageFactory, TemplateFactory
from tests.pipeline.helpers import events, post_webhook, send

pytestmark = pytest.mark.django_db

HOUR = 3600
# code: (reason, intercept seconds, scope)
RULES = {
    500: ("invalid_number", 30 * 24 * HOUR, "global"),
    510: ("suspended", HOUR, "global"),
    520: ("blacklisted", HOUR, "local"),
    530: ("busy", 0, None),
    540: ("no_answer", 0, None),
    550: ("content_intercepted", HOUR, "local"),
    560: ("device_fault", HOUR, "global"),
    570: ("out_of_service_area", HOUR, "global"),
    580: ("powered_off", 0, None),
    590: ("other", 0, None),
}


def awaiting(account, channel_message_id, *, phone="+819011112222", segments=1, **fields):
    now = timezone.now()
    return MessageFactory(
        account=account,
        phone=phone,
        status=MessageStatus.AWAITING_RECEIPT,
        channel=account.default_channel,
        channel_message_id=channel_message_id,
        channel_delivered_at=now,
        segments=segments,
        **fields,
    )


def receipt(
    cid, status="delivered", *, code=None, done_at=None, part=None, parts=None, detail="carrier says"
):
    item = {"id": cid, "status": status, "done_at": (done_at or timezone.now()).isoformat(), "detail": detail}
    if code is not None:
        item["code"] = code
    if part is not None:
        item.update(part=part, parts=parts)
    return item


def post_receipts(channel, *items):
    response = post_webhook(channel, "receipts", {"receipts": list(items)})
    assert response.status_code == 202, response.content
    return response


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_return_code_sets_status_reason_and_intercept(account, simulator, code):
    reason, seconds, scope = RULES[code]
    message = awaiting(account, "m1")
    done_at = timezone.now() - dt.timedelta(seconds=5)
    post_receipts(simulator, receipt("m1", "failed", code=code, done_at=done_at, detail="ABSENT SUBSCRIBER"))
    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code) == (MessageStatus.SEND_FAILED, reason, code)
    assert message.failure_detail == "ABSENT SUBSCRIBER"
    assert message.receipt_at == done_at
    records = Intercept.objects.filter(phone=message.phone)
    if seconds == 0:
        assert not records.exists()
        assert "intercepted" not in events(message)
    else:
        [record] = records
        assert record.scope == scope and record.account_id == account.pk and record.return_code == code
        assert record.expires_at - record.intercepted_at == dt.timedelta(seconds=seconds)
        assert record.reason == "ABSENT SUBSCRIBER" and record.source_message_id == message.pk
        assert events(message)[-1] == "intercepted"


def test_delivered_receipt(account, simulator):
    message = awaiting(account, "m1")
    done_at = timezone.now() - dt.timedelta(seconds=3)
    post_receipts(simulator, receipt("m1", done_at=done_at))
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.receipt_at == done_at
    assert message.reason == "" and message.return_code is None


def test_global_and_local_blocking_across_accounts_after_real_receipts(
    api, other_api, account, other_account
):
    mine = TemplateFactory(account=account, body="hi")
    theirs = TemplateFactory(account=other_account, body="hi")
    # The simulator fails numbers ending in 500 with 500 (global) and in 520 with 520 (local).
    [invalid] = send(api, mine, "+819011110500")
    [blacklisted] = send(api, mine, "+819011110520")
    assert (invalid.return_code, blacklisted.return_code) == (500, 520)

    with clock.frozen(timezone.now() + dt.timedelta(minutes=2)):
        [b_invalid, b_blacklisted] = send(other_api, theirs, "+819011110500", "+819011110520")
        [a_blacklisted] = send(api, mine, "+819011110520")
    assert b_invalid.reason == Reason.GLOBAL_INTERCEPT
    assert b_blacklisted.status == MessageStatus.SEND_FAILED  # A's local record does not block B
    assert a_blacklisted.reason == Reason.LOCAL_INTERCEPT

    with clock.frozen(timezone.now() + dt.timedelta(hours=2)):
        [again] = send(api, mine, "+819011110520")
    assert again.status == MessageStatus.SEND_FAILED  # the 1-hour local intercept is over


def test_a_new_failure_extends_the_one_live_record(account, simulator):
    first, second = awaiting(account, "m1"), awaiting(account, "m2")
    now = timezone.now()
    post_receipts(simulator, receipt("m1", "failed", code=560, done_at=now - dt.timedelta(minutes=30)))
    post_receipts(simulator, receipt("m2", "failed", code=570, done_at=now, detail="OUT OF AREA"))
    [record] = Intercept.objects.filter(phone=first.phone)
    assert record.return_code == 570 and record.reason == "OUT OF AREA"
    assert record.expires_at == now + dt.timedelta(hours=1)
    assert record.source_message_id == second.pk
    history = list(
        InterceptEvent.objects.filter(intercept_id=record.pk).order_by("id").values_list("kind", flat=True)
    )
    assert history == ["created", "extended"]


def test_a_carrier_clock_running_ahead_does_not_lengthen_the_intercept(account, simulator):
    awaiting(account, "m1")
    ahead = timezone.now() + dt.timedelta(days=2)
    before = timezone.now()
    post_receipts(simulator, receipt("m1", "failed", code=570, done_at=ahead))
    record = Intercept.objects.get()
    assert before + dt.timedelta(hours=1) <= record.expires_at <= timezone.now() + dt.timedelta(hours=1)


def test_the_same_receipt_twice_changes_nothing(account, simulator):
    message = awaiting(account, "m1")
    item = receipt("m1", "failed", code=500)
    post_receipts(simulator, item)
    message.refresh_from_db()
    state = (message.status, message.updated_at, events(message))
    expires = Intercept.objects.get().expires_at
    post_receipts(simulator, item)
    post_receipts(simulator, item, item)
    message.refresh_from_db()
    assert (message.status, message.updated_at, events(message)) == state
    assert Intercept.objects.get().expires_at == expires


def test_first_final_receipt_wins_and_a_contradiction_is_logged(account, simulator):
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1", "delivered"))
    post_receipts(simulator, receipt("m1", "failed", code=500))
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    ignored = message.events.get(kind="receipt_ignored").detail
    assert ignored["why"] == "contradicts the final status" and ignored["code"] == 500
    assert not Intercept.objects.exists()


def test_a_late_receipt_never_moves_a_failed_message(account, simulator):
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1", "failed", code=530), receipt("m1", "delivered"))
    message.refresh_from_db()
    assert message.status == MessageStatus.SEND_FAILED and message.return_code == 530


def test_receipt_for_an_unknown_message_waits_then_applies(account, simulator):
    post_receipts(simulator, receipt("later", "failed", code=510))
    early = EarlyReceipt.objects.get()
    assert early.channel_message_id == "later" and not early.is_orphaned
    assert early_receipts_retry().waiting == 1

    message = awaiting(account, "later")
    report = early_receipts_retry()
    assert report.applied == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SEND_FAILED and message.return_code == 510
    assert not EarlyReceipt.objects.exists()


def test_receipt_for_an_unknown_message_is_orphaned_after_the_window(simulator, settings):
    settings.SMS_EARLY_RECEIPT_RETRY_HOURS = 72
    post_receipts(simulator, receipt("ghost"))
    with clock.frozen(timezone.now() + dt.timedelta(hours=71)):
        assert early_receipts_retry().orphaned == 0
    with clock.frozen(timezone.now() + dt.timedelta(hours=73)):
        assert early_receipts_retry().orphaned == 1
    early = EarlyReceipt.objects.get()
    assert early.is_orphaned and early.attempts == 3
    assert early_receipts_retry().orphaned == 0  # orphans are left for staff


def test_the_same_early_receipt_is_kept_once(simulator):
    item = receipt("ghost")
    post_receipts(simulator, item)
    post_receipts(simulator, item, receipt("another ghost"))  # the carrier sends it again, with a new one
    assert sorted(EarlyReceipt.objects.values_list("channel_message_id", flat=True)) == [
        "another ghost",
        "ghost",
    ]
    # Both bodies were taken as they came, none set aside as failed.
    assert list(InboxItem.objects.values_list("failed_items", "last_error")) == [([], ""), ([], "")]


def test_multipart_delivered_when_every_part_is(account, simulator):
    message = awaiting(account, "m1", segments=3)
    now = timezone.now()
    post_receipts(simulator, receipt("m1", part=2, parts=3, done_at=now - dt.timedelta(seconds=2)))
    post_receipts(simulator, receipt("m1", part=1, parts=3, done_at=now - dt.timedelta(seconds=1)))
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    post_receipts(simulator, receipt("m1", part=3, parts=3, done_at=now - dt.timedelta(seconds=3)))
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.receipt_at == now - dt.timedelta(seconds=1)  # the last part to reach the handset
    parts = [e.detail["part"] for e in message.events.filter(kind="receipt").order_by("id")]
    assert parts == [2, 1, 3]


def test_multipart_failed_when_any_part_fails(account, simulator):
    message = awaiting(account, "m1", segments=2)
    post_receipts(
        simulator, receipt("m1", part=1, parts=2), receipt("m1", "failed", code=580, part=2, parts=2)
    )
    message.refresh_from_db()
    assert message.status == MessageStatus.SEND_FAILED and message.reason == Reason.POWERED_OFF


def test_simulator_long_message_gets_a_receipt_per_part(api, account):
    template = TemplateFactory(account=account, body="{{text}}")
    [message] = send(api, template, {"to": "+819011112222", "vars": {"text": "あ" * 140}})
    assert message.segments == 3 and message.status == MessageStatus.DELIVERED
    assert events(message).count("receipt") == 3


# --- the property: any order of the same receipts ends in the same state ------------------------

CODES = st.sampled_from(sorted(RULES))


@st.composite
def receipt_sets(draw):
    """Receipts for up to three messages: one per part, at most one failing part per message
    (two failing parts with different codes would make "first wins" depend on arrival order),
    some sent twice, then shuffled and cut into batches."""
    base = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    messages, items = [], []
    for index in range(draw(st.integers(1, 3))):
        parts = draw(st.integers(1, 3))
        failing_part = draw(st.one_of(st.none(), st.integers(1, parts)))
        code = draw(CODES)
        messages.append((f"p{index}", parts))
        for part in range(1, parts + 1):
            item = ReceiptItem(
                channel_message_id=f"p{index}",
                status="failed" if part == failing_part else "delivered",
                code=code if part == failing_part else None,
                detail="x",
                done_at=base + dt.timedelta(seconds=draw(st.integers(0, 120))),
                part=part if parts > 1 else None,
                parts=parts if parts > 1 else None,
            )
            items.extend([item] * draw(st.integers(1, 2)))
    order = draw(st.permutations(items))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=3)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    return messages, items, batches


def final_state(account, channel, messages, batches):
    with transaction.atomic():
        for index, (cid, parts) in enumerate(messages):
            awaiting(account, cid, phone=f"+8190111100{index:02d}", segments=parts)
        for batch in batches:
            receipts_apply(channel=channel, receipts=batch, now=timezone.now())
        state = sorted(
            Message.objects.filter(account=account).values_list(
                "channel_message_id", "status", "reason", "return_code", "receipt_at"
            )
        )
        intercepts = sorted(Intercept.objects.values_list("phone", "scope", "return_code", "expires_at"))
        transaction.set_rollback(True)
    return state, intercepts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=receipt_sets())
def test_any_order_of_the_same_receipts_ends_in_the_same_state(data):
    messages, items, batches = data
    account = AccountFactory(slug="prop")
    channel = account.default_channel
    try:
        canonical = final_state(account, channel, messages, [items])
        assert final_state(account, channel, messages, batches) == canonical
    finally:
        account.delete()


# --- the inbox ----------------------------------------------------------------------------------


def test_a_batch_interrupted_midway_is_processed_again_exactly_once(account, simulator, monkeypatch):
    first, second = awaiting(account, "m1"), awaiting(account, "m2", phone="+819011113333")
    from delivery.services import receipts as receipts_module

    # Store two bodies without processing them, as if no worker had run yet.
    monkeypatch.setattr(receipts_module, "_queue_ingest", lambda: None)
    post_receipts(simulator, receipt("m1", "failed", code=500))
    post_receipts(simulator, receipt("m2"))
    assert InboxItem.objects.filter(processed_at__isnull=True).count() == 2

    real_ingest_row = receipts_module._ingest_row
    calls = []

    def dies_on_the_second_body(row, *, now):
        calls.append(row.pk)
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing catches it
        real_ingest_row(row, now=now)

    monkeypatch.setattr(receipts_module, "_ingest_row", dies_on_the_second_body)
    with pytest.raises(KeyboardInterrupt):
        inbox_ingest()
    first.refresh_from_db()
    assert first.status == MessageStatus.AWAITING_RECEIPT  # the first body's work was rolled back too
    assert not Intercept.objects.exists()
    assert InboxItem.objects.filter(processed_at__isnull=True).count() == 2

    monkeypatch.setattr(receipts_module, "_ingest_row", real_ingest_row)
    assert inbox_ingest().bodies == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == MessageStatus.SEND_FAILED and second.status == MessageStatus.DELIVERED
    assert events(first).count("receipt") == 1 and events(second).count("receipt") == 1
    assert Intercept.objects.count() == 1
    assert inbox_ingest().bodies == 0


def test_one_bad_item_never_costs_the_good_items_of_its_body(account, simulator, monkeypatch):
    from delivery.services import receipts as receipts_module

    monkeypatch.setattr(receipts_module, "_queue_ingest", lambda: None)
    first, second = awaiting(account, "m1"), awaiting(account, "m2", phone="+819011113333")
    post_receipts(simulator, receipt("m1"), receipt("boom"), receipt("m2", "failed", code=500))
    other_body = awaiting(account, "m3", phone="+819011114444")
    post_receipts(simulator, receipt("m3"))
    real = receipts_module.receipts_apply

    def fails_for_boom(*, channel, receipts, now):
        if any(r.channel_message_id == "boom" for r in receipts):
            raise ValueError("corrupt")
        return real(channel=channel, receipts=receipts, now=now)

    monkeypatch.setattr(receipts_module, "receipts_apply", fails_for_boom)
    inbox_ingest()
    for message in (first, second, other_body):
        message.refresh_from_db()
    assert (first.status, second.status, other_body.status) == (
        MessageStatus.DELIVERED,
        MessageStatus.SEND_FAILED,
        MessageStatus.DELIVERED,
    )
    assert Intercept.objects.filter(phone="+819011113333").exists()
    body = InboxItem.objects.get(item_count=3)
    assert body.processed_at is not None and body.attempts == 0
    assert body.failed_items == [{"index": 1, "error": "ValueError: corrupt"}]
    assert body.last_error == "1 of 3 items could not be applied"
    assert not InboxItem.objects.filter(processed_at__isnull=True).exists()
    assert inbox_ingest().bodies == 0


def test_a_body_that_cannot_be_read_at_all_is_set_aside_without_blocking_others(
    account, simulator, monkeypatch
):
    from delivery.services import receipts as receipts_module

    monkeypatch.setattr(receipts_module, "_queue_ingest", lambda: None)
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1"))
    post_receipts(simulator, receipt("m2"))
    # As if the stored body had been damaged after it was accepted.
    InboxItem.objects.filter(pk=InboxItem.objects.order_by("id").first().pk).update(body="{damaged")
    InboxItem.objects.filter(pk=InboxItem.objects.order_by("id").last().pk).update(body="{damaged")
    third = awaiting(account, "m3", phone="+819011115555")
    post_receipts(simulator, receipt("m3"))
    for _ in range(6):
        inbox_ingest()
    third.refresh_from_db()
    message.refresh_from_db()
    assert third.status == MessageStatus.DELIVERED
    assert message.status == MessageStatus.AWAITING_RECEIPT
    stuck = InboxItem.objects.filter(processed_at__isnull=True)
    assert stuck.count() == 2
    assert all(item.attempts == 5 and "not JSON" in item.last_error for item in stuck)
