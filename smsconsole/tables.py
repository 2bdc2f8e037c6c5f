"""The base table every console list uses: template, CSS and empty text set once."""

import django_tables2 as tables
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _

CONSOLE_DATETIME_FORMAT = "Y-m-d H:i:s"


class ConsoleTable(tables.Table):
    """Rows come already paged and ordered (keyset); only the time column offers a sort order.

    `sort_field` names that column; the view sets `sort_descending` to show and flip the order.
    """

    sort_field: str = ""
    sort_descending: bool = True

    class Meta:
        template_name = "console/table.html"
        attrs = {"class": "result-list"}
        orderable = False
        empty_text = _("Nothing matches this filter.")


class TimeColumn(tables.Column):
    """A time in the active (account's) zone, down to the second."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "nowrap"}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        # Not tables2's DateTimeColumn: it compiles a template for every cell, which was most of
        # the time a 50-row page took to render.
        return dateformat.format(timezone.localtime(value), CONSOLE_DATETIME_FORMAT)
