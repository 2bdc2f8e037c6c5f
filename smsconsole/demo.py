"""The demo a fresh `make run` loads: accounts, people to log in as, and (with the pipeline) traffic."""

from django.contrib.auth import get_user_model
from django.db import transaction

from smsconsole.models import Account
from smsconsole.services import account_create, operator_create

DEMO_OPERATOR = ("demo", "demo-password")
DEMO_STAFF = ("staff", "staff-password")


def demo_is_loaded() -> bool:
    return Account.objects.exists()


@transaction.atomic
def demo_people_create() -> Account:
    """The demo account, its operator and a staff user."""
    account = account_create(slug="acme-shop", name="ACME Online Shop")
    operator_create(account=account, username=DEMO_OPERATOR[0], password=DEMO_OPERATOR[1])
    get_user_model().objects.create_superuser(
        username=DEMO_STAFF[0], password=DEMO_STAFF[1], email="staff@example.com"
    )
    return account
