from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from replies.filters import ReplyFilter
from replies.selectors import reply_list, reply_tag_suggestions
from replies.tables import ReplyTable
from smsconsole.csv_export import CsvColumn
from smsconsole.views import CsvExportView, KeysetListView


class ReplyListView(KeysetListView):
    template_name = "replies/reply_list.html"
    filterset_class = ReplyFilter
    table_class = ReplyTable
    time_field = "received_at"
    export_url_name = "replies:reply-export"

    def get_queryset(self):
        return reply_list(account=self.account)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tag_suggestions"] = reply_tag_suggestions(account=self.account)
        return context


class ReplyExportView(CsvExportView):
    filterset_class = ReplyFilter
    time_field = "received_at"
    export_name = "replies"
    list_url_name = "replies:reply-list"

    def get_queryset(self):
        return reply_list(account=self.account)

    def get_csv_columns(self):
        return [
            CsvColumn(f"{_('Reply time')} ({self.account.time_zone})", lambda r: r.received_at),
            CsvColumn(gettext_lazy("Phone number"), lambda r: r.phone),
            CsvColumn(gettext_lazy("Carrier"), lambda r: r.carrier, is_untrusted_text=True),
            CsvColumn(
                gettext_lazy("Template"),
                lambda r: r.template.name if r.template else "",
                is_untrusted_text=True,
            ),
            CsvColumn(gettext_lazy("Tag"), lambda r: r.tag, is_untrusted_text=True),
            CsvColumn(gettext_lazy("Content"), lambda r: r.content, is_untrusted_text=True),
            CsvColumn(gettext_lazy("Unsubscribed"), lambda r: "1" if r.is_unsubscribe else ""),
            CsvColumn(gettext_lazy("Looks like an opt-out"), lambda r: "1" if r.is_optout_like else ""),
        ]
