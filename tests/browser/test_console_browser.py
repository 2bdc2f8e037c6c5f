"""The console in a real browser: what an operator clicks through."""

import datetime as dt

import pytest
from django.utils import timezone

from intercepts.models import Intercept, InterceptEvent
from tests.factories import InterceptFactory, MembershipFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+819012345678"


@pytest.fixture
def operator_account(db):
    membership = MembershipFactory(user__username="alice", account__name="Alice Shop", account__slug="alice")
    return membership.account


def log_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit].default")
    page.wait_for_url(f"{live_server.url}/status/**")


def test_log_in_and_filter_by_reason(page, live_server, operator_account):
    now = timezone.now()
    busy = MessageFactory(
        account=operator_account,
        status="send_failed",
        reason="busy",
        return_code=530,
        requested_at=now - dt.timedelta(minutes=5),
    )
    MessageFactory(account=operator_account, status="delivered", requested_at=now - dt.timedelta(minutes=4))
    MessageFactory(
        account=operator_account,
        status="send_failed",
        reason="powered_off",
        return_code=580,
        requested_at=now - dt.timedelta(minutes=3),
    )

    log_in(page, live_server)
    assert page.locator("table.result-list tbody tr").count() == 3
    page.select_option("#id_reason", "busy")
    page.click("#changelist-filter button[type=submit]")
    page.wait_for_url("**reason=busy**")

    rows = page.locator("table.result-list tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-status") == "send_failed"
    assert f">{busy.pk}<" in rows.first.inner_html()
    assert "Busy (530)" in rows.first.inner_text()


def test_open_a_message_and_follow_its_intercept_link(page, live_server, operator_account):
    record = InterceptFactory(account=operator_account, scope="local", phone=PHONE, return_code=520)
    message = MessageFactory(
        account=operator_account,
        phone=PHONE,
        status="processing_failed",
        reason="local_intercept",
        blocking_intercept=record,
    )

    log_in(page, live_server)
    page.click(f"table.result-list a[href='/status/{message.pk}/']")
    page.wait_for_url(f"**/status/{message.pk}/")
    assert "Local intercept list" in page.inner_text("main")
    page.click("[data-testid=blocking-intercept]")

    page.wait_for_url(f"**/intercepts/{record.pk}/")
    assert "+81 90-1234-5678" in page.inner_text("main")
    assert "520 Blacklisted" in page.inner_text("main")


def test_delete_an_own_intercept_through_the_confirmation(page, live_server, operator_account):
    record = InterceptFactory(account=operator_account, scope="local", phone=PHONE, return_code=520)

    log_in(page, live_server)
    page.click("#nav-sidebar >> text=Intercept list")
    page.wait_for_url("**/intercepts/")
    page.click(f"tr[data-intercept='{record.pk}'] a.deletelink")
    page.wait_for_url(f"**/intercepts/{record.pk}/delete/")
    assert Intercept.objects.filter(pk=record.pk).exists()  # asking is not deleting
    page.click("text=Yes, delete it")
    page.wait_for_url("**/intercepts/")

    assert "was deleted" in page.inner_text(".messagelist")
    assert page.locator(f"tr[data-intercept='{record.pk}']").count() == 0
    assert not Intercept.objects.filter(pk=record.pk).exists()
    assert InterceptEvent.objects.filter(intercept_id=record.pk, kind="deleted", source="console").exists()


def test_a_period_of_31_days_is_an_error_on_the_page(page, live_server, operator_account):
    MessageFactory(account=operator_account)
    log_in(page, live_server)

    too_far = timezone.localtime(timezone.now() - dt.timedelta(days=31), operator_account.zone)
    page.fill("#id_requested_from", too_far.strftime("%Y-%m-%dT%H:%M"))
    page.click("#changelist-filter button[type=submit]")
    page.wait_for_load_state()

    assert "at most 30 days" in page.inner_text("#id_requested_from_errors")
    assert page.locator("table.result-list tbody tr td.empty").count() == 1


def test_switch_to_japanese(page, live_server, operator_account):
    MessageFactory(account=operator_account, status="delivered")
    log_in(page, live_server)
    assert page.inner_text("h1") == "SMS status"

    page.click("form.lang-switch button[value=ja]")
    page.wait_for_load_state()

    assert page.inner_text("h1") == "SMSステータス"
    assert "配信済み" in page.inner_text("table.result-list")
    page.reload()
    assert page.inner_text("h1") == "SMSステータス"  # the choice sticks
