"""Replies from recipients, the unsubscribe list they feed, and the words that mean "stop"."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from delivery.models import Channel, Message, Template
from smsconsole.models import Account


class ReplyQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)

    def newest_first(self):
        return self.order_by("-received_at", "-id")


class Reply(models.Model):
    # Null when the reply matches no message we sent: kept, but shown to staff only.
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="replies",
        db_index=False,
    )
    # Soft reference: the message may be purged before the reply.
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="replies",
    )
    template = models.ForeignKey(
        Template,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
    )
    tag = models.CharField(_("tag"), max_length=64, blank=True)
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    phone = models.CharField(_("phone number"), max_length=16)
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    content = models.TextField(_("content"))
    received_at = models.DateTimeField(_("reply time"))
    # Identifies a channel's reply, so a payload posted twice does not store it twice.
    fingerprint = models.CharField(
        _("fingerprint"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    is_unsubscribe = models.BooleanField(_("unsubscribed the number"), default=False)
    is_optout_like = models.BooleanField(
        _("looks like an opt-out"),
        default=False,
        help_text=_("Reads like a request to stop, without being an exact unsubscribe keyword."),
    )

    objects = ReplyQuerySet.as_manager()

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        indexes = [
            models.Index(fields=["account", "-received_at", "-id"], name="reply_account_time"),
            models.Index(fields=["account", "phone", "-received_at", "-id"], name="reply_phone_time"),
            models.Index(fields=["template", "-received_at", "-id"], name="reply_template_time"),
            models.Index(fields=["account", "tag", "-received_at", "-id"], name="reply_tag_time"),
            models.Index(
                fields=["-received_at"], condition=Q(account__isnull=True), name="reply_unmatched_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone}: {self.content[:40]}"


class Unsubscribe(models.Model):
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="unsubscribes",
        db_index=False,
    )
    phone = models.CharField(_("phone number"), max_length=16)
    created_at = models.DateTimeField(_("created at"))
    source_reply = models.ForeignKey(
        Reply,
        verbose_name=_("source reply"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("unsubscribe")
        verbose_name_plural = _("unsubscribe list")
        constraints = [
            models.UniqueConstraint(fields=["account", "phone"], name="unsubscribe_unique_per_account")
        ]
        # The console's list: an account's entries newest first, keyset on (created_at, id). A phone
        # lookup is served by the unique constraint.
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="unsubscribe_account_time")]

    def __str__(self) -> str:
        return f"{self.account.slug}: {self.phone}"


class UnsubscribeRemoval(models.Model):
    """The audit log of numbers taken off an account's unsubscribe list: who, when, and why.

    The entry itself is deleted (the number may be sent to again); this row keeps what it was."""

    class Source(models.TextChoices):
        CONSOLE = "console", _("Console")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    phone = models.CharField(_("phone number"), max_length=16)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"))
    # Soft reference: replies are purged after retention, the audit is kept.
    source_reply_id = models.BigIntegerField(_("source reply"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed at"))
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("removed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The user's name when it happened: the audit outlives a deleted user.
    removed_by_name = models.CharField(_("removed by (name)"), max_length=150)
    source = models.CharField(_("from"), max_length=16, choices=Source, default=Source.CONSOLE)
    note = models.TextField(_("note"), help_text=_("Why the number may be sent to again."))

    class Meta:
        verbose_name = _("unsubscribe removal (audit)")
        verbose_name_plural = _("unsubscribe removals (audit)")
        indexes = [
            models.Index(fields=["account", "phone", "-removed_at"], name="unsubscribe_removal_phone"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(note=""), name="unsubscribe_removal_has_note")]

    def __str__(self) -> str:
        return f"{self.phone} removed @ {self.removed_at:%Y-%m-%d %H:%M}"


class UnsubscribeKeyword(models.Model):
    word = models.CharField(_("keyword"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("unsubscribe keyword")
        verbose_name_plural = _("unsubscribe keywords")
        ordering = ["word"]
        constraints = [models.CheckConstraint(condition=~Q(word=""), name="unsubscribe_keyword_not_empty")]

    def __str__(self) -> str:
        return self.word
