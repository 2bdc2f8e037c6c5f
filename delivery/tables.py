import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from delivery.models import Message, MessageStatus, Reason, TemplateType
from smsconsole.labels import choice_label
from smsconsole.phone import phone_display
from smsconsole.tables import KEY_COLUMN_ATTRS, ConsoleTable, TimeColumn


def status_label(message: Message) -> str:
    """ "Send failed: Busy (530)": the status with its reason, as the list and the CSV show it."""
    label = choice_label(MessageStatus, message.status)
    if message.reason:
        label += f": {choice_label(Reason, message.reason)}"
    if message.return_code is not None:
        label += f" ({message.return_code})"
    return label


STATUS_CSS = {
    MessageStatus.REQUESTING: "status-pending",
    MessageStatus.AWAITING_RECEIPT: "status-pending",
    MessageStatus.DELIVERED: "status-ok",
    MessageStatus.PROCESSING_FAILED: "status-failed",
    MessageStatus.SEND_FAILED: "status-failed",
}


class MessageTable(ConsoleTable):
    id = tables.Column(verbose_name=_("ID"), attrs=KEY_COLUMN_ATTRS)
    status = tables.Column(verbose_name=_("Status"), attrs={"td": {"class": "wrap status-cell"}})
    sms_user = tables.Column(verbose_name=_("SMS_USER"), accessor="sms_user__name")
    segments = tables.Column(verbose_name=_("Message count"), attrs={"td": {"class": "num"}})
    phone = tables.Column(verbose_name=_("Recipient"))
    template = tables.Column(
        verbose_name=_("Template"), accessor="template__name", attrs={"td": {"class": "wrap narrow"}}
    )
    template_type = tables.Column(verbose_name=_("Template type"))
    tag = tables.Column(verbose_name=_("Tag"), attrs={"td": {"class": "wrap narrow"}})
    requested_at = TimeColumn(verbose_name=_("Request time"), orderable=True)
    channel_delivered_at = TimeColumn(verbose_name=_("Channel delivery time"))
    receipt_at = TimeColumn(verbose_name=_("Receipt time"))
    updated_at = TimeColumn(verbose_name=_("Update time"))

    list_name = "messages"
    choosable_columns = (
        "sms_user",
        "segments",
        "template",
        "template_type",
        "tag",
        "channel_delivered_at",
        "receipt_at",
        "updated_at",
    )
    hidden_by_default = ("segments", "template_type", "channel_delivered_at")

    class Meta(ConsoleTable.Meta):
        row_attrs = {"data-status": lambda record: record.status}

    def render_status(self, record):
        return format_html(
            '<span class="badge {}">{}</span>', STATUS_CSS.get(record.status, ""), status_label(record)
        )

    def render_id(self, value):
        url = self.row_url("delivery:message-detail", "message_id", value)
        return format_html('<a href="{}">{}</a>', url, value)

    def render_phone(self, value):
        url = self.row_url("delivery:number-thread", "phone", value)
        return format_html('<a href="{}" class="nowrap">{}</a>', url, phone_display(value))

    def render_template_type(self, record):
        return choice_label(TemplateType, record.template_type)
