import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from intercepts.models import Intercept, InterceptRule, Scope
from tests.factories import InterceptFactory

HOUR = 3600

EXPECTED_RULES = [
    (500, "invalid_number", 30 * 24 * HOUR, "global", True),
    (510, "suspended", HOUR, "global", True),
    (520, "blacklisted", HOUR, "local", True),
    (530, "busy", 0, "", True),
    (540, "no_answer", 0, "", True),
    (550, "content_intercepted", HOUR, "local", True),
    (560, "device_fault", HOUR, "global", True),
    (570, "out_of_service_area", HOUR, "global", True),
    (580, "powered_off", 0, "", True),
    (590, "other", 0, "", True),
]


@pytest.mark.django_db
def test_the_ten_default_rules_are_seeded_as_designed():
    rules = [
        (r.return_code, r.reason, r.duration_seconds, r.scope, r.is_customer_deletable)
        for r in InterceptRule.objects.order_by("return_code")
    ]
    assert rules == EXPECTED_RULES


@pytest.mark.django_db
def test_rule_scope_goes_with_a_duration():
    rule = InterceptRule(return_code=595, reason="other", duration_seconds=60, scope="")
    with pytest.raises(ValidationError):
        rule.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        rule.save()


@pytest.mark.django_db
def test_one_global_record_per_phone(account, other_account):
    InterceptFactory(phone="+819011112222", scope=Scope.GLOBAL, account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        InterceptFactory(phone="+819011112222", scope=Scope.GLOBAL, account=other_account)


@pytest.mark.django_db
def test_one_local_record_per_phone_and_originator(account, other_account):
    InterceptFactory(phone="+819011112222", scope=Scope.LOCAL, account=account)
    InterceptFactory(phone="+819011112222", scope=Scope.LOCAL, account=other_account)
    InterceptFactory(phone="+819011112222", scope=Scope.GLOBAL, account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        InterceptFactory(phone="+819011112222", scope=Scope.LOCAL, account=account)


@pytest.mark.django_db
def test_blocking_follows_scope_and_the_clock(account, other_account):
    now = InterceptFactory(phone="+819000000001", scope=Scope.LOCAL, account=account).intercepted_at
    InterceptFactory(phone="+819000000002", scope=Scope.GLOBAL, account=other_account)
    InterceptFactory(
        phone="+819000000003",
        scope=Scope.GLOBAL,
        account=account,
        intercepted_at=now - dt.timedelta(hours=2),
        expires_at=now - dt.timedelta(hours=1),
    )
    blocking_a = set(
        Intercept.objects.blocking(account_id=account.pk, at=now).values_list("phone", flat=True)
    )
    blocking_b = set(
        Intercept.objects.blocking(account_id=other_account.pk, at=now).values_list("phone", flat=True)
    )
    assert blocking_a == {"+819000000001", "+819000000002"}
    assert blocking_b == {"+819000000002"}
