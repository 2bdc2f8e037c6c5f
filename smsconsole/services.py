"""Writes for accounts, operators and SMS_USERs."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from smsconsole import clock
from smsconsole.exceptions import ServiceError, full_clean_or_refuse
from smsconsole.models import Account, ListColumnChoice, Membership, SmsUser, generate_api_key, hash_api_key


def account_create(
    *,
    slug: str,
    name: str = "",
    time_zone: str = "Asia/Tokyo",
    default_region: str = "JP",
    default_channel=None,
) -> Account:
    """Create an active account."""
    account = Account(
        slug=slug,
        name=name or slug,
        time_zone=time_zone,
        default_region=default_region,
        default_channel=default_channel,
    )
    full_clean_or_refuse(account)
    account.save()
    return account


def sms_user_create(*, account: Account, name: str) -> tuple[SmsUser, str]:
    """Create an SMS_USER and return it with its API key, which is not stored and never shown again."""
    raw_key = generate_api_key()
    sms_user = SmsUser(account=account, name=name, key_hash=hash_api_key(raw_key), key_hint=raw_key[:10])
    full_clean_or_refuse(sms_user)
    sms_user.save()
    return sms_user, raw_key


def sms_user_rotate_key(*, sms_user: SmsUser) -> str:
    """Give an SMS_USER a new API key; the old one stops working at once."""
    raw_key = generate_api_key()
    sms_user.key_hash = hash_api_key(raw_key)
    sms_user.key_hint = raw_key[:10]
    sms_user.save(update_fields=["key_hash", "key_hint"])
    return raw_key


@transaction.atomic
def operator_create(*, account: Account, username: str, password: str, email: str = ""):
    """Create a Django user who operates `account` in the console."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ServiceError(f"A user named {username!r} already exists.", errors={"username": ["taken"]})
    user = User(username=username, email=email)
    full_clean_or_refuse(user, exclude=["password"])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), errors={"password": exc.messages}) from None
    user.set_password(password)
    user.save()
    Membership.objects.create(user=user, account=account)
    return user


def list_column_choice_save(*, user, list_name: str, columns: dict[str, bool] | None) -> None:
    """Remember which optional columns `user` shows in one list; None forgets it (the defaults again)."""
    if columns is None:
        ListColumnChoice.objects.filter(user=user, list_name=list_name).delete()
        return
    ListColumnChoice.objects.update_or_create(
        user=user,
        list_name=list_name,
        defaults={
            "columns": {name: bool(shown) for name, shown in columns.items()},
            "updated_at": clock.now(),
        },
    )
