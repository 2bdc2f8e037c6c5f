"""What an operator and a staff member see of a message's send log, in a real browser at 1280 px."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, MessageEventFactory, MessageFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ERROR = "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Connection refused"


@pytest.fixture
def outage_message(db):
    account = MembershipFactory(user__username="alice", account__slug="alice").account
    start = timezone.now() - dt.timedelta(hours=6)
    message = MessageFactory(
        account=account,
        status="processing_failed",
        reason="other",
        requested_at=start,
        updated_at=start + dt.timedelta(hours=5),
        failure_detail="The carrier connection was unavailable; the platform retried 3 times over 5 hours.",
    )
    MessageEventFactory(message=message, at=start, kind="requested", detail={"sms_user": "backend"})
    for attempt, hours in enumerate([0, 2, 5], start=1):
        MessageEventFactory(
            message=message,
            at=start + dt.timedelta(hours=hours),
            kind="channel_error",
            detail={"channel": "b", "attempt": attempt, "error": ERROR},
        )
    MessageEventFactory(
        message=message,
        at=start + dt.timedelta(hours=5),
        kind="check_failed",
        detail={"reason": "other", "problem": "channel_unavailable", "attempts": 3},
    )
    return message


def log_in(page, live_server, username, password="correct-horse-battery"):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].default")
    page.wait_for_url(f"{live_server.url}/status/**")


@pytest.fixture
def narrow_page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_a_customer_reads_the_outage_as_a_sentence_in_both_languages(
    narrow_page, live_server, outage_message
):
    page = narrow_page
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/status/{outage_message.pk}/")

    log = page.get_by_test_id("send-log")
    text = page.locator("#content").inner_text()
    assert (
        "The carrier connection was unavailable; the platform retried 3 times over 5 hours."
        in log.inner_text()
    )
    assert "HTTPConnectionPool" not in page.content()
    assert "Technical detail" not in text
    lines = log.locator("> li")
    assert lines.count() == 3  # requested, the three attempts as one line, the failure
    assert "Not sent" in lines.nth(2).inner_text()
    # The log fits the page: no line runs wider than the content column.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    page.click("button[lang=ja]")
    page.wait_for_load_state()
    assert (
        "キャリアに接続できませんでした。5時間にわたり3回再試行しました。"
        in page.get_by_test_id("send-log").inner_text()
    )


def test_staff_open_the_technical_detail(narrow_page, live_server, outage_message):
    StaffUserFactory(username="charlie")
    page = narrow_page
    log_in(page, live_server, "charlie")
    page.goto(f"{live_server.url}/status/{outage_message.pk}/")

    details = page.locator("li[data-kind=channel_error]").get_by_test_id("technical-detail")
    assert not details.locator("ul").is_visible()
    details.locator("summary").click()
    assert details.inner_text().count("HTTPConnectionPool") == 3  # each attempt's error
