"""The Content-Security-Policy in a real browser: nothing on the console or the admin is blocked."""

import pytest

from tests.factories import InterceptFactory, MembershipFactory, MessageFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_csp(page) -> list[str]:
    """Chromium reports every resource or inline code the policy blocks as a console error."""
    blocked = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return blocked


def log_in(page, live_server, username, path="/login/"):
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("[type=submit]")
    page.wait_for_load_state()


def assert_styled(page):
    # console.css (or the admin's CSS) is applied: the header has its colour, not the browser's none.
    background = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)")


def test_console_pages_work_under_the_policy(page, live_server):
    account = MembershipFactory(user__username="alice", account__slug="alice").account
    message = MessageFactory(account=account, status="send_failed", reason="busy", return_code=530)
    InterceptFactory(account=account, phone=message.phone)
    blocked = watch_csp(page)

    log_in(page, live_server, "alice")
    pages = ["/status/", f"/status/{message.pk}/", f"/numbers/{message.phone}/", "/intercepts/", "/replies/"]
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        assert_styled(page)
    page.click("button[name=language][value=ja]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "ja"
    assert blocked == []


def test_the_admin_works_under_the_policy(page, live_server):
    staff = StaffUserFactory(username="charlie")
    blocked = watch_csp(page)

    log_in(page, live_server, "charlie", path="/admin/login/?next=/admin/")
    for path in [
        "/admin/",
        "/admin/intercepts/intercept/",
        "/admin/auth/user/",
        f"/admin/auth/user/{staff.pk}/change/",
        "/admin/axes/accessattempt/",
    ]:
        page.goto(f"{live_server.url}{path}")
        assert_styled(page)
    # The admin's scripts run: the sidebar's filter box narrows the models listed.
    page.goto(f"{live_server.url}/admin/auth/user/")
    page.fill("#nav-filter", "zzz-no-such-model")
    assert page.locator("#nav-sidebar tr.model-user").is_hidden()
    assert blocked == []
