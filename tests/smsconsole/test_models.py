import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from smsconsole.models import Account
from tests.factories import AccountFactory, SmsUserFactory


def test_account_status_labels():
    assert [(s.value, str(s.label)) for s in Account.Status] == [
        ("active", "Active"),
        ("suspended", "Suspended"),
    ]


@pytest.mark.django_db
def test_account_defaults_to_tokyo_and_japan():
    account = AccountFactory()
    assert account.time_zone == "Asia/Tokyo"
    assert account.default_region == "JP"
    assert account.is_active
    assert str(account) == f"{account.name} ({account.slug})"


@pytest.mark.django_db
def test_account_rejects_unknown_time_zone_and_region():
    account = AccountFactory.build(time_zone="Mars/Olympus", default_region="XX", default_channel=None)
    with pytest.raises(ValidationError) as excinfo:
        account.full_clean()
    assert set(excinfo.value.message_dict) == {"time_zone", "default_region"}


@pytest.mark.django_db
def test_account_status_is_constrained_in_the_database():
    account = AccountFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(status="deleted")


@pytest.mark.django_db
def test_sms_user_name_unique_per_account(account, other_account):
    SmsUserFactory(account=account, name="backend")
    SmsUserFactory(account=other_account, name="backend")
    with pytest.raises(IntegrityError), transaction.atomic():
        SmsUserFactory(account=account, name="backend")
