"""Intercept rules (what a return code does), intercept records, and their audited history."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from delivery.models import RETURN_CODE_MAX, RETURN_CODE_MIN, SEND_FAILED_REASONS, Message, Reason
from smsconsole.models import Account, SmsUser


class Scope(models.TextChoices):
    GLOBAL = "global", _("Global")
    LOCAL = "local", _("Local")


class InterceptRule(models.Model):
    """What a send failure with this return code does to the number. Data, so staff can tune it."""

    return_code = models.PositiveSmallIntegerField(
        _("return code"),
        unique=True,
        validators=[MinValueValidator(RETURN_CODE_MIN), MaxValueValidator(RETURN_CODE_MAX)],
    )
    reason = models.CharField(
        _("reason"), max_length=24, choices=[(r.value, r.label) for r in SEND_FAILED_REASONS]
    )
    duration_seconds = models.PositiveIntegerField(
        _("intercept for (seconds)"), help_text=_("0: the number is not intercepted.")
    )
    scope = models.CharField(_("scope"), max_length=8, choices=Scope, blank=True)
    is_customer_deletable = models.BooleanField(_("customer may delete"), default=True)
    is_permanent_failure = models.BooleanField(
        _("permanent failure"),
        default=False,
        help_text=_("Retrying will not help (the number itself is the problem)."),
    )
    suggested_action = models.CharField(_("suggested action"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("intercept rule")
        verbose_name_plural = _("intercept rules")
        ordering = ["return_code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(return_code__gte=RETURN_CODE_MIN, return_code__lte=RETURN_CODE_MAX),
                name="intercept_rule_code_range",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=SEND_FAILED_REASONS), name="intercept_rule_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds=0, scope="") | Q(duration_seconds__gt=0, scope__in=Scope.values),
                name="intercept_rule_scope_iff_duration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.return_code} {Reason(self.reason).label}"

    def clean(self):
        if self.duration_seconds and not self.scope:
            raise ValidationError({"scope": _("A rule that intercepts needs a scope.")})
        if not self.duration_seconds and self.scope:
            raise ValidationError({"scope": _("A rule that does not intercept has no scope.")})

    @property
    def intercepts(self) -> bool:
        return self.duration_seconds > 0

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.duration_seconds)


class InterceptQuerySet(models.QuerySet):
    def live(self, at: dt.datetime):
        return self.filter(expires_at__gt=at)

    def expired(self, at: dt.datetime):
        return self.filter(expires_at__lte=at)

    def blocking(self, *, account_id: int, at: dt.datetime):
        """Records that block `account_id` at `at`: any global one, and its own local ones."""
        return self.live(at).filter(Q(scope=Scope.GLOBAL) | Q(scope=Scope.LOCAL, account_id=account_id))


class Intercept(models.Model):
    phone = models.CharField(_("phone number"), max_length=16)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope)
    account = models.ForeignKey(
        Account,
        verbose_name=_("originating account"),
        on_delete=models.CASCADE,
        related_name="intercepts",
        db_index=False,
    )
    return_code = models.PositiveSmallIntegerField(_("return code"))
    reason = models.TextField(_("reason"), blank=True, help_text=_("The carrier's feedback, verbatim."))
    intercepted_at = models.DateTimeField(_("intercept time"))
    expires_at = models.DateTimeField(_("expiry"))
    updated_at = models.DateTimeField(_("updated at"))
    # Soft reference: messages are purged after retention while a record may live on.
    source_message = models.ForeignKey(
        Message,
        verbose_name=_("source message"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    objects = InterceptQuerySet.as_manager()

    class Meta:
        verbose_name = _("intercept")
        verbose_name_plural = _("intercepts")
        indexes = [
            # The customer list: an account's own records, newest first.
            models.Index(fields=["account", "-intercepted_at", "-id"], name="intercept_account_time"),
            # The expiry job finds what to tidy without scanning live records.
            models.Index(fields=["expires_at"], name="intercept_expiry"),
        ]
        constraints = [
            # One record per number and scope (and originator, for local ones): a new failure
            # extends it. These unique indexes also serve the dispatch check by phone.
            models.UniqueConstraint(
                fields=["phone"], condition=Q(scope="global"), name="one_global_intercept_per_phone"
            ),
            models.UniqueConstraint(
                fields=["phone", "account"],
                condition=Q(scope="local"),
                name="one_local_intercept_per_phone_account",
            ),
            models.CheckConstraint(condition=Q(scope__in=Scope.values), name="intercept_scope_valid"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("intercepted_at")), name="intercept_expires_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.get_scope_display()}, {self.return_code})"

    def is_live(self, at: dt.datetime) -> bool:
        return self.expires_at > at


class InterceptEvent(models.Model):
    """The history of intercept records, kept after the record itself is gone.

    Deletions are the audit log: who deleted which record (with its fields), when, and from where.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        EXTENDED = "extended", _("Extended")
        DELETED = "deleted", _("Deleted")

    class Source(models.TextChoices):
        PIPELINE = "pipeline", _("Receipt pipeline")
        CONSOLE = "console", _("Console")
        API = "api", _("API")
        ADMIN = "admin", _("Admin")

    intercept_id = models.BigIntegerField(_("intercept record"))
    phone = models.CharField(_("phone number"), max_length=16)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope)
    account = models.ForeignKey(
        Account,
        verbose_name=_("originating account"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(_("event"), max_length=16, choices=Kind)
    at = models.DateTimeField(_("time"))
    source = models.CharField(_("from"), max_length=16, choices=Source)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_sms_user = models.ForeignKey(
        SmsUser,
        verbose_name=_("by SMS_USER"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_account = models.ForeignKey(
        Account,
        verbose_name=_("actor's account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The account whose activity caused this event."),
    )
    record = models.JSONField(_("record"), default=dict, help_text=_("The record's fields at this moment."))

    class Meta:
        verbose_name = _("intercept history")
        verbose_name_plural = _("intercept history")
        indexes = [
            models.Index(fields=["intercept_id", "at"], name="intercept_event_record"),
            models.Index(fields=["kind", "-at"], name="intercept_event_kind_time"),
            models.Index(fields=["phone", "-at"], name="intercept_event_phone_time"),
        ]

    def __str__(self) -> str:
        # In the zone the admin shows the entry's time in, not UTC.
        return f"{self.get_kind_display()} {self.phone} @ {timezone.localtime(self.at):%Y-%m-%d %H:%M}"

    @property
    def actor_display(self) -> str:
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_sms_user_id:
            return f"SMS_USER {self.actor_sms_user}"
        return str(self.get_source_display())


class InterceptDeletion(InterceptEvent):
    """The audit log of deletions, browsable read-only in admin."""

    class Meta:
        proxy = True
        verbose_name = _("intercept deletion (audit)")
        verbose_name_plural = _("intercept deletions (audit)")
