import datetime as dt

import pytest
from django.utils import timezone

from intercepts.models import Intercept
from intercepts.services import intercepts_expire
from smsconsole import clock
from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db


def make(expires_in: dt.timedelta):
    now = timezone.now()
    return InterceptFactory(intercepted_at=now - dt.timedelta(days=40), expires_at=now + expires_in)


def test_expiry_deletes_records_past_the_grace_period_only(settings):
    settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS = 7
    live = make(dt.timedelta(hours=1))
    recently_expired = make(-dt.timedelta(days=1))
    long_expired = [make(-dt.timedelta(days=8)) for _ in range(25)]
    assert intercepts_expire(batch_size=10) == 25
    assert set(Intercept.objects.values_list("pk", flat=True)) == {live.pk, recently_expired.pk}
    assert not any(Intercept.objects.filter(pk=r.pk).exists() for r in long_expired)


def test_expiry_is_safe_to_run_twice_and_with_nothing_to_do(settings):
    settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS = 0
    make(-dt.timedelta(seconds=1))
    assert intercepts_expire() == 1
    assert intercepts_expire() == 0


def test_expiry_follows_the_clock(settings):
    settings.SMS_INTERCEPT_EXPIRED_GRACE_DAYS = 0
    record = make(dt.timedelta(hours=1))
    assert intercepts_expire() == 0
    with clock.frozen(record.expires_at + dt.timedelta(seconds=1)):
        assert intercepts_expire() == 1
