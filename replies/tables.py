import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from smsconsole.phone import phone_display
from smsconsole.tables import ConsoleTable, TimeColumn


class ReplyTable(ConsoleTable):
    received_at = TimeColumn(verbose_name=_("Reply time"), orderable=True)
    phone = tables.Column(verbose_name=_("Phone number"))
    carrier = tables.Column(verbose_name=_("Carrier"))
    template = tables.Column(verbose_name=_("Template"), accessor="template__name")
    tag = tables.Column(verbose_name=_("Tag"))
    # Written by strangers: django-tables2 escapes every cell, and render_content only adds markup
    # through format_html, which escapes the content again.
    content = tables.Column(verbose_name=_("Content"), attrs={"td": {"class": "reply-content"}})
    flags = tables.Column(verbose_name=_("Opt-out"), accessor="pk", empty_values=())

    class Meta(ConsoleTable.Meta):
        row_attrs = {
            "class": lambda record: "optout" if (record.is_unsubscribe or record.is_optout_like) else "",
        }

    def render_phone(self, value):
        url = reverse("delivery:number-thread", kwargs={"phone": value})
        return format_html('<a href="{}" class="nowrap">{}</a>', url, phone_display(value))

    def render_flags(self, record):
        if record.is_unsubscribe:
            return format_html('<span class="badge status-failed">{}</span>', _("Unsubscribed"))
        if record.is_optout_like:
            return format_html('<span class="badge status-warn">{}</span>', _("Looks like an opt-out"))
        return ""
