import django_tables2 as tables
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.timesince import timeuntil
from django.utils.translation import gettext_lazy as _

from delivery.models import ReturnCode
from intercepts.models import Scope
from smsconsole.labels import choice_label
from smsconsole.phone import phone_display
from smsconsole.tables import KEY_COLUMN_ATTRS, ConsoleTable, SelectColumn, TimeColumn


def return_code_label(code: int) -> str:
    try:
        return f"{code} {ReturnCode(code).label}"
    except ValueError:
        return str(code)


class InterceptTable(ConsoleTable):
    """The view sets `now`, `account_id` and `looked_up_phone`, and gives each record
    `history_events`, `is_own` and `is_deletable`."""

    select = SelectColumn(
        input_name="intercept",
        form_id="intercept-selection",
        is_selectable=lambda record: record.is_deletable,
    )
    phone = tables.Column(verbose_name=_("Phone number"), attrs=KEY_COLUMN_ATTRS)
    scope = tables.Column(verbose_name=_("Scope"))
    return_code = tables.Column(verbose_name=_("Return code"), attrs={"td": {"class": "wrap narrow"}})
    intercepted_at = TimeColumn(verbose_name=_("Intercept time"), orderable=True)
    expires_at = TimeColumn(verbose_name=_("Expiry"))
    time_left = tables.Column(verbose_name=_("Time left"), accessor="expires_at", empty_values=())
    reason = tables.Column(verbose_name=_("Reason"), attrs={"td": {"class": "wrap"}})
    origin = tables.Column(
        verbose_name=_("Origin"), accessor="pk", empty_values=(), attrs={"td": {"class": "wrap"}}
    )
    history = tables.TemplateColumn(
        template_name="intercepts/_history_cell.html", verbose_name=_("History"), accessor="pk"
    )
    actions = tables.TemplateColumn(
        template_name="intercepts/_actions_cell.html",
        verbose_name="",
        accessor="pk",
        empty_values=(),
        attrs={"td": {"class": "actions"}},
    )

    list_name = "intercepts"
    choosable_columns = ("scope", "return_code", "expires_at", "time_left", "reason", "origin", "history")
    hidden_by_default = ("history",)

    now = None
    account_id = None
    looked_up_phone = ""

    class Meta(ConsoleTable.Meta):
        row_attrs = {"data-intercept": lambda record: record.pk}

    def render_phone(self, record):
        url = self.row_url("intercepts:intercept-detail", "intercept_id", record.pk)
        if record.account_id != self.account_id and record.phone == self.looked_up_phone:
            # Seen because the operator looked the number up: the record's page needs to know that.
            url += "?" + urlencode({"phone": record.phone})
        return format_html('<a href="{}" class="nowrap">{}</a>', url, phone_display(record.phone))

    def render_scope(self, record):
        return choice_label(Scope, record.scope)

    def render_time_left(self, record):
        if record.expires_at <= self.now:
            return format_html('<span class="muted">{}</span>', _("Expired"))
        return timeuntil(record.expires_at, self.now, depth=1)  # "3 weeks": the record page has the rest

    def render_return_code(self, value):
        return return_code_label(value)

    def render_origin(self, record):
        if record.account_id == self.account_id:
            return _("Your account")
        return format_html(
            '<span class="foreign">{}</span><small class="origin-note">{}</small>',
            _("Another account (global)"),
            _("If the number works again, contact support to clear it."),
        )
