"""What receipts leave behind, beyond the common case: the status and failure reason of each
message, what its send log says of receipts it ignored, SMPP receipts mapped by the staff's table,
receipts that came early, and how the inbox drains and records what it could not apply."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.channels.base import ReceiptItem
from delivery.models import EarlyReceipt, InboxItem, Message, MessageStatus, Reason, SmppErrorMapping
from delivery.services.dispatch import due_messages_dispatch
from delivery.services.receipts import early_receipts_retry, inbox_ingest, receipts_apply
from intercepts.models import Intercept
from replies.models import Reply
from smsconsole import clock
from tests.delivery.test_receipts import awaiting, post_receipts, receipt
from tests.factories import ChannelFactory, MessageFactory, TemplateFactory
from tests.pipeline.helpers import events, pipeline, post_webhook
from tests.replies.test_replies import post_replies, reply

pytestmark = pytest.mark.django_db


def dlr(cid, stat, err="000", *, text=""):
    line = f"id:{cid} sub:001 dlvrd:000 submit date:2611281203 done date:2611281204 stat:{stat} err:{err}"
    return line + (f" text:{text}" if text else "")


def post_smpp(channel, *lines, content_type="text/plain"):
    response = post_webhook(channel, "receipts", "\n".join(lines).encode(), content_type=content_type)
    assert response.status_code == 202, response.content
    return response


def item(cid, status="delivered", *, code=None, done_at=None, part=None, parts=None, detail="carrier says"):
    return ReceiptItem(
        channel_message_id=cid,
        status=status,
        code=code,
        detail=detail,
        done_at=done_at or timezone.now(),
        part=part,
        parts=parts,
    )


def hold_ingestion(monkeypatch):
    """Store bodies without ingesting them, as if no worker had run yet."""
    from delivery.services import receipts as receipts_module

    monkeypatch.setattr(receipts_module, "_queue_ingest", lambda: None)


# --- SMPP receipts -------------------------------------------------------------------------------


def test_an_smpp_receipt_is_read_whatever_the_case_and_parameters_of_its_content_type(account, simulator):
    message = awaiting(account, "7220411")

    post_smpp(simulator, dlr("7220411", "UNDELIV", "027"), content_type=" Text/Plain ; charset=utf-8")

    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code) == (
        MessageStatus.SEND_FAILED,
        Reason.POWERED_OFF,
        580,
    )
    assert InboxItem.objects.get().content_type == " Text/Plain ; charset=utf-8"


def test_an_smpp_failure_keeps_the_carriers_words_as_its_failure_detail(account, simulator):
    message = awaiting(account, "1")

    post_smpp(simulator, dlr("1", "UNDELIV", "001", text="Your code 1234"))

    message.refresh_from_db()
    assert message.failure_detail == "stat:UNDELIV err:001 text:Your code 1234"
    assert Intercept.objects.get().reason == "stat:UNDELIV err:001 text:Your code 1234"


def test_an_smpp_receipt_without_text_says_only_stat_and_err(account, simulator):
    message = awaiting(account, "1")

    post_smpp(simulator, dlr("1", "EXPIRED", "000"))

    message.refresh_from_db()
    assert message.failure_detail == "stat:EXPIRED err:000"


def test_an_smpp_stat_the_table_does_not_know_fails_as_other(account, simulator):
    SmppErrorMapping.objects.all().delete()
    delivered, failed = awaiting(account, "1"), awaiting(account, "2", phone="+819011113333")

    post_smpp(simulator, dlr("1", "DELIVRD"), dlr("2", "UNDELIV", "001"))

    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert delivered.status == MessageStatus.DELIVERED and delivered.return_code is None
    assert (failed.status, failed.reason, failed.return_code) == (
        MessageStatus.SEND_FAILED,
        Reason.OTHER,
        590,
    )


def test_an_exact_smpp_error_wins_over_the_stats_catch_all(account, simulator):
    SmppErrorMapping.objects.filter(stat="UNDELIV", err="*").update(return_code=510)
    exact, other = awaiting(account, "1"), awaiting(account, "2", phone="+819011113333")

    post_smpp(simulator, dlr("1", "UNDELIV", "031"), dlr("2", "UNDELIV", "077"))

    exact.refresh_from_db()
    other.refresh_from_db()
    assert (exact.return_code, exact.reason) == (530, Reason.BUSY)
    assert (other.return_code, other.reason) == (510, Reason.SUSPENDED)


# --- receipts a message ignores ------------------------------------------------------------------


def test_a_receipt_before_the_hand_over_is_recorded_is_logged_and_ignored(account, simulator):
    message = MessageFactory(
        account=account,
        phone="+819011112222",
        status=MessageStatus.REQUESTING,
        channel=simulator,
        channel_message_id="m1",
    )

    post_receipts(simulator, receipt("m1", "failed", code=500))

    message.refresh_from_db()
    assert message.status == MessageStatus.REQUESTING and message.return_code is None
    ignored = message.events.get(kind="receipt_ignored").detail
    assert ignored["why"] == "not handed to the channel" and ignored["code"] == 500
    assert not Intercept.objects.exists()


def test_a_repeated_final_receipt_is_logged_as_already_final(account, simulator):
    delivered = awaiting(account, "m1")
    failed = awaiting(account, "m2", phone="+819011113333")
    post_receipts(simulator, receipt("m1"), receipt("m2", "failed", code=530))

    post_receipts(
        simulator,
        receipt("m1", detail="again"),
        receipt("m2", "failed", code=530, detail="again"),
    )

    for message, status in ((delivered, "delivered"), (failed, "send_failed")):
        ignored = message.events.get(kind="receipt_ignored").detail
        assert (ignored["why"], ignored["final_status"], ignored["detail"]) == (
            "already final",
            status,
            "again",
        )


def test_a_delivered_receipt_after_a_failure_contradicts_it(account, simulator):
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1", "failed", code=530))

    post_receipts(simulator, receipt("m1"))

    message.refresh_from_db()
    assert message.status == MessageStatus.SEND_FAILED
    ignored = message.events.get(kind="receipt_ignored").detail
    assert (ignored["why"], ignored["final_status"]) == ("contradicts the final status", "send_failed")


def test_a_receipt_for_another_channels_message_waits_instead(account, simulator):

    other = ChannelFactory(code="other-carrier")
    message = awaiting(account, "m1")

    post_receipts(other, receipt("m1", "failed", code=500))

    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    early = EarlyReceipt.objects.get()
    assert (early.channel, early.channel_message_id) == (other, "m1")


def test_what_a_batch_of_receipts_did_is_counted_and_logged_when_it_came(account, simulator):
    delivered = awaiting(account, "m1")
    failing = awaiting(account, "m2", phone="+819011113333")
    fresh = awaiting(account, "m3", phone="+819011114444")
    unhanded = MessageFactory(
        account=account, phone="+819011115555", status=MessageStatus.REQUESTING, channel=simulator
    )
    Message.objects.filter(pk=unhanded.pk).update(channel_message_id="m4")
    now = timezone.now().replace(microsecond=0)
    first, once = item("m1"), item("m3")
    receipts_apply(channel=simulator, receipts=[first], now=now - dt.timedelta(seconds=1))

    report = receipts_apply(
        channel=simulator,
        receipts=[
            first,
            first,
            item("m1", detail="later"),
            item("m1", "failed", code=530, detail="later still"),
            item("m2", "failed", code=530),
            once,
            once,
            item("m4"),
            item("m4", "failed", code=510),
            item("x"),
            item("y"),
        ],
        now=now,
    )

    assert (report.applied, report.duplicates, report.ignored, report.early) == (2, 3, 4, 2)
    assert events(fresh) == ["receipt"]
    assert delivered.events.filter(kind="receipt_ignored").count() == 2
    assert set(failing.events.values_list("at", flat=True)) == {now}
    assert set(unhanded.events.values_list("kind", "at")) == {("receipt_ignored", now)}
    assert receipts_apply(channel=simulator, receipts=[], now=now).applied == 0


def test_a_contradicting_receipt_sent_again_is_logged_once(account, simulator):
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1"))
    contradiction = receipt("m1", "failed", code=500)

    post_receipts(simulator, contradiction)
    post_receipts(simulator, contradiction)

    assert events(message).count("receipt_ignored") == 1


def test_a_part_ignored_before_the_hand_over_does_not_count_towards_the_whole(account, simulator):
    message = MessageFactory(
        account=account, phone="+819011112222", status=MessageStatus.REQUESTING, channel=simulator, segments=2
    )
    Message.objects.filter(pk=message.pk).update(channel_message_id="m1")
    post_receipts(simulator, receipt("m1", part=1, parts=2))
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.AWAITING_RECEIPT, channel_delivered_at=timezone.now()
    )

    post_receipts(simulator, receipt("m1", part=2, parts=2))

    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT


# --- multipart -----------------------------------------------------------------------------------


def test_the_parts_delivered_in_earlier_bodies_count_towards_the_whole(account, simulator):
    message = awaiting(account, "m1", segments=2)
    now = timezone.now().replace(microsecond=0)
    post_receipts(simulator, receipt("m1", part=1, parts=2, done_at=now - dt.timedelta(seconds=5)))
    post_receipts(simulator, receipt("m1", part=1, parts=2, done_at=now - dt.timedelta(seconds=4)))
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT  # the same part twice is not the whole

    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", part=2, parts=2, done_at=now - dt.timedelta(seconds=9)))

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.receipt_at == now - dt.timedelta(seconds=4)  # the latest a part reached the handset
    assert message.updated_at == now


def test_a_delivered_part_reported_ahead_of_the_clock_counts_as_now(account, simulator):
    message = awaiting(account, "m1", segments=2)
    now = timezone.now().replace(microsecond=0)
    with clock.frozen(now):
        post_receipts(
            simulator,
            receipt("m1", part=1, parts=2, done_at=now + dt.timedelta(hours=1)),
            receipt("m1", part=2, parts=2, done_at=now - dt.timedelta(seconds=3)),
        )

    message.refresh_from_db()
    assert (message.status, message.receipt_at) == (MessageStatus.DELIVERED, now)


def test_a_part_reported_ahead_of_the_clock_in_an_earlier_body_never_dates_the_receipt_ahead(
    account, simulator
):
    message = awaiting(account, "m1", segments=2)
    now = timezone.now().replace(microsecond=0)
    post_receipts(simulator, receipt("m1", part=1, parts=2, done_at=now + dt.timedelta(hours=1)))

    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", part=2, parts=2, done_at=now - dt.timedelta(seconds=3)))

    message.refresh_from_db()
    assert (message.status, message.receipt_at) == (MessageStatus.DELIVERED, now)


# --- early receipts ------------------------------------------------------------------------------


def test_early_receipts_are_retried_a_batch_at_a_time(account, simulator):
    post_receipts(simulator, receipt("a"), receipt("b"), receipt("c"))
    for cid, phone in (("a", "+819011110001"), ("b", "+819011110002"), ("c", "+819011110003")):
        awaiting(account, cid, phone=phone)

    assert early_receipts_retry(batch_size=2).applied == 2
    assert list(EarlyReceipt.objects.values_list("channel_message_id", flat=True)) == ["c"]
    assert early_receipts_retry(batch_size=2).applied == 1
    assert not EarlyReceipt.objects.exists()


def test_an_early_receipt_remembers_when_it_was_last_tried(simulator, settings):
    settings.SMS_EARLY_RECEIPT_RETRY_HOURS = 72
    start = timezone.now().replace(microsecond=0)
    with clock.frozen(start):
        post_receipts(simulator, receipt("ghost"))
    assert EarlyReceipt.objects.get().last_attempt_at == start
    later = start + dt.timedelta(hours=1)
    with clock.frozen(later):
        report = early_receipts_retry()

    assert (report.applied, report.waiting, report.orphaned) == (0, 1, 0)
    early = EarlyReceipt.objects.get()
    assert (early.received_at, early.last_attempt_at, early.attempts, early.orphaned_at) == (
        start,
        later,
        2,
        None,
    )
    assert early.receipt["id"] == "ghost" and early.receipt["fingerprint"]


def test_an_early_receipt_exactly_at_the_end_of_its_window_still_waits(simulator, settings):
    settings.SMS_EARLY_RECEIPT_RETRY_HOURS = 72
    start = timezone.now().replace(microsecond=0)
    with clock.frozen(start):
        post_receipts(simulator, receipt("ghost"))
    with clock.frozen(start + dt.timedelta(hours=72)):
        assert early_receipts_retry().waiting == 1
    with clock.frozen(start + dt.timedelta(hours=72, seconds=1)):
        assert early_receipts_retry().orphaned == 1
    assert EarlyReceipt.objects.get().orphaned_at == start + dt.timedelta(hours=72, seconds=1)


def test_an_early_multipart_failure_applies_with_its_part_and_detail(account, simulator):
    done_at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)
    post_receipts(
        simulator,
        receipt("later", part=1, parts=2, done_at=done_at),
        receipt("later", "failed", code=580, part=2, parts=2, done_at=done_at, detail="HANDSET OFF"),
    )
    message = awaiting(account, "later", segments=2)

    assert early_receipts_retry().applied == 2

    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code) == (
        MessageStatus.SEND_FAILED,
        Reason.POWERED_OFF,
        580,
    )
    assert (message.failure_detail, message.receipt_at) == ("HANDSET OFF", done_at)
    parts = sorted((e.detail["part"], e.detail["parts"]) for e in message.events.filter(kind="receipt"))
    assert parts == [(1, 2), (2, 2)]


# --- the inbox -----------------------------------------------------------------------------------


def test_a_stored_body_records_what_came_and_when(simulator, monkeypatch):
    hold_ingestion(monkeypatch)
    now = timezone.now().replace(microsecond=0)
    content_type = "application/json; " + "x" * 120

    with clock.frozen(now):
        post_webhook(
            simulator, "receipts", {"receipts": [receipt("a"), receipt("b")]}, content_type=content_type
        )

    stored = InboxItem.objects.get()
    assert (stored.kind, stored.item_count, stored.received_at, stored.processed_at) == (
        "receipts",
        2,
        now,
        None,
    )
    assert stored.content_type == content_type[:100]


def test_ingestion_takes_bodies_in_batches_of_at_most_so_many_items(account, simulator, monkeypatch):
    hold_ingestion(monkeypatch)
    for index in range(3):
        awaiting(account, f"m{index}", phone=f"+81901111000{index}")
        post_receipts(simulator, receipt(f"m{index}"), receipt(f"x{index}"))

    report = inbox_ingest(max_items=4)

    assert (report.bodies, report.items, report.failed_bodies) == (3, 6, 0)
    assert not InboxItem.objects.filter(processed_at__isnull=True).exists()


def test_ingestion_stops_after_its_batches_and_leaves_the_rest_pending(account, simulator, monkeypatch):
    hold_ingestion(monkeypatch)
    for index in range(3):
        post_receipts(simulator, receipt(f"x{index}"), receipt(f"y{index}"))

    report = inbox_ingest(max_items=2, max_batches=2)

    assert (report.bodies, report.items) == (2, 4)
    assert InboxItem.objects.filter(processed_at__isnull=True).count() == 1
    assert inbox_ingest(max_items=3).bodies == 1


def test_a_body_that_cannot_be_read_is_tried_five_times_then_set_aside_with_its_error(
    simulator, monkeypatch, caplog
):
    hold_ingestion(monkeypatch)
    post_receipts(simulator, receipt("m1"))
    post_receipts(simulator, receipt("m2"))
    InboxItem.objects.update(body="{damaged")

    report = inbox_ingest()

    first, second = InboxItem.objects.order_by("id")
    assert report.failed_bodies == 10 and report.bodies == 0
    for stuck in (first, second):
        assert (stuck.attempts, stuck.processed_at) == (5, None)
        assert stuck.last_error.startswith("PayloadError: ") and "not JSON" in stuck.last_error
    logged = [r.getMessage() for r in caplog.records if r.name == "delivery.services.receipts"]
    assert logged[:5] == [
        "inbox batch failed; retrying its bodies one by one",
        f"inbox item {first.pk} failed; applying its items one by one",
        f"inbox item {first.pk} failed as a whole",
        f"inbox item {second.pk} failed; applying its items one by one",
        f"inbox item {second.pk} failed as a whole",
    ]
    assert inbox_ingest().failed_bodies == 0
    assert set(InboxItem.objects.values_list("attempts", flat=True)) == {5}


def test_a_long_error_is_kept_to_two_thousand_characters(simulator, monkeypatch):
    from delivery.services import receipts as receipts_module

    hold_ingestion(monkeypatch)
    post_receipts(simulator, receipt("m1"))

    def unreadable(**kwargs):
        raise ValueError("y" * 3000)

    monkeypatch.setattr(receipts_module, "parse_inbox_body", unreadable)
    inbox_ingest()

    assert InboxItem.objects.get().last_error == ("ValueError: " + "y" * 3000)[:2000]


def test_a_good_body_is_applied_even_when_the_first_batch_fails(account, simulator, monkeypatch, caplog):
    hold_ingestion(monkeypatch)
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m0"))
    post_receipts(simulator, receipt("m1", "failed", code=500))
    InboxItem.objects.filter(pk=InboxItem.objects.order_by("id").first().pk).update(body="{damaged")
    good = InboxItem.objects.order_by("id").last()

    report = inbox_ingest()

    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"inbox item {good.pk} " not in logged  # applied whole: nothing to report of it
    good.refresh_from_db()
    assert (good.processed_at is not None, good.failed_items, good.last_error) == (True, [], "")

    message.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.SEND_FAILED, Reason.INVALID_NUMBER)
    assert events(message).count("receipt") == 1
    assert report.failed_bodies == 5
    assert InboxItem.objects.filter(processed_at__isnull=True).count() == 1


def test_an_item_that_cannot_be_applied_is_recorded_and_logged_with_its_place(
    account, simulator, monkeypatch, caplog
):
    from delivery.services import receipts as receipts_module

    hold_ingestion(monkeypatch)
    good = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1"), receipt("boom"))
    real = receipts_module.receipts_apply

    def fails_for_boom(*, channel, receipts, now):
        if any(r.channel_message_id == "boom" for r in receipts):
            raise ValueError("x" * 600)
        return real(channel=channel, receipts=receipts, now=now)

    monkeypatch.setattr(receipts_module, "receipts_apply", fails_for_boom)
    inbox_ingest()

    good.refresh_from_db()
    assert good.status == MessageStatus.DELIVERED
    body = InboxItem.objects.get()
    assert body.failed_items == [{"index": 1, "error": ("ValueError: " + "x" * 600)[:500]}]
    assert body.last_error == "1 of 2 items could not be applied"
    logged = [r.getMessage() for r in caplog.records if r.name == "delivery.services.receipts"]
    assert f"inbox item {body.pk}: item 1 failed" in logged


def test_a_body_whose_items_all_apply_one_by_one_records_no_error(account, simulator, monkeypatch):
    from delivery.services import receipts as receipts_module

    hold_ingestion(monkeypatch)
    first, second = awaiting(account, "m1"), awaiting(account, "m2", phone="+819011113333")
    post_receipts(simulator, receipt("m1"), receipt("m2", "failed", code=510))
    real = receipts_module.receipts_apply

    def fails_for_whole_bodies(*, channel, receipts, now):
        if len(receipts) > 1:
            raise ValueError("too much at once")
        return real(channel=channel, receipts=receipts, now=now)

    monkeypatch.setattr(receipts_module, "receipts_apply", fails_for_whole_bodies)
    inbox_ingest()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.reason) == (
        MessageStatus.DELIVERED,
        MessageStatus.SEND_FAILED,
        Reason.SUSPENDED,
    )
    body = InboxItem.objects.get()
    assert (body.failed_items, body.last_error, body.attempts) == ([], "", 0)
    assert body.processed_at is not None


def test_a_replies_body_is_applied_reply_by_reply_when_it_fails_whole(account, simulator, monkeypatch):
    from delivery.services import receipts as receipts_module

    hold_ingestion(monkeypatch)
    post_replies(simulator, reply("first", at=timezone.now() - dt.timedelta(seconds=1)), reply("second"))
    real = receipts_module.replies_ingest

    def fails_for_whole_bodies(*, channel, replies, now):
        if len(replies) > 1:
            raise ValueError("too much at once")
        return real(channel=channel, replies=replies, now=now)

    monkeypatch.setattr(receipts_module, "replies_ingest", fails_for_whole_bodies)
    inbox_ingest()

    assert sorted(Reply.objects.values_list("content", flat=True)) == ["first", "second"]
    body = InboxItem.objects.get()
    assert (body.failed_items, body.last_error, body.processed_at is not None) == ([], "", True)


# --- receipts that raced the hand-over -----------------------------------------------------------


def queued(account, phone):
    """A message waiting to be handed to the simulator; numbers ending in 000 get no receipt from it."""

    template = TemplateFactory(account=account, body="hi")
    message = MessageFactory(account=account, phone=phone, template=template, content="hi")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    return message


def dispatch():

    with pipeline():
        due_messages_dispatch()


def test_a_receipt_that_came_before_the_hand_over_applies_as_it_is_recorded(account, simulator):

    failed, delivered = queued(account, "+819011110000"), queued(account, "+819022220000")
    untouched = queued(account, "+819033330000")
    done_at = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=5)
    post_receipts(
        simulator,
        receipt(f"sim-{failed.pk}", "failed", code=510, done_at=done_at, detail="SUSPENDED"),
        receipt(f"sim-{delivered.pk}", done_at=done_at),
    )
    # The same id from another channel, and one given up on, are not this hand-over's receipts.
    post_receipts(ChannelFactory(code="other-carrier"), receipt(f"sim-{untouched.pk}", "failed", code=500))
    post_receipts(simulator, receipt(f"sim-{untouched.pk}", "failed", code=520))
    EarlyReceipt.objects.filter(channel=simulator, channel_message_id=f"sim-{untouched.pk}").update(
        orphaned_at=timezone.now()
    )

    dispatch()

    for message in (failed, delivered, untouched):
        message.refresh_from_db()
    assert (failed.status, failed.reason, failed.failure_detail, failed.receipt_at) == (
        MessageStatus.SEND_FAILED,
        Reason.SUSPENDED,
        "SUSPENDED",
        done_at,
    )
    assert (delivered.status, delivered.receipt_at) == (MessageStatus.DELIVERED, done_at)
    assert untouched.status == MessageStatus.AWAITING_RECEIPT
    assert sorted(EarlyReceipt.objects.values_list("channel__code", "channel_message_id")) == [
        ("other-carrier", f"sim-{untouched.pk}"),
        ("sim", f"sim-{untouched.pk}"),
    ]


def test_a_receipt_for_another_message_stays_waiting_through_a_hand_over(account, simulator):
    message = queued(account, "+819011110000")
    post_receipts(simulator, receipt("sim-999999", "failed", code=510))

    dispatch()

    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert list(EarlyReceipt.objects.values_list("channel_message_id", flat=True)) == ["sim-999999"]


def test_early_receipts_of_two_channels_are_all_counted(account, other_account, simulator, settings):

    settings.SMS_EARLY_RECEIPT_RETRY_HOURS = 72
    other = ChannelFactory(code="other-carrier")
    start = timezone.now().replace(microsecond=0)
    with clock.frozen(start):
        post_receipts(simulator, receipt("a"), receipt("ghost-1"), receipt("ghost-2"))
        post_receipts(other, receipt("b"), receipt("ghost-3"), receipt("ghost-4"))
    awaiting(account, "a")
    MessageFactory(
        account=other_account,
        phone="+819011113333",
        status=MessageStatus.AWAITING_RECEIPT,
        channel=other,
        channel_message_id="b",
        channel_delivered_at=start,
    )
    # "a" is known on the simulator only: the other channel's "a" would still wait.
    post_receipts(other, receipt("a"))

    with clock.frozen(start + dt.timedelta(hours=1)):
        report = early_receipts_retry()
    assert (report.applied, report.waiting, report.orphaned) == (2, 5, 0)

    with clock.frozen(start + dt.timedelta(hours=73)):
        report = early_receipts_retry()
    assert (report.applied, report.waiting, report.orphaned) == (0, 0, 5)


def test_the_same_early_receipt_from_two_channels_waits_for_each_but_once_per_body(simulator):
    other = ChannelFactory(code="other-carrier")
    ghost = receipt("ghost")

    post_receipts(simulator, ghost, ghost)
    post_receipts(other, ghost)

    assert sorted(EarlyReceipt.objects.values_list("channel__code", flat=True)) == ["other-carrier", "sim"]


def test_an_early_receipt_without_detail_applies_without_one(account, simulator):
    post_receipts(simulator, receipt("later", "failed", code=510, detail=""))
    message = awaiting(account, "later")

    early_receipts_retry()

    message.refresh_from_db()
    assert (message.status, message.failure_detail) == (MessageStatus.SEND_FAILED, "")


# --- what one pass of the inbox takes ------------------------------------------------------------


def test_a_body_larger_than_a_batch_is_still_taken_whole(account, simulator, monkeypatch):
    hold_ingestion(monkeypatch)
    message = awaiting(account, "m1")
    post_receipts(simulator, receipt("m1"), receipt("x"), receipt("y"))

    report = inbox_ingest(max_items=2)

    assert (report.bodies, report.items, report.failed_bodies) == (1, 3, 0)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_one_batch_takes_as_many_bodies_as_fit(simulator, monkeypatch):
    hold_ingestion(monkeypatch)
    for index in range(3):
        post_receipts(simulator, receipt(f"x{index}"), receipt(f"y{index}"))

    report = inbox_ingest(max_items=4, max_batches=1)

    assert (report.bodies, report.items) == (2, 4)
    assert InboxItem.objects.filter(processed_at__isnull=True).count() == 1


def test_without_a_size_a_batch_takes_the_configured_number_of_items(
    simulator, monkeypatch, settings, caplog
):
    settings.SMS_INGEST_BATCH_SIZE = 2
    hold_ingestion(monkeypatch)
    for index in range(3):
        post_receipts(simulator, receipt(f"x{index}"))

    report = inbox_ingest(max_batches=1)

    assert (report.bodies, report.items, report.failed_bodies) == (2, 2, 0)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_each_kind_of_body_is_applied_whole_without_an_error(account, simulator, monkeypatch, caplog):
    hold_ingestion(monkeypatch)
    json_message = awaiting(account, "m1")
    smpp_message = awaiting(account, "7220411", phone="+819011113333")
    MessageFactory(
        account=account,
        phone="+819011114444",
        status=MessageStatus.DELIVERED,
        channel=simulator,
        channel_delivered_at=timezone.now() - dt.timedelta(minutes=1),
    )
    post_receipts(simulator, receipt("m1"))
    post_smpp(simulator, dlr("7220411", "UNDELIV", "027"))
    post_replies(simulator, reply("thanks", phone="+819011114444"))
    now = timezone.now().replace(microsecond=0)

    with clock.frozen(now):
        report = inbox_ingest()

    assert (report.bodies, report.items, report.failed_bodies) == (3, 3, 0)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    json_message.refresh_from_db()
    smpp_message.refresh_from_db()
    assert json_message.status == MessageStatus.DELIVERED
    assert (smpp_message.status, smpp_message.return_code) == (MessageStatus.SEND_FAILED, 580)
    assert Reply.objects.get().message is not None
    assert (
        list(InboxItem.objects.values_list("processed_at", "failed_items", "last_error"))
        == [(now, [], "")] * 3
    )


# --- a channel's refusal -------------------------------------------------------------------------


def test_a_refused_message_is_failed_at_once_with_the_channels_code_and_words(account):
    from tests.pipeline.carrier import FakeCarrier

    channel = ChannelFactory(code="carrier", kind="http", send_url="http://placeholder")
    with FakeCarrier(secret=channel.webhook_secret) as fake:
        channel.send_url = fake.url
        channel.save()
        account.default_channel = channel
        account.save()
        fake.mode = "reject"
        message = queued(account, "+819011110001")
        now = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)
        with clock.frozen(now):
            dispatch()

    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code, message.failure_detail) == (
        MessageStatus.SEND_FAILED,
        Reason.BLACKLISTED,
        520,
        "BLACKLISTED",
    )
    assert (message.updated_at, message.next_attempt_at, message.receipt_at) == (now, None, None)
    rejected = message.events.get(kind="channel_rejected")
    assert (rejected.at, rejected.detail) == (now, {"return_code": 520, "detail": "BLACKLISTED"})
    record = Intercept.objects.get()
    assert (record.intercepted_at, record.source_message_id, record.reason) == (
        now,
        message.pk,
        "BLACKLISTED",
    )


def test_a_failed_receipt_updates_the_message_when_it_is_learnt(account, simulator):
    message = awaiting(account, "m1")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    now = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)

    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=530, done_at=now - dt.timedelta(seconds=4)))

    message.refresh_from_db()
    assert (message.updated_at, message.next_attempt_at, message.receipt_at) == (
        now,
        None,
        now - dt.timedelta(seconds=4),
    )
    assert not message.events.filter(kind="channel_rejected").exists()
