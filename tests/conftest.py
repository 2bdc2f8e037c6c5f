import os

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation

from tests.factories import AccountFactory, MembershipFactory, SmsUserFactory, StaffUserFactory


@pytest.fixture
def account(db):
    return AccountFactory(slug="alice-shop", name="Alice Shop")


@pytest.fixture
def other_account(db):
    return AccountFactory(slug="bob-bank", name="Bob Bank")


@pytest.fixture
def operator(account):
    return MembershipFactory(account=account, user__username="alice").user


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def other_operator_client(other_account):
    client = Client()
    client.force_login(MembershipFactory(account=other_account, user__username="bob").user)
    return client


@pytest.fixture
def staff_user(db):
    return StaffUserFactory(username="charlie")


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def sms_user(account):
    return SmsUserFactory(account=account, name="backend")


@pytest.fixture
def other_sms_user(other_account):
    return SmsUserFactory(account=other_account, name="bob-backend")


# --- pipeline -------------------------------------------------------------------------------------


@pytest.fixture
def api(sms_user):
    """An API client authenticated as the account's SMS_USER."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sms_user.raw_key}")
    return client


@pytest.fixture
def other_api(other_sms_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_sms_user.raw_key}")
    return client


@pytest.fixture
def simulator(account):
    """The account's default channel: the embedded simulator."""
    return account.default_channel


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no API request counted (the counters live in the process's cache)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def english_outside_requests():
    """Code run outside a request speaks English; requests still pick their language (default ja).

    The Japanese catalogue (locale/ja) would otherwise translate model labels in plain test code,
    since LANGUAGE_CODE is "ja".
    """
    with translation.override("en"):
        yield


def pytest_collection_modifyitems(items):
    """Every transactional test starts from the migrated data; PostgreSQL-only tests skip on SQLite.

    A transactional test ends by flushing the database, rows seeded by migrations included
    (intercept rules, default frequency rules, unsubscribe keywords, SMPP mappings), so without
    this a transactional test would see them only if it happened to run first.
    """
    from django.db import connection

    needs_postgresql = pytest.mark.skip(reason=NEEDS_POSTGRESQL)
    for item in items:
        if item.get_closest_marker("postgresql") and connection.vendor != "postgresql":
            item.add_marker(needs_postgresql)
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and "serialized_rollback" not in marker.kwargs:
            item.add_marker(
                pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True), append=False
            )


# --- skips: fine on a developer's machine, a failure in CI ---------------------------------------
# A developer without chromium, Kannel, Redis or PostgreSQL still gets a green run of everything
# else, and pytest says what it skipped. CI exports STRICT_SKIPS=1 (.ci/run): there a skip is a
# failure, so a CI that never ran the browser, Kannel or PostgreSQL tests cannot pass. The one skip
# allowed is a test marked `postgresql` on the SQLite leg, which exists to run without it (the
# PostgreSQL leg runs it, and allows no skip at all).

NEEDS_POSTGRESQL = "needs PostgreSQL (set DATABASE_URL=postgres://...)"


def _skip_is_allowed(item) -> bool:
    from django.db import connection

    return item.get_closest_marker("postgresql") is not None and connection.vendor != "postgresql"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and os.environ.get("STRICT_SKIPS") == "1" and not _skip_is_allowed(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under STRICT_SKIPS=1 (CI), which allows no skip but a `postgresql` test on SQLite: "
            f"{reason}"
        )
    return report


# --- callbacks ------------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    """A customer's callback endpoint on 127.0.0.1: records every request, answers as told.

    `receiver.answers` is a list consumed one per request: an HTTP status, ("sleep", seconds) to
    answer 200 only after that long (a timeout), or ("drip", seconds) to dribble a byte every 0.1 s
    for that long; once empty, every request gets 200."""
    from tests.callbacks.receiver import Receiver

    with Receiver() as running:
        yield running


@pytest.fixture
def allow_private_callbacks(settings):
    """The local receiver is on loopback over http, as development allows."""
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True
    settings.SMS_CALLBACK_TIMEOUT_SECONDS = 1.0
