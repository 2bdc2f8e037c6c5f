"""Reads about accounts, operators, SMS_USERs and background exports."""

from django.db.models import QuerySet

from smsconsole.models import Account, ExportJob, ListColumnChoice, SmsUser

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


def row_count_capped(*, queryset: QuerySet, limit: int) -> int:
    """How many rows `queryset` has, counting no further than `limit + 1`.

    `SELECT count(*) FROM (… LIMIT limit + 1)` stops reading the index there: an export only needs
    to know whether it is small enough to stream, not the exact size of a million-row filter."""
    return queryset.order_by().values("pk")[: limit + 1].count()


def export_job_list(*, account: Account) -> QuerySet:
    """The account's export jobs, newest first."""
    return (
        ExportJob.objects.filter(account=account)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")
    )


def export_job_get(*, account: Account, job_id: int) -> ExportJob | None:
    """The account's export job `job_id`; None for another account's (or a purged) job."""
    return ExportJob.objects.filter(account=account, pk=job_id).select_related("account").first()
