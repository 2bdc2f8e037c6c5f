"""The base table every console list uses: template, CSS and empty text set once; the column chooser;
rows rendered with the per-column work done once per page."""

import html
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_tables2.rows import BoundRow
from django_tables2.utils import AttributeDict, computed_values, signature

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

    @cached_property
    def prepared_rows(self) -> list["PreparedRow"]:
        """The page's rows as the template writes them: each row's attributes and its cells.

        django-tables2's own rows look up, for every one of a page's ~600 cells, the column's
        render method, the arguments it asks for (`inspect.signature`) and its attributes: most
        of what a page took to render. Here that is done once per column; the cells are the same.
        """
        records = list(self.data)
        if not records:
            return []
        renderers = [_CellRenderer(self, bound_column) for bound_column in self.columns]
        bound_rows = {}

        def bound_row_for(record):
            # Only a render method or a link that asks for the row gets one.
            if id(record) not in bound_rows:
                bound_rows[id(record)] = BoundRow(record, table=self)
            return bound_rows[id(record)]

        rows = []
        for index, record in enumerate(records):
            attrs = computed_values(self.row_attrs, kwargs={"table": self, "record": record})
            even_odd = "odd" if index % 2 else "even"
            attrs["class"] = f"{attrs['class']} {even_odd}" if attrs.get("class") else even_odd
            rows.append(
                PreparedRow(
                    attrs=AttributeDict(attrs).as_html(),
                    cells=[renderer.cell(record, bound_row_for) for renderer in renderers],
                )
            )
        return rows

    def row_url(self, url_name: str, argument: str, value) -> str:
        """`reverse(url_name, kwargs={argument: value})`, with the reversing done once per page.

        reverse() walks the URL resolver on every call (~40 µs); a page writes 100 such links."""
        if not hasattr(self, "_row_urls"):
            self._row_urls = {}
        key = (url_name, argument)
        if key not in self._row_urls:
            self._row_urls[key] = _OneArgumentUrl(url_name, argument)
        return self._row_urls[key].url(value)

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


class _OneArgumentUrl:
    """A URL with one argument, reversed once with a placeholder that the value then replaces.

    The value is quoted as reverse() quotes a path (tests compare the two on ids and numbers)."""

    PLACEHOLDER = "4711081542"  # digits, so that int and str converters both accept it

    def __init__(self, url_name: str, argument: str):
        pattern = reverse(url_name, kwargs={argument: self.PLACEHOLDER})
        self.before, placeholder, self.after = pattern.partition(self.PLACEHOLDER)
        if not placeholder or self.PLACEHOLDER in self.after:
            raise ValueError(f"{url_name}: the placeholder must appear once in {pattern}")

    def url(self, value) -> str:
        return f"{self.before}{quote(str(value), safe=REVERSE_SAFE)}{self.after}"


# What reverse() leaves unquoted in a path: RFC 3986's sub-delimiters and "/~:@".
REVERSE_SAFE = "!$&'()*+,;=/~:@"


@dataclass(frozen=True)
class PreparedRow:
    attrs: str
    cells: list[tuple[str, object]]  # (the <td>'s attributes, its content) per shown column

    @property
    def cells_html(self) -> str:
        """The row's <td>s, written here rather than by a template loop over ~12 cells a row."""
        return mark_safe("".join(f"<td {attrs}>{cell_html(content)}</td>" for attrs, content in self.cells))


def cell_html(content) -> str:
    """`content` as HTML: escaped unless it is already safe HTML, as the template would write it.

    conditional_escape does the same, but its check for lazy arguments on every call was a good part
    of a page's rendering; a cell's content is never lazy here (the renderers return text)."""
    if hasattr(content, "__html__"):
        return content.__html__()
    return html.escape(str(content))


class _CellRenderer:
    """One column's cell, with everything that does not depend on the row looked up once per page.

    It renders what django-tables2's BoundRow renders for the same record (tests compare the two):
    the accessor's value, the column's default for an empty value, the column's or the table's
    render method called with the arguments it asks for, the link. Unlike BoundRow it does not
    swap a choice field's value for its label: the console's choice columns render their label
    from the record themselves (the comparison test would show a column that relied on the swap).
    """

    def __init__(self, table, bound_column):
        column = bound_column.column
        self.table = table
        self.bound_column = bound_column
        self.column = column
        self.accessor = tables.A(bound_column.accessor)
        self.render = bound_column.render
        self.link = bound_column.link
        self.default = bound_column.default
        self.empty_values = column.empty_values
        self.wanted, catch_all = signature(self.render)
        if catch_all:
            self.wanted = CELL_ARGUMENTS
        td = column.attrs.get("td", column.attrs.get("cell", {}))
        self.attrs_per_row = any(callable(v) for v in td.values()) or any(
            callable(v) for v in table.attrs.get("td", {}).values()
        )
        self.attrs = "" if self.attrs_per_row else bound_column.attrs["td"].as_html()

    def cell(self, record, bound_row_for):
        value = self.accessor.resolve(record, quiet=True)
        if value in self.empty_values:
            content = self.default
        else:
            arguments = {
                "value": value,
                "record": record,
                "column": self.column,
                "bound_column": self.bound_column,
                "table": self.table,
            }
            if "bound_row" in self.wanted or self.link:
                arguments["bound_row"] = bound_row_for(record)
            if any(name not in arguments for name in self.wanted):
                content = None  # as tables2: a render method asking for what no cell has is not called
            else:
                content = self.render(**{name: arguments[name] for name in self.wanted})
            if self.link:
                content = self.link(content, **arguments)
        if self.attrs_per_row:
            self.bound_column.current_record, self.bound_column.current_value = record, content
            return self.bound_column.attrs["td"].as_html(), content
        return self.attrs, content


CELL_ARGUMENTS = ("value", "record", "column", "bound_column", "bound_row", "table")


class TimeColumn(tables.Column):
    """A time in the active (account's) zone, on two short lines: the date, then the time to the second.

    The `<time>` element carries the machine-readable instant and, as its title, the whole value
    with the zone's name."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "time"}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        # Not tables2's DateTimeColumn (it compiles a template for every cell) nor dateformat (slow
        # for what it does here): a page shows up to 200 of these.
        local = timezone.localtime(value)
        day, time = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
        zone = html.escape(timezone.get_current_timezone_name())
        # Digits, dashes and colons need no escaping; the zone's name is escaped.
        return mark_safe(
            f'<time datetime="{local.isoformat()}" title="{day} {time} {zone}">{day}<br>{time}</time>'
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
