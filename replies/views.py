from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from replies.filters import ReplyFilter, UnsubscribeFilter
from replies.forms import UnsubscribeRemoveForm
from replies.selectors import (
    reply_list,
    reply_present_message_ids,
    reply_tag_suggestions,
    unsubscribe_get,
    unsubscribe_list,
)
from replies.services import unsubscribe_remove
from replies.tables import ReplyTable, UnsubscribeTable
from smsconsole.csv_export import field_column, time_column
from smsconsole.exceptions import NotFound
from smsconsole.phone import phone_display
from smsconsole.views import ConsoleMixin, CsvExportView, KeysetListView


class ReplyListView(KeysetListView):
    template_name = "replies/reply_list.html"
    filterset_class = ReplyFilter
    table_class = ReplyTable
    time_field = "received_at"
    export_url_name = "replies:reply-export"

    def get_queryset(self):
        return reply_list(account=self.account)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        if "message" in table.columns:
            table.present_message_ids = reply_present_message_ids(
                account=self.account, replies=self.object_list
            )
        return table

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
            time_column(
                f"{_('Reply time')} ({self.account.time_zone})", "received_at", zone=self.account.zone
            ),
            field_column(gettext_lazy("Phone number"), "phone"),
            field_column(gettext_lazy("Carrier"), "carrier", is_untrusted_text=True),
            field_column(gettext_lazy("Template"), "template__name", is_untrusted_text=True),
            field_column(gettext_lazy("Tag"), "tag", is_untrusted_text=True),
            field_column(gettext_lazy("Content"), "content", is_untrusted_text=True),
            field_column(gettext_lazy("Message"), "message_id"),
            field_column(gettext_lazy("Unsubscribed"), "is_unsubscribe", format=_flag),
            field_column(gettext_lazy("Looks like an opt-out"), "is_optout_like", format=_flag),
        ]


class UnsubscribeListView(KeysetListView):
    template_name = "replies/unsubscribe_list.html"
    filterset_class = UnsubscribeFilter
    table_class = UnsubscribeTable
    time_field = "created_at"
    export_url_name = "unsubscribes:unsubscribe-export"

    def get_queryset(self):
        return unsubscribe_list(account=self.account)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        if "message" in table.columns:
            replies = [entry.source_reply for entry in self.object_list if entry.source_reply]
            table.present_message_ids = reply_present_message_ids(account=self.account, replies=replies)
        return table


class UnsubscribeExportView(CsvExportView):
    filterset_class = UnsubscribeFilter
    time_field = "created_at"
    export_name = "unsubscribes"
    list_url_name = "unsubscribes:unsubscribe-list"

    def get_queryset(self):
        return unsubscribe_list(account=self.account)

    def get_csv_columns(self):
        zone = self.account.time_zone
        return [
            field_column(gettext_lazy("Phone number"), "phone"),
            time_column(f"{_('Unsubscribed at')} ({zone})", "created_at", zone=self.account.zone),
            field_column(
                gettext_lazy("Reply that unsubscribed it"), "source_reply__content", is_untrusted_text=True
            ),
            time_column(f"{_('Reply time')} ({zone})", "source_reply__received_at", zone=self.account.zone),
            field_column(gettext_lazy("Message"), "source_reply__message_id"),
        ]


class UnsubscribeRemoveView(ConsoleMixin, TemplateView):
    """GET asks why (a note is required); POST takes the number off the list (audited)."""

    template_name = "replies/unsubscribe_confirm_remove.html"

    def get_entry(self):
        entry = unsubscribe_get(account=self.account, unsubscribe_id=self.kwargs["unsubscribe_id"])
        if entry is None:
            raise Http404
        return entry

    def get(self, request, *args, **kwargs):
        return self.render_form(self.get_entry(), UnsubscribeRemoveForm())

    def post(self, request, *args, **kwargs):
        entry = self.get_entry()
        form = UnsubscribeRemoveForm(request.POST)
        if not form.is_valid():
            return self.render_form(entry, form)
        try:
            unsubscribe_remove(
                account=self.account,
                unsubscribe_id=entry.pk,
                actor_user=request.user,
                note=form.cleaned_data["note"],
            )
        except NotFound:
            raise Http404 from None  # removed by someone else a moment ago
        messages.success(
            request,
            _("%(phone)s was taken off the unsubscribe list: messages to it will be sent again.")
            % {"phone": phone_display(entry.phone)},
        )
        return redirect("unsubscribes:unsubscribe-list")

    def render_form(self, entry, form):
        return self.render_to_response(
            self.get_context_data(entry=entry, form=form, phone_display=phone_display(entry.phone))
        )


def _flag(value: bool) -> str:
    """A yes/no column: "1" or an empty cell, as spreadsheets filter them."""
    return "1" if value else ""
