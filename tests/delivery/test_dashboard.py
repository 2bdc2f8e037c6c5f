"""The delivery dashboard: per-day figures in the account's zone, the delivery rate, failure reasons,
latency, messages stuck awaiting their receipt, and who may see what."""

import datetime as dt
import json
import random
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from django.urls import reverse

from delivery.dashboard import dashboard_get, dashboard_period
from delivery.latency import bucket_bounds, bucket_of, percentile_ms
from delivery.models import (
    LatencyStage,
    Message,
    MessageCountHour,
    MessageCountStatusHour,
    MessageStatus,
    Reason,
)
from delivery.selectors import message_status_counts
from delivery.services.counts import message_counts_compact
from delivery.services.latency import message_latency_rollup
from smsconsole import clock
from tests.factories import MessageFactory, TemplateFactory

URL = reverse("delivery:dashboard")
TOKYO = ZoneInfo("Asia/Tokyo")
# 12:00 in Tokyo: the Tokyo day began at 15:00 UTC the day before.
NOW = dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.UTC)
OUTCOMES = {
    "delivered": dict(status=MessageStatus.DELIVERED),
    "awaiting": dict(status=MessageStatus.AWAITING_RECEIPT),
    "requesting": dict(status=MessageStatus.REQUESTING),
    "busy": dict(status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530),
    "invalid": dict(status=MessageStatus.SEND_FAILED, reason=Reason.INVALID_NUMBER, return_code=500),
    "intercepted": dict(status=MessageStatus.PROCESSING_FAILED, reason=Reason.LOCAL_INTERCEPT),
}


@pytest.fixture(autouse=True)
def frozen_now():
    with clock.frozen(NOW):
        yield


def message(account, outcome: str, at: dt.datetime, **fields) -> Message:
    return MessageFactory(account=account, requested_at=at, **OUTCOMES[outcome], **fields)


def day_row(content: str, day: str) -> list[str]:
    """The cells of a day's row in the table of messages by status."""
    table = re.search(r'data-testid="day-table".*?</table>', content, re.S).group(0)
    row = re.search(rf'<tr data-day="{day}">(.*?)</tr>', table, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]


def header_cells(content: str, testid: str) -> list[str]:
    table = re.search(rf'data-testid="{testid}".*?</thead>', content, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<th[^>]*>(.*?)</th>", table)]


@pytest.mark.django_db
@pytest.mark.parametrize("is_folded", [False, True])
def test_days_are_the_accounts_local_days(operator_client, account, is_folded):
    # Both at 12-03 in UTC; in Tokyo one is late on the 3rd, the other early on the 4th.
    message(account, "delivered", dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.UTC))
    message(account, "delivered", dt.datetime(2026, 12, 3, 15, 30, tzinfo=dt.UTC))
    message(account, "busy", dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC))
    if is_folded:
        message_counts_compact()

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    header = header_cells(content, "day-table")
    assert header[:4] == ["Date", "Delivered", "Awaiting receipt", "Requesting"]
    delivered, send_failed, total = 1, header.index("Send failed"), header.index("Total")
    third, fourth = day_row(content, "2026-12-03"), day_row(content, "2026-12-04")
    assert (third[delivered], third[send_failed], third[total]) == ("1", "0", "1")
    assert (fourth[delivered], fourth[send_failed], fourth[total]) == ("1", "1", "2")
    assert "Times in Asia/Tokyo" in content and "in Asia/Tokyo" in content


@pytest.mark.django_db
def test_the_delivery_rate_counts_only_messages_with_an_outcome(operator_client, account):
    at = NOW - dt.timedelta(hours=1)
    for outcome in ["delivered"] * 3 + ["busy", "awaiting", "awaiting", "requesting", "intercepted"]:
        message(account, outcome, at)

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    header = header_cells(content, "day-table")
    assert day_row(content, "2026-12-04")[header.index("Delivery rate")] == "75.0%"
    assert day_row(content, "2026-12-03")[header.index("Delivery rate")] == "—"  # nothing decided
    assert "Delivery rate = delivered ÷ (delivered + send failed)" in content


@pytest.mark.django_db
def test_failure_reasons_per_day(operator_client, account):
    message(account, "busy", NOW - dt.timedelta(hours=1))
    message(account, "busy", NOW - dt.timedelta(hours=2))
    message(account, "invalid", NOW - dt.timedelta(days=2))
    message(account, "intercepted", NOW - dt.timedelta(days=2))
    message(account, "delivered", NOW - dt.timedelta(days=2))

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    columns = header_cells(content, "reason-table")
    assert columns[0] == "Date"
    assert columns[1] == "Send failed: Busy"  # the most frequent first
    assert set(columns[2:]) == {"Send failed: Invalid number", "Processing failed: Local intercept list"}
    table = re.search(r'data-testid="reason-table".*?</table>', content, re.S).group(0)
    rows = dict(re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', table, re.S))
    assert set(rows) == {"2026-12-04", "2026-12-02"}  # days without failures are left out
    cells = lambda day: re.findall(r'<td class="num">(\d+)</td>', rows[day])  # noqa: E731
    assert cells("2026-12-04")[0] == "2"
    assert sorted(cells("2026-12-02")) == ["0", "1", "1"]


def test_latency_buckets_read_back_within_ten_percent():
    for milliseconds in [150, 999, 4_321, 60_000, 3_600_000]:
        lower, upper = bucket_bounds(bucket_of(milliseconds))
        assert lower <= milliseconds < upper
        assert percentile_ms({bucket_of(milliseconds): 1}, 0.5) == pytest.approx(milliseconds, rel=0.1)
    assert bucket_of(-5) == 0 and percentile_ms({}, 0.5) is None


@pytest.mark.django_db
def test_latency_median_and_p95_per_channel_and_template(operator_client, account, other_account):
    fast, slow = TemplateFactory(account=account, name="otp"), TemplateFactory(account=account, name="news")
    channel = account.default_channel
    at = NOW - dt.timedelta(hours=5)
    for seconds in range(1, 101):  # hand-over after 1 … 100 s, receipt 10 s later
        message(
            account,
            "delivered",
            at,
            template=fast,
            channel=channel,
            channel_delivered_at=at + dt.timedelta(seconds=seconds),
            receipt_at=at + dt.timedelta(seconds=seconds + 10),
        )
    for _ in range(10):  # handed over after 10 minutes, no receipt yet
        message(
            account,
            "awaiting",
            at,
            template=slow,
            channel=channel,
            channel_delivered_at=at + dt.timedelta(minutes=10),
        )
    other_at = NOW - dt.timedelta(hours=1)
    message(
        other_account,
        "delivered",
        other_at,
        channel=channel,
        channel_delivered_at=other_at + dt.timedelta(hours=3),
    )
    message(account, "requesting", at, template=slow)  # not handed over: not timed

    message_latency_rollup()
    dashboard = dashboard_get(account=account, now=NOW)

    by_template = {entry.label: entry for entry in dashboard.latency_by_template}
    assert set(by_template) == {"otp", "news"}
    otp = by_template["otp"]
    assert otp.count(LatencyStage.HAND_OVER) == 100 and otp.count(LatencyStage.RECEIPT) == 100
    assert otp.median_ms(LatencyStage.HAND_OVER) == pytest.approx(50_000, rel=0.1)
    assert otp.p95_ms(LatencyStage.HAND_OVER) == pytest.approx(95_000, rel=0.1)
    assert otp.median_ms(LatencyStage.RECEIPT) == pytest.approx(10_000, rel=0.1)
    assert otp.p95_ms(LatencyStage.RECEIPT) == pytest.approx(10_000, rel=0.1)
    news = by_template["news"]
    assert news.count(LatencyStage.RECEIPT) == 0 and news.median_ms(LatencyStage.RECEIPT) is None
    assert news.median_ms(LatencyStage.HAND_OVER) == pytest.approx(600_000, rel=0.1)
    # One channel: both templates together; the other account's 3-hour hand-over is not in it.
    [sim] = dashboard.latency_by_channel
    assert sim.count(LatencyStage.HAND_OVER) == 110
    assert sim.p95_ms(LatencyStage.HAND_OVER) == pytest.approx(600_000, rel=0.1)

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    table = re.search(r'data-testid="latency-template".*?</table>', content, re.S).group(0)
    otp_row = re.search(r"<th scope=\"row\">otp</th>(.*?)</tr>", table, re.S).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', otp_row)
    assert cells[0] == "100" and cells[1].endswith(" s") and cells[3] == "100"
    assert float(cells[1].removesuffix(" s")) == pytest.approx(50, rel=0.1)


@pytest.mark.django_db
def test_the_rollup_recomputes_recent_days_only(account):
    channel = account.default_channel
    old = NOW - dt.timedelta(days=5)
    handed = message(account, "awaiting", NOW - dt.timedelta(hours=1), channel=channel)
    message(account, "delivered", old, channel=channel, channel_delivered_at=old + dt.timedelta(seconds=2))
    message_latency_rollup()  # the first run fills the retention window
    Message.objects.filter(pk=handed.pk).update(channel_delivered_at=NOW)
    Message.objects.filter(requested_at=old).update(channel_delivered_at=old + dt.timedelta(seconds=30))

    message_latency_rollup()
    message_latency_rollup()  # idempotent

    [entry] = dashboard_get(account=account, now=NOW).latency_by_channel
    assert entry.count(LatencyStage.HAND_OVER) == 2
    # The five-day-old message keeps its first figure (2 s): days that old are final.
    assert entry.histograms[LatencyStage.HAND_OVER][bucket_of(2_000)] == 1


@pytest.mark.django_db
def test_stuck_messages_are_counted_linked_and_shown_on_the_status_page(operator_client, account, settings):
    settings.SMS_STUCK_RECEIPT_MINUTES = 30
    stuck = message(account, "awaiting", NOW - dt.timedelta(minutes=45))
    older = message(account, "awaiting", NOW - dt.timedelta(days=3))
    message(account, "awaiting", NOW - dt.timedelta(minutes=10))  # not yet
    message(account, "delivered", NOW - dt.timedelta(hours=2))

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert re.search(r'data-testid="stuck-count">2<', content)
    assert "more than 30 minutes after their request" in content
    link = re.search(r'href="([^"]+)" data-testid="stuck-link"', content).group(1)
    link = link.replace("&amp;", "&")
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == reverse("delivery:message-list")
    assert query["status"] == ["awaiting_receipt"]
    assert query["requested_to"] == ["2026-12-04 11:30:00"]  # now - 30 min, in Tokyo
    listed = operator_client.get(link, HTTP_ACCEPT_LANGUAGE="en")
    assert {row.pk for row in listed.context["table"].data.data} == {stuck.pk, older.pk}
    banner = listed.content.decode()
    assert 'data-testid="stuck-receipts"' in banner
    assert "2 messages have been awaiting their receipt for more than 30 minutes." in banner


@pytest.mark.django_db
def test_no_banner_without_stuck_messages(operator_client, account):
    message(account, "awaiting", NOW - dt.timedelta(minutes=5))

    content = operator_client.get(reverse("delivery:message-list")).content.decode()

    assert 'data-testid="stuck-receipts"' not in content


@pytest.mark.django_db
def test_another_accounts_messages_are_never_counted(operator_client, account, other_account):
    message(account, "delivered", NOW - dt.timedelta(hours=1))
    for outcome in ["delivered", "busy", "awaiting"]:
        message(other_account, outcome, NOW - dt.timedelta(hours=1))
    message(other_account, "awaiting", NOW - dt.timedelta(hours=2))
    message_counts_compact()
    message(other_account, "delivered", NOW - dt.timedelta(hours=1))  # a change not folded yet

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["dashboard"].status_totals() == {MessageStatus.DELIVERED: 1}
    assert response.context["dashboard"].stuck.count == 0
    assert "Send failed: Busy" not in response.content.decode()


@pytest.mark.django_db
def test_only_staff_see_the_whole_platform(operator_client, staff_client, account, other_account):
    message(account, "delivered", NOW - dt.timedelta(hours=1))
    message(other_account, "busy", NOW - dt.timedelta(hours=1))
    message(other_account, "awaiting", NOW - dt.timedelta(hours=3))

    assert operator_client.get(URL, {"scope": "platform"}).status_code == 404
    assert 'data-testid="platform-link"' not in operator_client.get(URL).content.decode()

    staff_client.post(reverse("account-switch"), {"account": account.pk})
    own = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert own.context["dashboard"].status_totals() == {MessageStatus.DELIVERED: 1}
    assert 'data-testid="platform-link"' in own.content.decode()
    platform = staff_client.get(URL, {"scope": "platform"}, HTTP_ACCEPT_LANGUAGE="en")
    assert platform.status_code == 200
    assert platform.context["dashboard"].status_totals() == {
        MessageStatus.DELIVERED: 1,
        MessageStatus.SEND_FAILED: 1,
        MessageStatus.AWAITING_RECEIPT: 1,
    }
    assert platform.context["dashboard"].stuck.count == 1
    content = platform.content.decode()
    assert "Every account together, by UTC day." in content and "in UTC" in content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, labels",
    [
        ("en", ["Dashboard", "Delivered", "Send failed", "Delivery rate", "Failure reasons", "Per template"]),
        (
            "ja",
            [
                "ダッシュボード",
                "配信済み",
                "送信失敗",
                "配信率",
                "失敗の理由",
                "テンプレート別",
                "送信失敗: 通話中",
            ],
        ),
    ],
)
def test_the_page_reads_in_both_languages(operator_client, account, language, labels):
    message(account, "busy", NOW - dt.timedelta(hours=1))

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    content = response.content.decode()
    for label in labels:
        assert label in content, label
    # The charts' labels are in the page's language too, and there is no inline script.
    data = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', content, re.S)
    assert labels[1] in [status["label"] for status in json.loads(data.group(1))["statuses"]]
    for tag in re.findall(r"<script[^>]*>", content):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert "/static/vendor/chartjs/chart.umd.min.js" in content


@pytest.mark.django_db
def test_the_figures_agree_with_the_status_lists_counts(operator_client, account, other_account):
    rng = random.Random(20261204)
    templates = [TemplateFactory(account=account), TemplateFactory(account=account)]
    messages = []
    for owner in (account, other_account):
        for _ in range(150):
            at = NOW - dt.timedelta(minutes=rng.randrange(32 * 24 * 60))  # some before the period
            template = rng.choice(templates) if owner == account else None
            extra = {"template": template} if template else {}
            messages.append(
                message(owner, rng.choice(list(OUTCOMES)), at, tag=rng.choice(["", "a"]), **extra)
            )
    period = dashboard_period(zone=TOKYO, now=NOW)

    def list_counts() -> dict:
        totals = Counter()
        for row in message_status_counts(account=account, requested_from=period.start_at, requested_to=NOW):
            totals[row["status"]] += row["count"]
        return dict(totals)

    for step in ("changes", "folded", "after more changes"):
        if step == "folded":
            message_counts_compact()
        if step == "after more changes":
            for changed in rng.sample([m for m in messages if m.account == account], 20):
                Message.objects.filter(pk=changed.pk).update(
                    status=MessageStatus.DELIVERED, reason="", return_code=None
                )
        dashboard = operator_client.get(URL).context["dashboard"]
        assert dashboard.status_totals() == list_counts(), step
    message_counts_compact()
    assert operator_client.get(URL).context["dashboard"].status_totals() == list_counts()


@pytest.mark.django_db
def test_folding_keeps_the_status_hours_equal_to_the_hour_counts(account, other_account):
    for owner in (account, other_account):
        for hours in range(0, 60, 7):
            message(owner, "delivered", NOW - dt.timedelta(hours=hours))
            message(owner, "busy", NOW - dt.timedelta(hours=hours, minutes=5))
    message_counts_compact()
    Message.objects.filter(status=MessageStatus.DELIVERED).delete()
    message_counts_compact()

    def by_key(model):
        return {
            (row["account"], row["hour_start_at"], row["status"], row["reason"]): row["total"]
            for row in model.objects.values("account", "hour_start_at", "status", "reason")
            .annotate(total=Sum("count"))
            .filter(total__gt=0)
        }

    assert by_key(MessageCountStatusHour) == by_key(MessageCountHour)
    assert not MessageCountStatusHour.objects.filter(count=0).exists()
    assert MessageCountStatusHour.objects.filter(status=MessageStatus.SEND_FAILED).count() == 18


@pytest.mark.django_db
@pytest.mark.parametrize("is_folded", [False, True])
def test_the_stuck_count_is_the_status_lists_count_for_its_period(account, other_account, is_folded):
    rng = random.Random(7)
    for owner in (account, other_account):
        for _ in range(80):  # most within two hours of the cutoff, some at the edges of its hour
            at = NOW - dt.timedelta(minutes=30) + dt.timedelta(seconds=rng.randrange(-7200, 600))
            message(owner, rng.choice(["awaiting", "awaiting", "delivered", "busy"]), at)
    if is_folded:
        message_counts_compact()

    stuck = dashboard_get(account=account, now=NOW).stuck

    rows = message_status_counts(
        account=account, requested_from=stuck.requested_from, requested_to=stuck.requested_to
    )
    expected = sum(row["count"] for row in rows if row["status"] == MessageStatus.AWAITING_RECEIPT)
    assert stuck.count == expected > 0
    assert stuck.requested_to == NOW - dt.timedelta(minutes=30)
