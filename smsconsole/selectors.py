"""Reads about accounts, operators and SMS_USERs."""

from smsconsole.models import Account, ListColumnChoice, SmsUser

STAFF_ACCOUNT_SESSION_KEY = "console_account_id"


def console_account_for(request) -> Account | None:
    """The account whose data the console shows: the operator's own, or the one staff switched to."""
    user = request.user
    if not user.is_authenticated:
        return None
    if user.is_staff:
        account_id = request.session.get(STAFF_ACCOUNT_SESSION_KEY)
        account = Account.objects.filter(pk=account_id).first() if account_id else None
        return account or Account.objects.order_by("slug").first()
    membership = getattr(user, "membership", None)
    return membership.account if membership else None


def account_list_for_staff():
    return Account.objects.order_by("slug")


def sms_user_list(*, account: Account):
    return SmsUser.objects.filter(account=account).order_by("name")


def list_column_choice_get(*, user, list_name: str) -> dict[str, bool]:
    """A user's remembered column choice for one list ({column: shown?}); {} for the list's defaults."""
    if not user.is_authenticated:
        return {}
    columns = (
        ListColumnChoice.objects.filter(user=user, list_name=list_name)
        .values_list("columns", flat=True)
        .first()
    )
    return columns if isinstance(columns, dict) else {}
