"""The dashboard in a real browser: Chart.js (served from static/) draws both charts from the page's
json_script data, and the Content-Security-Policy blocks nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_security_browser import watch_csp
from tests.factories import MembershipFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_charts_draw_under_the_policy(page, live_server):
    account = MembershipFactory(user__username="alice", account__slug="alice").account
    for hours, fields in [
        (1, {"status": "delivered"}),
        (30, {"status": "send_failed", "reason": "busy", "return_code": 530}),
        (50, {"status": "processing_failed", "reason": "local_intercept"}),
    ]:
        MessageFactory(account=account, requested_at=timezone.now() - dt.timedelta(hours=hours), **fields)
    blocked = watch_csp(page)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/login/?next=/dashboard/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct-horse-battery")
    page.press("#id_password", "Enter")  # the form's own submit (the first button is the language's)
    page.wait_for_url("**/dashboard/")
    page.wait_for_load_state("load")  # the deferred scripts have run

    datasets = page.evaluate(
        "Chart.getChart(document.getElementById('status-chart')).data.datasets.map(d => d.label)"
    )
    assert "Delivered" in datasets and "Delivery rate (%)" in datasets
    reasons = page.evaluate("Chart.getChart(document.getElementById('reason-chart')).data.datasets.length")
    assert reasons == 2
    assert blocked == [] and errors == []
