import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from smsconsole.phone import phone_display
from smsconsole.tables import KEY_COLUMN_ATTRS, ConsoleTable, TimeColumn


def reply_message_link(reply, present_message_ids):
    """A link to the message the reply answered, while that message is still kept; else a dash."""
    if reply.message_id and reply.message_id in present_message_ids:
        url = reverse("delivery:message-detail", kwargs={"message_id": reply.message_id})
        return format_html('<a href="{}" data-testid="reply-message">#{}</a>', url, reply.message_id)
    return format_html('<span class="muted">{}</span>', "—")


class ReplyTable(ConsoleTable):
    """The view sets `present_message_ids`: which of the page's answered messages still exist."""

    phone = tables.Column(verbose_name=_("Phone number"), attrs=KEY_COLUMN_ATTRS)
    received_at = TimeColumn(verbose_name=_("Reply time"), orderable=True)
    carrier = tables.Column(verbose_name=_("Carrier"), attrs={"td": {"class": "wrap narrow"}})
    template = tables.Column(
        verbose_name=_("Template"), accessor="template__name", attrs={"td": {"class": "wrap narrow"}}
    )
    tag = tables.Column(verbose_name=_("Tag"), attrs={"td": {"class": "wrap narrow"}})
    # Written by strangers: django-tables2 escapes every cell, and render_content only adds markup
    # through format_html, which escapes the content again.
    content = tables.Column(verbose_name=_("Content"), attrs={"td": {"class": "reply-content"}})
    message = tables.Column(verbose_name=_("Message"), accessor="message_id", empty_values=())
    flags = tables.Column(verbose_name=_("Opt-out"), accessor="pk", empty_values=())

    list_name = "replies"
    choosable_columns = ("carrier", "template", "tag", "message")

    present_message_ids: frozenset = frozenset()

    class Meta(ConsoleTable.Meta):
        row_attrs = {
            "class": lambda record: "optout" if (record.is_unsubscribe or record.is_optout_like) else "",
        }

    def render_phone(self, value):
        url = self.row_url("delivery:number-thread", "phone", value)
        return format_html('<a href="{}" class="nowrap">{}</a>', url, phone_display(value))

    def render_message(self, record):
        return reply_message_link(record, self.present_message_ids)

    def render_flags(self, record):
        if record.is_unsubscribe:
            return format_html('<span class="badge status-failed">{}</span>', _("Unsubscribed"))
        if record.is_optout_like:
            return format_html('<span class="badge status-warn">{}</span>', _("Looks like an opt-out"))
        return ""


class UnsubscribeTable(ConsoleTable):
    """The view sets `present_message_ids` for the source replies' messages."""

    phone = tables.Column(verbose_name=_("Phone number"), attrs=KEY_COLUMN_ATTRS)
    created_at = TimeColumn(verbose_name=_("Unsubscribed at"), orderable=True)
    reply = tables.Column(
        verbose_name=_("Reply that unsubscribed it"),
        accessor="source_reply",
        empty_values=(),
        attrs={"td": {"class": "reply-content"}},
    )
    reply_at = TimeColumn(verbose_name=_("Reply time"), accessor="source_reply__received_at")
    message = tables.Column(verbose_name=_("Message"), accessor="pk", empty_values=())
    actions = tables.Column(
        verbose_name="", accessor="pk", empty_values=(), attrs={"td": {"class": "actions"}}
    )

    list_name = "unsubscribes"
    choosable_columns = ("reply", "reply_at", "message")

    present_message_ids: frozenset = frozenset()

    class Meta(ConsoleTable.Meta):
        row_attrs = {"data-unsubscribe": lambda record: record.pk}
        empty_text = _("No number is on your unsubscribe list for this filter.")

    def render_phone(self, value):
        url = self.row_url("delivery:number-thread", "phone", value)
        return format_html('<a href="{}" class="nowrap">{}</a>', url, phone_display(value))

    def render_reply(self, record):
        if record.source_reply is None:
            return format_html('<span class="muted">{}</span>', _("No reply kept"))
        return record.source_reply.content

    def render_message(self, record):
        if record.source_reply is None:
            return format_html('<span class="muted">{}</span>', "—")
        return reply_message_link(record.source_reply, self.present_message_ids)

    def render_actions(self, record):
        url = self.row_url("unsubscribes:unsubscribe-remove", "unsubscribe_id", record.pk)
        return format_html('<a class="button deletelink" href="{}">{}</a>', url, _("Remove"))
