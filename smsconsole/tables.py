"""The base table every console list uses: template, CSS and empty text set once; the column chooser."""

from dataclasses import dataclass

import django_tables2 as tables
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

CONSOLE_DATETIME_FORMAT = "Y-m-d H:i:s"

# The row's key column (its link) stays in view when a wide choice of columns scrolls sideways.
KEY_COLUMN_ATTRS = {"th": {"class": "key"}, "td": {"class": "key"}}


@dataclass(frozen=True)
class ColumnChoice:
    name: str
    label: str
    is_shown: bool


class ConsoleTable(tables.Table):
    """Rows come already paged and ordered (keyset); only the time column offers a sort order.

    `sort_field` names that column; the view sets `sort_descending` to show and flip the order.

    The column chooser: `choosable_columns` may be shown or hidden by each user (remembered under
    `list_name`); those in `hidden_by_default` start hidden, so the default columns fit a 1280 px
    screen. Columns not named in `choosable_columns` (the key, the sort time, actions) always show.
    """

    sort_field: str = ""
    sort_descending: bool = True

    list_name: str = ""
    choosable_columns: tuple[str, ...] = ()
    hidden_by_default: tuple[str, ...] = ()

    class Meta:
        template_name = "console/table.html"
        attrs = {"class": "result-list"}
        orderable = False
        empty_text = _("Nothing matches this filter.")

    @classmethod
    def shown_columns(cls, choice: dict[str, bool]) -> set[str]:
        """The choosable columns shown for a user's remembered `choice` ({name: shown?})."""
        return {
            name
            for name in cls.choosable_columns
            if bool(choice.get(name, name not in cls.hidden_by_default))
        }

    @classmethod
    def hidden_columns(cls, choice: dict[str, bool]) -> list[str]:
        shown = cls.shown_columns(choice)
        return [name for name in cls.choosable_columns if name not in shown]

    @classmethod
    def column_choices(cls, choice: dict[str, bool]) -> list[ColumnChoice]:
        """What the column chooser lists: every choosable column, its header, and whether it shows."""
        shown = cls.shown_columns(choice)
        return [
            ColumnChoice(name=name, label=str(cls.base_columns[name].verbose_name), is_shown=name in shown)
            for name in cls.choosable_columns
        ]


class TimeColumn(tables.Column):
    """A time in the active (account's) zone, on two short lines: the date, then the time to the second.

    The `<time>` element carries the machine-readable instant and, as its title, the whole value
    with the zone's name."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "time"}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        # Not tables2's DateTimeColumn: it compiles a template for every cell, which was most of
        # the time a 50-row page took to render.
        local = timezone.localtime(value)
        full = dateformat.format(local, CONSOLE_DATETIME_FORMAT)
        day, time = full.split(" ")
        return format_html(
            '<time datetime="{}" title="{} {}">{}<br>{}</time>',
            local.isoformat(),
            full,
            timezone.get_current_timezone_name(),
            day,
            time,
        )


class SelectColumn(tables.Column):
    """A checkbox on each row `is_selectable(record)` allows, submitted with the form `form_id`
    (outside the table) as `input_name=<pk>`. The header's checkbox selects them all
    (static/console/select.js; without JavaScript each row is still ticked by hand)."""

    def __init__(self, *, input_name: str, form_id: str, is_selectable, **kwargs):
        self.input_name = input_name
        self.form_id = form_id
        self.is_selectable = is_selectable
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("attrs", {"th": {"class": "select"}, "td": {"class": "select"}})
        super().__init__(verbose_name=_("Select"), **kwargs)

    @property
    def header(self):
        return format_html(
            '<input type="checkbox" data-select-all="{}" aria-label="{}">',
            self.input_name,
            _("Select all on this page"),
        )

    def render(self, record):
        if not self.is_selectable(record):
            return ""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" form="{}" aria-label="{}">',
            self.input_name,
            record.pk,
            self.form_id,
            _("Select"),
        )
