"""Intercept records from send failures: one record per (number, scope, originator), which a later
failure extends but never shortens. Driven by receipts through the webhook, as the carrier sends them."""

import datetime as dt

import pytest
from django.utils import timezone

from intercepts.models import Intercept, InterceptEvent
from smsconsole import clock
from tests.delivery.test_receipts import awaiting, post_receipts, receipt
from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db


def history(record) -> list[str]:
    return list(
        InterceptEvent.objects.filter(intercept_id=record.pk).order_by("id").values_list("kind", flat=True)
    )


def test_a_later_shorter_failure_does_not_shorten_a_live_intercept(account, simulator):
    first, second = awaiting(account, "m1"), awaiting(account, "m2")
    failed_at = timezone.now() - dt.timedelta(minutes=10)
    post_receipts(
        simulator, receipt("m1", "failed", code=500, done_at=failed_at, detail="UNKNOWN SUBSCRIBER")
    )
    # 510 intercepts for an hour, far less than what is left of 500's thirty days.
    post_receipts(simulator, receipt("m2", "failed", code=510, done_at=timezone.now(), detail="SUSPENDED"))

    [record] = Intercept.objects.filter(phone=first.phone)
    assert record.expires_at == failed_at + dt.timedelta(days=30)
    assert (record.return_code, record.reason, record.source_message_id) == (510, "SUSPENDED", second.pk)
    assert history(record) == ["created", "extended"]


def test_a_later_longer_failure_lengthens_the_intercept(account, simulator):
    awaiting(account, "m1")
    awaiting(account, "m2")
    now = timezone.now()
    post_receipts(simulator, receipt("m1", "failed", code=510, done_at=now - dt.timedelta(minutes=10)))
    post_receipts(simulator, receipt("m2", "failed", code=500, done_at=now))

    record = Intercept.objects.get()
    assert record.expires_at == now + dt.timedelta(days=30)
    assert record.intercepted_at == now - dt.timedelta(minutes=10)  # first blocked then


def test_a_failure_on_an_expired_record_starts_it_again(account, other_account, simulator):
    now = timezone.now()
    # Over two hours ago, not tidied away yet (the expiry job keeps it visible for a grace period).
    expired = InterceptFactory(
        account=account,
        scope="global",
        phone="+819011112222",
        return_code=510,
        intercepted_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=2),
    )
    awaiting(other_account, "m2")

    post_receipts(simulator, receipt("m2", "failed", code=510, done_at=now, detail="SUSPENDED AGAIN"))

    record = Intercept.objects.get()
    assert record.pk == expired.pk
    assert (record.intercepted_at, record.expires_at) == (now, now + dt.timedelta(hours=1))
    assert record.account_id == other_account.pk and record.reason == "SUSPENDED AGAIN"  # its new origin
    assert history(record) == ["created"]


def test_an_old_failure_whose_intercept_would_be_over_creates_nothing(account, simulator):
    message = awaiting(account, "m1")
    post_receipts(
        simulator, receipt("m1", "failed", code=510, done_at=timezone.now() - dt.timedelta(hours=2))
    )

    message.refresh_from_db()
    assert message.status == "send_failed" and message.return_code == 510
    assert not Intercept.objects.exists()


def test_two_failures_of_one_batch_make_one_record(account, simulator):
    awaiting(account, "m1")
    awaiting(account, "m2")
    now = timezone.now()
    with clock.frozen(now):
        post_receipts(
            simulator,
            receipt("m1", "failed", code=510, done_at=now),
            receipt("m2", "failed", code=500, done_at=now),
        )

    record = Intercept.objects.get()
    assert record.expires_at == now + dt.timedelta(days=30) and record.return_code == 500
    assert history(record) == ["created", "extended"]
