"""Accounts (tenants), their operators, and their API credentials (SMS_USERs)."""

import hashlib
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(zone)s is not a known time zone."), params={"zone": value}) from None


def validate_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(_("%(region)s is not a phone region code."), params={"region": value})


class Account(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Tokyo", validators=[validate_time_zone]
    )
    default_region = models.CharField(
        _("default phone region"), max_length=2, default="JP", validators=[validate_region]
    )
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    default_channel = models.ForeignKey(
        "delivery.Channel",
        verbose_name=_("default channel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended"]), name="account_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Membership(models.Model):
    """Makes a Django user an operator of exactly one account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="membership",
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("operator membership")
        verbose_name_plural = _("operator memberships")

    def __str__(self) -> str:
        return f"{self.user} → {self.account.slug}"


API_KEY_PREFIX = "sk_"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256 random bits, so one SHA-256 is enough: no dictionary to defend against, and
    # the lookup stays a single indexed equality on every API call.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class SmsUser(models.Model):
    """An account's API credential. Every message records the SMS_USER that submitted it."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="sms_users"
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        validators=[RegexValidator(r"^\S(.*\S)?$", _("Name cannot start or end with spaces."))],
    )
    key_hash = models.CharField(_("API key hash"), max_length=64, unique=True, editable=False)
    key_hint = models.CharField(
        _("API key starts with"), max_length=12, editable=False, help_text=_("To recognise a key.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS_USER")
        verbose_name_plural = _("SMS_USERs")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="sms_user_name_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name

    # DRF treats the authenticated principal as request.user.
    is_authenticated = True


class IdempotencyKey(models.Model):
    """A send request's `Idempotency-Key` and the answer it got, so a retry gets that answer again.

    Written in the same transaction as the messages it answered: a crash leaves both or neither.
    Keys stop counting after a day (`smsconsole.idempotency.IDEMPOTENCY_KEY_LIFETIME`) and are purged."""

    # The unique constraint below starts with the account and serves as its index.
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sms_user = models.ForeignKey(
        SmsUser, verbose_name=_("SMS_USER"), on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(
        _("request hash"), max_length=64, help_text=_("SHA-256 of the request body's canonical JSON.")
    )
    response_status = models.PositiveSmallIntegerField(_("response status"))
    response_body = models.JSONField(_("response body"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            # Two requests racing with one key: the second insert waits for the first to commit, then
            # fails here, and that request answers with the winner's answer.
            models.UniqueConstraint(
                fields=["account", "sms_user", "key"], name="idempotency_key_unique_per_sms_user"
            )
        ]
        indexes = [
            # The purge job's range scan over every account (an exception to account-first indexes).
            models.Index(fields=["created_at"], name="idempotency_key_created"),
        ]

    def __str__(self) -> str:
        return f"{self.sms_user} {self.key}"


class ListColumnChoice(models.Model):
    """Which optional columns of one console list a user shows (the list's column chooser).

    Kept per user, not per session, so the choice survives logging in again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    list_name = models.CharField(_("list"), max_length=50)
    # {column name: shown?}; a column not named shows or hides as the list's default says.
    columns = models.JSONField(_("columns"), default=dict)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("list column choice")
        verbose_name_plural = _("list column choices")
        constraints = [
            # Also the index of the one lookup: (user, list).
            models.UniqueConstraint(fields=["user", "list_name"], name="list_column_choice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.list_name}"


class ExportJob(models.Model):
    """A CSV export too big to stream within a request: a worker writes the file, the operator downloads it.

    The file is what the streamed export would have sent for the same filter at `created_at`:
    the same columns, labels (in `language`), escaping, time zone and BOM."""

    class ListName(models.TextChoices):
        MESSAGES = "messages", _("SMS status")
        INTERCEPTS = "intercepts", _("Intercept list")
        REPLIES = "replies", _("Replies")
        UNSUBSCRIBES = "unsubscribes", _("Unsubscribe list")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    # The index below starts with the account and serves as its index.
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    list_name = models.CharField(_("list"), max_length=20, choices=ListName)
    # The list's query string as the operator submitted it (filter, sort, bom), run again by the job.
    query = models.TextField(_("filter"), blank=True)
    with_bom = models.BooleanField(_("with BOM"), default=False)
    # The language of the request: the CSV's headers and labels are in it.
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.QUEUED)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    # Counted when the job starts: only for the progress bar (the file has every row however many).
    rows_expected = models.PositiveBigIntegerField(_("rows expected"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # A plain sentence for the customer; the technical detail goes to the log.
    error = models.TextField(_("error"), blank=True)
    # The file's name in SMS_EXPORT_DIR (not the name it downloads as).
    file_name = models.CharField(_("file name"), max_length=100, blank=True)
    file_size = models.PositiveBigIntegerField(_("file size"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="export_job_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(list_name__in=["messages", "intercepts", "replies", "unsubscribes"]),
                name="export_job_list_name_valid",
            ),
        ]
        indexes = [
            # The account's exports page, newest first.
            models.Index(fields=["account", "-created_at"], name="export_job_account_created"),
            # The purge job's range scan over every account (an exception to account-first indexes).
            models.Index(fields=["created_at"], name="export_job_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_list_name_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.DONE and bool(self.file_name)

    @property
    def progress_percent(self) -> int | None:
        """How far the file is, 0-100; None while the number of rows is not known yet."""
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_expected:
            return None
        return min(100, self.rows_written * 100 // self.rows_expected)
