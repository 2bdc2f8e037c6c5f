"""An account's callback endpoint, the outbox of events to push to it, and the log of attempts.

Events are appended by database triggers (migration 0002) in the same transaction as the status
change or the reply they report, whatever code path made it; workers deliver them afterwards."""

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from delivery.models import Message, MessageStatus, Reason
from replies.models import Reply
from smsconsole.models import Account

# An endpoint failing for this long is shown as unhealthy even before SMS_CALLBACK_UNHEALTHY_FAILURES.
UNHEALTHY_AFTER = dt.timedelta(hours=1)


def generate_callback_secret() -> str:
    return "whsec_" + secrets.token_hex(32)


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    REPLY = "reply", _("Reply")
    TEST = "test", _("Test event")


# What an endpoint may subscribe to (a test event is always sent when asked for).
SUBSCRIBABLE_KINDS = (EventKind.STATUS, EventKind.REPLY)
# The statuses a status event reports: every change but the initial `requesting`.
REPORTED_STATUSES = (
    MessageStatus.AWAITING_RECEIPT,
    MessageStatus.DELIVERED,
    MessageStatus.SEND_FAILED,
    MessageStatus.PROCESSING_FAILED,
)


class CallbackEndpoint(models.Model):
    """The one URL an account's events are POSTed to, and how its deliveries are going."""

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="callback_endpoint"
    )
    url = models.URLField(_("callback URL"), max_length=2000)
    is_status_subscribed = models.BooleanField(_("status changes"), default=True)
    is_reply_subscribed = models.BooleanField(_("replies"), default=True)
    # Kept in clear: every delivery is signed with it (like a channel's webhook secret).
    secret = models.CharField(_("signing secret"), max_length=128, default=generate_callback_secret)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    # Delivery state: a worker holds the endpoint until `lease_until`, so only one sends at a time
    # (which keeps each message's events in order); after a failure nobody tries before `next_attempt_at`.
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failed attempts in a row"), default=0)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)

    class Meta:
        verbose_name = _("callback endpoint")
        verbose_name_plural = _("callback endpoints")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.url}"

    @property
    def events(self) -> list[str]:
        kinds = []
        if self.is_status_subscribed:
            kinds.append(EventKind.STATUS.value)
        if self.is_reply_subscribed:
            kinds.append(EventKind.REPLY.value)
        return kinds

    def is_unhealthy_at(self, now: dt.datetime) -> bool:
        """Failing persistently: N attempts in a row, or for more than an hour (until a success)."""
        if self.consecutive_failures >= settings.SMS_CALLBACK_UNHEALTHY_FAILURES:
            return True
        return self.failing_since is not None and now - self.failing_since > UNHEALTHY_AFTER


class EventState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    GIVEN_UP = "given_up", _("Given up")


class CallbackEvent(models.Model):
    """One event to push (the outbox). The status fields are a snapshot taken by the trigger, so the
    payload says what the status was at this event even if the message has moved on since."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False, related_name="+")
    kind = models.CharField(max_length=8, choices=EventKind)
    # Soft references: retention purges messages and replies without touching their events.
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    reply = models.ForeignKey(
        Reply,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=20, choices=MessageStatus, blank=True)
    reason = models.CharField(max_length=24, choices=Reason, blank=True)
    return_code = models.PositiveSmallIntegerField(null=True, blank=True)
    failure_detail = models.TextField(blank=True)
    channel_delivered_at = models.DateTimeField(null=True, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    # When the retry window started: the insert, or the last replay.
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=EventState, default=EventState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    is_replay = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # The delivery queue, in order: small, because delivered events leave it.
            models.Index(fields=["account", "id"], condition=Q(state="pending"), name="cb_event_pending"),
            # Replaying a time range.
            models.Index(fields=["account", "occurred_at"], name="cb_event_account_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status or ''} ({self.state})"


class AttemptOutcome(models.TextChoices):
    OK = "ok", _("OK")
    FAILED = "failed", _("Failed")
    GIVEN_UP = "given_up", _("Given up")
    REPLAY = "replay", _("Replay requested")


class CallbackAttempt(models.Model):
    """One line of the delivery log: a POST (with its answer), events given up, or a replay asked for."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False, related_name="+")
    attempted_at = models.DateTimeField(_("time"))
    url = models.URLField(_("callback URL"), max_length=2000, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=AttemptOutcome)
    event_ids = models.JSONField(_("events"), default=list)
    event_count = models.PositiveIntegerField(_("events"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response_excerpt = models.CharField(_("response"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    is_replay = models.BooleanField(_("replay"), default=False)
    is_test = models.BooleanField(_("test event"), default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("callback attempt")
        verbose_name_plural = _("callback attempts")
        indexes = [
            models.Index(fields=["account", "-attempted_at", "-id"], name="cb_attempt_account_time"),
            models.Index(fields=["account", "outcome", "-attempted_at", "-id"], name="cb_attempt_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.attempted_at:%Y-%m-%d %H:%M:%S} {self.outcome}"
