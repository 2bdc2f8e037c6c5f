"""Every console list fits a 1280 × 800 screen, in both languages, with every action in view.

What a person sees: no sideways scroll for a list's default columns, each row's buttons on screen,
the column chooser remembered after logging in again, the key column kept in view when a wide
choice of columns scrolls, several intercept records deleted at once, the period presets."""

import datetime as dt

import pytest
from django.utils import timezone

from intercepts.models import Intercept, InterceptEvent
from tests.factories import (
    InterceptFactory,
    MembershipFactory,
    MessageFactory,
    ReplyFactory,
    TemplateFactory,
    UnsubscribeFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1280, 800
LISTS = ["/status/", "/intercepts/", "/replies/", "/unsubscribes/"]
# Buttons and links a row or the list offers; each one on the page must be on screen.
ACTIONS = (
    "table.result-list a.button, table.result-list button, .bulk-actions .button, .column-chooser > summary"
)


@pytest.fixture
def busy_account(db):
    """An account with the widest values the lists show: long statuses, reasons, replies, names."""
    account = MembershipFactory(
        user__username="alice", account__name="Alice Online Shop", account__slug="alice"
    ).account
    other = MembershipFactory(user__username="bob", account__slug="bob").account
    now = timezone.now()
    template = TemplateFactory(account=account, name="order-shipped-notification", type="notification")
    for minutes, status, reason, code in [
        (1, "send_failed", "content_intercepted", 550),
        (2, "send_failed", "out_of_service_area", 570),
        (3, "processing_failed", "variable_error", None),
        (4, "processing_failed", "global_intercept", None),
        (5, "delivered", "", None),
        (6, "awaiting_receipt", "", None),
    ]:
        at = now - dt.timedelta(minutes=minutes)
        MessageFactory(
            account=account,
            template=template,
            status=status,
            reason=reason,
            return_code=code,
            tag="black-friday-2026",
            requested_at=at,
            channel_delivered_at=at,
            receipt_at=at if status in ("delivered", "send_failed") else None,
            updated_at=at,
        )
    InterceptFactory(
        account=account,
        scope="local",
        return_code=550,
        reason="CONTENT_REJECTED: the message was blocked by the carrier's content filter",
    )
    InterceptFactory(
        account=account, scope="global", return_code=570, reason="ABSENT_SUBSCRIBER: out of coverage"
    )
    blocked_by = InterceptFactory(account=other, scope="global", return_code=500, reason="UNKNOWN_SUBSCRIBER")
    MessageFactory(
        account=account, status="processing_failed", reason="global_intercept", blocking_intercept=blocked_by
    )
    for content in [
        "配信停止",
        "Please stop sending me these messages, I never signed up for this shop's newsletter at all",
        "ありがとうございます。明日の午前中に受け取りに伺いますので、よろしくお願いいたします。",
    ]:
        reply = ReplyFactory(account=account, template=template, tag="black-friday-2026", content=content)
        UnsubscribeFactory(account=account, phone=reply.phone, source_reply=reply)
    return account


def log_in(page, live_server, username="alice"):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit].default")
    page.wait_for_url(f"{live_server.url}/status/**")


def set_language(page, code):
    page.click(f"form.lang-switch button[value={code}]")
    page.wait_for_load_state()


@pytest.fixture
def screen(browser):
    context = browser.new_context(locale="en-US", viewport={"width": WIDTH, "height": HEIGHT})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def table_fit(page) -> dict:
    return page.evaluate(
        """() => {
          const table = document.querySelector('table.result-list');
          const box = document.querySelector('.table-container');
          return {table: table.getBoundingClientRect().width, container: box.clientWidth,
                  scroll: box.scrollWidth, page: document.documentElement.scrollWidth,
                  rows: table.querySelectorAll('tbody tr').length};
        }"""
    )


def assert_actions_on_screen(page, path):
    actions = page.locator(ACTIONS)
    assert actions.count() > 0, path
    for index in range(actions.count()):
        action = actions.nth(index)
        action.scroll_into_view_if_needed()
        box = action.bounding_box()
        assert action.is_visible(), (path, action.inner_text())
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (path, action.inner_text(), box)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_list_fits_1280_px_with_its_actions_in_view(screen, live_server, busy_account, language):
    log_in(screen, live_server)
    set_language(screen, language)
    for path in LISTS:
        query = "?preset=7d" if path in ("/status/", "/replies/") else ""
        screen.goto(f"{live_server.url}{path}{query}")
        fit = table_fit(screen)
        assert fit["rows"] > 1, path
        assert fit["table"] <= fit["container"], (path, fit)
        assert fit["scroll"] <= fit["container"], (path, fit)  # no sideways scroll in the table
        assert fit["page"] <= WIDTH, (path, fit)  # nor of the page
        assert_actions_on_screen(screen, path)
    screen.goto(f"{live_server.url}/intercepts/")
    assert screen.locator("a.deletelink").count() == 2  # the account's own, live records
    assert screen.locator("[data-testid=delete-selected]").is_visible()


def test_the_column_choice_survives_a_new_login_and_the_key_column_stays_in_view(
    browser, live_server, busy_account
):
    context = browser.new_context(locale="en-US", viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    log_in(page, live_server)
    set_language(page, "en")
    page.click(".column-chooser summary")
    for box in page.locator(".column-chooser-form input[name=column]").all():
        box.check()
    page.click(".column-chooser-form button.default")
    page.wait_for_load_state()
    assert page.locator("table.result-list th", has_text="Channel delivery time").count() == 1
    context.close()

    # A new browser, a new login: the choice is the user's, not the session's.
    context = browser.new_context(locale="en-US", viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    log_in(page, live_server)
    set_language(page, "en")
    headers = page.locator("table.result-list thead th").all_inner_texts()
    assert any("CHANNEL DELIVERY TIME" in header.upper() for header in headers)
    assert any("MESSAGE COUNT" in header.upper() for header in headers)

    # Every column is wider than the screen: the table scrolls, the ID (the row's link) stays put.
    fit = table_fit(page)
    assert fit["scroll"] > fit["container"]
    assert fit["page"] <= WIDTH
    key = page.locator("table.result-list tbody tr").first.locator("td.key")
    before = key.bounding_box()["x"]
    page.evaluate("document.querySelector('.table-container').scrollLeft = 10000")
    assert abs(key.bounding_box()["x"] - before) < 1
    assert key.locator("a").is_visible()
    context.close()


def test_select_several_intercept_records_and_delete_them_in_one_step(screen, live_server, busy_account):
    log_in(screen, live_server)
    set_language(screen, "en")
    screen.goto(f"{live_server.url}/intercepts/")
    own = list(Intercept.objects.filter(account=busy_account).values_list("pk", flat=True))

    screen.check("th.select input[data-select-all]")  # static/console/select.js ticks every row
    assert screen.locator("input[name=intercept]:checked").count() == len(own) == 2
    screen.click("[data-testid=delete-selected]")
    screen.wait_for_url("**/intercepts/delete/**")
    assert screen.locator("[data-testid=records-to-delete] tbody tr").count() == 2
    assert Intercept.objects.filter(pk__in=own).count() == 2  # asking is not deleting
    screen.click("text=Yes, delete all 2")
    screen.wait_for_url("**/intercepts/")

    assert "2 intercept records were deleted." in screen.inner_text(".messagelist")
    assert not Intercept.objects.filter(pk__in=own).exists()
    assert InterceptEvent.objects.filter(intercept_id__in=own, kind="deleted", source="console").count() == 2
    assert Intercept.objects.count() == 1  # the other account's global record stays


@pytest.mark.parametrize("language, label", [("en", "7 days"), ("ja", "7日間")])
def test_a_period_preset_sets_the_period_in_the_pages_format(
    screen, live_server, busy_account, language, label
):
    MessageFactory(account=busy_account, tag="last-week", requested_at=timezone.now() - dt.timedelta(days=5))
    log_in(screen, live_server)
    set_language(screen, language)
    screen.fill("#id_tag", "last-week")

    screen.click(f"#changelist-filter button[name=preset] >> text={label}")
    screen.wait_for_url("**preset=7d**")

    assert screen.locator("table.result-list tbody tr").count() == 1
    shown = screen.input_value("#id_requested_from")
    start = timezone.localtime(timezone.now() - dt.timedelta(days=7), busy_account.zone)
    assert shown == start.strftime("%Y/%m/%d %H:%M" if language == "ja" else "%Y-%m-%d %H:%M")
    assert screen.input_value("#id_tag") == "last-week"  # the other filters are kept


@pytest.mark.parametrize("language, heading", [("en", "Page not found"), ("ja", "ページが見つかりません")])
def test_an_unknown_address_shows_the_consoles_404(
    screen, live_server, busy_account, settings, language, heading
):
    settings.DEBUG = True  # as `make run` serves it
    log_in(screen, live_server)
    set_language(screen, language)

    response = screen.goto(f"{live_server.url}/no-such-page/")

    assert response.status == 404
    assert screen.inner_text("h1") == heading
    assert "URLconf" not in screen.content()
    assert screen.locator("#nav-sidebar").is_visible()
