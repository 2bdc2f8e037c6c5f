"""Channels, templates, messages and their send log, and the data the send checks use."""

import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smsconsole.models import Account, SmsUser


class MessageStatus(models.TextChoices):
    REQUESTING = "requesting", _("Requesting")
    AWAITING_RECEIPT = "awaiting_receipt", _("Awaiting receipt")
    DELIVERED = "delivered", _("Delivered")
    PROCESSING_FAILED = "processing_failed", _("Processing failed")
    SEND_FAILED = "send_failed", _("Send failed")


FINAL_STATUSES = (MessageStatus.DELIVERED, MessageStatus.PROCESSING_FAILED, MessageStatus.SEND_FAILED)


class Reason(models.TextChoices):
    """Why a message failed: the platform's checks first, then the channels' return codes."""

    # processing_failed, in the order the checks run
    GLOBAL_INTERCEPT = "global_intercept", _("Global intercept list")
    LOCAL_INTERCEPT = "local_intercept", _("Local intercept list")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    KEYWORD_FILTERED = "keyword_filtered", _("Keyword filtering")
    VARIABLE_ERROR = "variable_error", _("Variable substitution error")
    CONTENT_NONCOMPLIANT = "content_noncompliant", _("Content non-compliant")
    FREQUENCY_EXCEEDED = "frequency_exceeded", _("Frequency exceeded")
    OTHER = "other", _("Other")
    # send_failed (one per return code; 590 is OTHER above)
    INVALID_NUMBER = "invalid_number", _("Invalid number")
    SUSPENDED = "suspended", _("Suspended")
    BLACKLISTED = "blacklisted", _("Blacklisted")
    BUSY = "busy", _("Busy")
    NO_ANSWER = "no_answer", _("No answer")
    CONTENT_INTERCEPTED = "content_intercepted", _("Intercepted (template content)")
    DEVICE_FAULT = "device_fault", _("Device fault")
    OUT_OF_SERVICE_AREA = "out_of_service_area", _("Out of service area")
    POWERED_OFF = "powered_off", _("Powered off")


PROCESSING_FAILED_REASONS = (
    Reason.GLOBAL_INTERCEPT,
    Reason.LOCAL_INTERCEPT,
    Reason.UNSUBSCRIBED,
    Reason.KEYWORD_FILTERED,
    Reason.VARIABLE_ERROR,
    Reason.CONTENT_NONCOMPLIANT,
    Reason.FREQUENCY_EXCEEDED,
    Reason.OTHER,
)
SEND_FAILED_REASONS = (
    Reason.INVALID_NUMBER,
    Reason.SUSPENDED,
    Reason.BLACKLISTED,
    Reason.BUSY,
    Reason.NO_ANSWER,
    Reason.CONTENT_INTERCEPTED,
    Reason.DEVICE_FAULT,
    Reason.OUT_OF_SERVICE_AREA,
    Reason.POWERED_OFF,
    Reason.OTHER,
)
STATUS_REASONS = {
    MessageStatus.PROCESSING_FAILED: PROCESSING_FAILED_REASONS,
    MessageStatus.SEND_FAILED: SEND_FAILED_REASONS,
}


class ReturnCode(models.IntegerChoices):
    INVALID_NUMBER = 500, _("Invalid number")
    SUSPENDED = 510, _("Suspended")
    BLACKLISTED = 520, _("Blacklisted")
    BUSY = 530, _("Busy")
    NO_ANSWER = 540, _("No answer")
    CONTENT_INTERCEPTED = 550, _("Intercepted (template content)")
    DEVICE_FAULT = 560, _("Device fault")
    OUT_OF_SERVICE_AREA = 570, _("Out of service area")
    POWERED_OFF = 580, _("Powered off")
    OTHER = 590, _("Other")


RETURN_CODE_MIN, RETURN_CODE_MAX = 500, 599


class TemplateType(models.TextChoices):
    VERIFICATION = "verification", _("Verification")
    NOTIFICATION = "notification", _("Notification")
    MARKETING = "marketing", _("Marketing")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


def generate_webhook_secret() -> str:
    return secrets.token_hex(32)


class Channel(models.Model):
    class Kind(models.TextChoices):
        SIMULATOR = "simulator", _("Simulator")
        HTTP = "http", _("HTTP carrier API")
        KANNEL = "kannel", _("Kannel SMS gateway")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    send_url = models.URLField(_("send URL"), blank=True)
    # Kannel's sendsms takes a username and password (a `sendsms-user` group of its config); they
    # are stored like the webhook secret, and admin never shows the password.
    send_username = models.CharField(
        _("send username"), max_length=100, blank=True, help_text=_("Kannel: the sendsms-user's username.")
    )
    send_password = models.CharField(
        _("send password"), max_length=128, blank=True, help_text=_("Kannel: the sendsms-user's password.")
    )
    webhook_secret = models.CharField(_("webhook secret"), max_length=128, default=generate_webhook_secret)
    is_active = models.BooleanField(_("active"), default=True)
    # Channels that signed webhooks before the timestamped form existed keep working until their
    # carrier has moved to it; staff then switch this off and replays are refused.
    accepts_legacy_signatures = models.BooleanField(
        _("accepts legacy signatures"),
        default=False,
        help_text=_(
            "Also accept webhooks signed without X-Signature-Timestamp (HMAC of the body alone). "
            "Such requests can be replayed; switch this off once the carrier sends the timestamp."
        ),
    )
    simulated_failure_rate = models.FloatField(
        _("simulated failure rate"),
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Simulator only: share of ordinary numbers that fail, chosen by a seeded hash."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="simulator") | ~Q(send_url=""), name="http_channel_has_send_url"
            ),
            models.CheckConstraint(
                condition=~Q(kind="kannel") | (~Q(send_username="") & ~Q(send_password="")),
                name="kannel_channel_has_credentials",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self):
        if self.kind == self.Kind.HTTP and not self.send_url:
            raise ValidationError({"send_url": _("An HTTP channel needs a send URL.")})
        if self.kind == self.Kind.KANNEL:
            errors = {}
            if not self.send_url:
                errors["send_url"] = _("A Kannel channel needs smsbox's sendsms URL.")
            if not self.send_username:
                errors["send_username"] = _("A Kannel channel needs the sendsms-user's username.")
            if not self.send_password:
                errors["send_password"] = _("A Kannel channel needs the sendsms-user's password.")
            if errors:
                raise ValidationError(errors)


PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Template(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="templates"
    )
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("template type"), max_length=16, choices=TemplateType)
    body = models.TextField(_("body"), help_text=_("Use {{name}} for a variable."))
    approval_status = models.CharField(
        _("approval status"), max_length=16, choices=ApprovalStatus, default=ApprovalStatus.PENDING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="template_name_unique_per_account"),
            models.CheckConstraint(condition=Q(type__in=TemplateType.values), name="template_type_valid"),
            models.CheckConstraint(
                condition=Q(approval_status__in=ApprovalStatus.values),
                name="template_approval_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED

    @property
    def variable_names(self) -> list[str]:
        return list(dict.fromkeys(PLACEHOLDER_RE.findall(self.body)))


def _status_reason_constraint() -> Q:
    no_reason = Q(reason="", return_code__isnull=True)
    return (
        Q(
            status__in=[
                MessageStatus.REQUESTING,
                MessageStatus.AWAITING_RECEIPT,
                MessageStatus.DELIVERED,
            ]
        )
        & no_reason
        | Q(
            status=MessageStatus.PROCESSING_FAILED,
            reason__in=PROCESSING_FAILED_REASONS,
            return_code__isnull=True,
        )
        | Q(
            status=MessageStatus.SEND_FAILED,
            reason__in=SEND_FAILED_REASONS,
            # Spelled out: a NULL comparison would let the range check pass.
            return_code__isnull=False,
            return_code__gte=RETURN_CODE_MIN,
            return_code__lte=RETURN_CODE_MAX,
        )
    )


class MessageQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)

    def newest_first(self):
        return self.order_by("-requested_at", "-id")


class Message(models.Model):
    # Foreign keys whose lookups are served by the composite indexes below skip Django's default
    # single-column index: every index costs on the insert and receipt hot paths.
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, db_index=False)
    sms_user = models.ForeignKey(
        SmsUser, verbose_name=_("SMS_USER"), on_delete=models.PROTECT, db_index=False
    )
    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.PROTECT, db_index=False
    )
    template_type = models.CharField(_("template type"), max_length=16, choices=TemplateType)
    tag = models.CharField(_("tag"), max_length=64, blank=True)
    phone = models.CharField(_("recipient"), max_length=16)
    variables = models.JSONField(_("variables"), default=dict, blank=True)
    content = models.TextField(_("content"), blank=True)
    segments = models.PositiveSmallIntegerField(_("message count"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=MessageStatus, default=MessageStatus.REQUESTING
    )
    reason = models.CharField(_("reason"), max_length=24, choices=Reason, blank=True)
    return_code = models.PositiveSmallIntegerField(_("return code"), null=True, blank=True)
    failure_detail = models.TextField(_("failure detail"), blank=True)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
    )
    channel_message_id = models.CharField(_("channel message id"), max_length=64, null=True, blank=True)
    # The intercept record that blocked this message. A soft reference: expiry and deletion remove
    # intercept rows without touching messages, so it may point at a record that is gone.
    blocking_intercept = models.ForeignKey(
        "intercepts.Intercept",
        verbose_name=_("blocking intercept"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="blocked_messages",
    )
    requested_at = models.DateTimeField(_("request time"))
    channel_delivered_at = models.DateTimeField(_("channel delivery time"), null=True, blank=True)
    receipt_at = models.DateTimeField(_("receipt time"), null=True, blank=True)
    updated_at = models.DateTimeField(_("update time"))
    dispatch_attempts = models.PositiveSmallIntegerField(_("dispatch attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next dispatch attempt"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            # Every console list: one account, newest first, keyset on (requested_at, id).
            models.Index(fields=["account", "-requested_at", "-id"], name="msg_account_time"),
            # Phone filter, a number's thread, frequency counts and attaching replies (any account).
            models.Index(fields=["phone", "-requested_at", "-id"], name="msg_phone_time"),
            # The included columns let the per-status counts under a template type, tag or SMS_USER
            # filter read the index alone (PostgreSQL; other databases build it without them).
            models.Index(
                fields=["account", "status", "reason", "-requested_at", "-id"],
                include=["template_type", "tag", "sms_user"],
                name="msg_status_time",
            ),
            models.Index(fields=["account", "template_type", "-requested_at", "-id"], name="msg_type_time"),
            models.Index(fields=["account", "tag", "-requested_at", "-id"], name="msg_tag_time"),
            # An SMS_USER belongs to one account, so it scopes the list by itself.
            models.Index(fields=["sms_user", "-requested_at", "-id"], name="msg_smsuser_time"),
            # The dispatch queue: small, because only requesting messages are in it.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="requesting"),
                name="msg_dispatch_queue",
            ),
            models.Index(
                fields=["blocking_intercept"],
                condition=Q(blocking_intercept__isnull=False),
                name="msg_blocking_intercept",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "channel_message_id"], name="channel_message_id_unique"
            ),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(
                condition=_status_reason_constraint(), name="message_reason_matches_status"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} → {self.phone} ({self.status})"

    def clean(self):
        allowed = STATUS_REASONS.get(self.status, ())
        errors = {}
        if self.reason and self.reason not in allowed:
            errors["reason"] = _("A %(status)s message cannot have the reason %(reason)s.") % {
                "status": self.get_status_display(),
                "reason": self.get_reason_display(),
            }
        if allowed and not self.reason:
            errors["reason"] = _("A %(status)s message needs a reason.") % {
                "status": self.get_status_display()
            }
        if self.status == MessageStatus.SEND_FAILED:
            if self.return_code is None:
                errors["return_code"] = _("A send failure needs its return code.")
            elif not RETURN_CODE_MIN <= self.return_code <= RETURN_CODE_MAX:
                errors["return_code"] = _("Return codes run from 500 to 599.")
        elif self.return_code is not None:
            errors["return_code"] = _("Only a send failure has a return code.")
        if errors:
            raise ValidationError(errors)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class MessageCountFields(models.Model):
    """How many of an account's messages, requested in one period, are in each (status, reason), by
    the dimensions the status list filters on. The counts above the status list add these up.

    Triggers on delivery_message (migration 0011) append a `MessageCountChange` in the same
    transaction as every insert, status change and delete, so the counts are exact at any moment;
    `message_counts_compact` folds the changes into the hour and day rows.
    The account and SMS_USER are soft references: derived rows must not stop a deletion, and rows
    left by a deleted account are never read."""

    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    status = models.CharField(max_length=20, choices=MessageStatus)
    reason = models.CharField(max_length=24, choices=Reason, blank=True)
    template_type = models.CharField(max_length=16, choices=TemplateType)
    tag = models.CharField(max_length=64, blank=True)
    sms_user = models.ForeignKey(
        SmsUser, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    count = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.account_id} {self.status} {self.reason or '-'} {self.template_type}: {self.count}"


MESSAGE_COUNT_DIMENSIONS = ("account", "status", "reason", "template_type", "tag", "sms_user")


class MessageCountChange(MessageCountFields):
    """A change to the counts of one hour, appended by the triggers (negative for a message that left
    the status). Append-only, so concurrent workers never wait on each other's count rows."""

    hour_start_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "hour_start_at"], name="msgcount_change_account")]


class MessageCountHour(MessageCountFields):
    hour_start_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "hour_start_at", *MESSAGE_COUNT_DIMENSIONS[1:]], name="msgcount_hour_key"
            )
        ]
        indexes = [
            # Purged days leave zero rows; compaction finds them through this small index.
            models.Index(fields=["id"], condition=Q(count=0), name="msgcount_hour_zero")
        ]


class MessageCountDay(MessageCountFields):
    """The same counts by UTC day: a 30-day count reads about 30 rows per combination, not 720."""

    day_start_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day_start_at", *MESSAGE_COUNT_DIMENSIONS[1:]], name="msgcount_day_key"
            )
        ]
        indexes = [models.Index(fields=["id"], condition=Q(count=0), name="msgcount_day_zero")]


class MessageCountByStatusFields(models.Model):
    """Counts of an account's messages by (status, reason) alone, per period (the subclass's
    `period_field`): without the status list's filter dimensions, few rows per period."""

    period_field = ""
    period_format = ""

    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    status = models.CharField(max_length=20, choices=MessageStatus)
    reason = models.CharField(max_length=24, choices=Reason, blank=True)
    count = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        period = format(getattr(self, self.period_field), self.period_format)
        return f"{self.account_id} {period} {self.status} {self.reason or '-'}: {self.count}"


class MessageCountStatusHour(MessageCountByStatusFields):
    """The hour counts by (status, reason): an account's 30 days are about 720 hours × a few pairs,
    few enough for the dashboard to group into the days of any zone. Folded from the same changes,
    by the same statement, as the hour counts."""

    period_field, period_format = "hour_start_at", "%Y-%m-%d %H"
    hour_start_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "hour_start_at", "status", "reason"], name="msgcount_status_hour_key"
            )
        ]
        indexes = [
            # The platform-wide dashboard: every account's hours of the last 30 days.
            models.Index(fields=["hour_start_at"], name="msgcount_status_hour_time"),
            models.Index(fields=["id"], condition=Q(count=0), name="msgcount_status_hour_zero"),
        ]


class MessageCountStatusDay(MessageCountByStatusFields):
    """The day counts by (status, reason): an unfiltered 30-day count reads about 600 rows (days ×
    pairs) instead of every combination of the filter dimensions. Folded with the others."""

    period_field, period_format = "day_start_at", "%Y-%m-%d"
    day_start_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day_start_at", "status", "reason"], name="msgcount_status_day_key"
            )
        ]
        indexes = [models.Index(fields=["id"], condition=Q(count=0), name="msgcount_status_day_zero")]


class LatencyStage(models.TextChoices):
    HAND_OVER = "hand_over", _("Request to hand-over")
    RECEIPT = "receipt", _("Hand-over to receipt")


class MessageLatencyDay(models.Model):
    """How many of an account's messages requested on one UTC day took how long at one stage, per
    channel and template: a histogram in fixed log-spaced buckets (`delivery.latency`), so medians
    and 95th percentiles over any set of days, channels or templates come from summed counts.
    Recomputed from the messages for the last days by `message_latency_rollup` (periodic)."""

    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    day_start_at = models.DateTimeField()
    channel = models.ForeignKey(
        Channel, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    template = models.ForeignKey(
        Template, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    stage = models.CharField(max_length=16, choices=LatencyStage)
    bucket = models.PositiveSmallIntegerField()
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day_start_at", "channel", "template", "stage", "bucket"],
                name="latency_day_key",
            )
        ]
        indexes = [models.Index(fields=["day_start_at"], name="latency_day_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day_start_at:%Y-%m-%d} {self.stage} #{self.bucket}: {self.count}"


# A send-log line as the hot paths write it (smsconsole.bulk.rows_insert): (message id, at, kind, detail).
EVENT_ROW_FIELDS = ("message", "at", "kind", "detail")


class MessageEvent(models.Model):
    """One line of a message's send log."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        CHECK_FAILED = "check_failed", _("Check failed")
        CHECKS_PASSED = "checks_passed", _("Checks passed")
        HANDED_TO_CHANNEL = "handed_to_channel", _("Handed to channel")
        CHANNEL_REJECTED = "channel_rejected", _("Rejected by channel")
        CHANNEL_ERROR = "channel_error", _("Channel error")
        OUTCOME_UNKNOWN = "outcome_unknown", _("Outcome unknown")
        RECEIPT = "receipt", _("Receipt")
        RECEIPT_IGNORED = "receipt_ignored", _("Receipt ignored")
        INTERCEPTED = "intercepted", _("Number intercepted")
        REPLY = "reply", _("Reply")

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="events", db_index=False
    )
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=24, choices=Kind)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("send log entry")
        verbose_name_plural = _("send log")
        indexes = [models.Index(fields=["message", "id"], name="event_message_order")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {timezone.localtime(self.at):%Y-%m-%d %H:%M:%S}"


class KeywordFilter(models.Model):
    """A platform keyword: messages whose content contains it are not sent."""

    word = models.CharField(_("keyword"), max_length=200, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("filter keyword")
        verbose_name_plural = _("filter keywords")
        ordering = ["word"]
        constraints = [models.CheckConstraint(condition=~Q(word=""), name="keyword_not_empty")]

    def __str__(self) -> str:
        return self.word


class FrequencyRule(models.Model):
    """At most `max_messages` to one number within `window_seconds`. Account rules replace the defaults."""

    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="frequency_rules",
        help_text=_("Empty: a platform default, used by accounts that have no rules of their own."),
    )
    window_seconds = models.PositiveIntegerField(_("window (seconds)"), validators=[MinValueValidator(1)])
    max_messages = models.PositiveIntegerField(_("max messages"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("frequency rule")
        verbose_name_plural = _("frequency rules")
        ordering = ["account", "window_seconds"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "window_seconds"], name="frequency_rule_unique_per_account"
            ),
            models.UniqueConstraint(
                fields=["window_seconds"],
                condition=Q(account__isnull=True),
                name="frequency_rule_unique_default",
            ),
            models.CheckConstraint(
                condition=Q(window_seconds__gte=1, max_messages__gte=1), name="frequency_rule_positive"
            ),
        ]

    def __str__(self) -> str:
        owner = self.account.slug if self.account_id else "default"
        return f"{owner}: {self.max_messages} per {self.window_seconds}s"


class InboxItem(models.Model):
    """A webhook body exactly as a channel posted it, stored before any processing.

    The webhook answers 202 once this row is committed; ingestion workers drain unprocessed rows in
    batches, one transaction per batch, so a worker dying mid-batch leaves them to be done again.
    """

    class Kind(models.TextChoices):
        RECEIPTS = "receipts", _("Receipts")
        REPLIES = "replies", _("Replies")

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.PROTECT, db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    content_type = models.CharField(_("content type"), max_length=100)
    body = models.TextField(_("raw body"))
    item_count = models.PositiveIntegerField(_("items"))
    received_at = models.DateTimeField(_("received at"))
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # Items of a processed body that could not be applied ({"index", "error"}), for staff to see;
    # the body's other items were applied.
    failed_items = models.JSONField(_("failed items"), default=list, blank=True)

    class Meta:
        verbose_name = _("webhook inbox item")
        verbose_name_plural = _("webhook inbox")
        indexes = [
            # Only what is still to do is in this index, so draining stays cheap as history grows.
            models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="inbox_pending"),
            models.Index(
                fields=["processed_at"], condition=Q(processed_at__isnull=False), name="inbox_processed"
            ),
        ]

    def __str__(self) -> str:
        received_at = timezone.localtime(self.received_at)
        return f"{self.channel} {self.kind} ×{self.item_count} @ {received_at:%Y-%m-%d %H:%M:%S}"


class EarlyReceipt(models.Model):
    """A receipt whose message was not known yet (the channel answered faster than we recorded).

    Retried until `SMS_EARLY_RECEIPT_RETRY_HOURS` have passed, then marked orphaned for staff."""

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE, db_index=False)
    channel_message_id = models.CharField(_("channel message id"), max_length=64)
    receipt = models.JSONField(_("receipt"))
    received_at = models.DateTimeField(_("received at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    last_attempt_at = models.DateTimeField(_("last attempt"))
    orphaned_at = models.DateTimeField(_("orphaned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("early receipt")
        verbose_name_plural = _("early receipts")
        indexes = [
            models.Index(fields=["channel", "channel_message_id"], name="early_receipt_lookup"),
            models.Index(
                fields=["received_at"], condition=Q(orphaned_at__isnull=True), name="early_receipt_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.channel_message_id}"

    @property
    def is_orphaned(self) -> bool:
        return self.orphaned_at is not None


class SmppErrorMapping(models.Model):
    """Maps an SMPP delivery receipt's (stat, err) to our outcome. err "*" matches any error code."""

    stat = models.CharField(_("stat"), max_length=8)
    err = models.CharField(_("err"), max_length=8, help_text=_('Three digits, or "*" for any.'))
    return_code = models.PositiveSmallIntegerField(
        _("return code"),
        null=True,
        blank=True,
        validators=[MinValueValidator(RETURN_CODE_MIN), MaxValueValidator(RETURN_CODE_MAX)],
        help_text=_("Empty: delivered."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("SMPP error mapping")
        verbose_name_plural = _("SMPP error mappings")
        ordering = ["stat", "err"]
        constraints = [models.UniqueConstraint(fields=["stat", "err"], name="smpp_mapping_unique")]

    def __str__(self) -> str:
        target = self.return_code or "delivered"
        return f"{self.stat}/{self.err} → {target}"
