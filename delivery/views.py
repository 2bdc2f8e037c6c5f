import re

from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from delivery.facets import status_facets
from delivery.filters import MessageFilter
from delivery.selectors import (
    ThreadEntry,
    channel_trouble,
    message_events,
    message_failure_advice,
    message_get,
    message_list,
    message_status_counts,
    message_tag_suggestions,
    message_unmatchable_notice,
    number_thread,
)
from delivery.send_log import failure_summary, requesting_notice, send_log
from delivery.tables import MessageTable, status_label
from intercepts.selectors import intercept_event_actor_label, intercept_get_for, intercept_list_for
from replies.selectors import reply_list_for_message, unsubscribe_state_for_message
from smsconsole import clock
from smsconsole.csv_export import CsvColumn
from smsconsole.phone import InvalidPhoneNumber, phone_display, phone_to_e164
from smsconsole.views import ConsoleMixin, CsvExportView, KeysetListView

E164_RE = re.compile(r"\+[1-9][0-9]{5,14}")


class MessageListView(KeysetListView):
    template_name = "delivery/message_list.html"
    filterset_class = MessageFilter
    table_class = MessageTable
    time_field = "requested_at"
    export_url_name = "delivery:message-export"

    def get_queryset(self):
        return message_list(account=self.account)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["status_facets"] = []
        if self.filterset.is_valid():
            rows = message_status_counts(
                queryset=self.filterset.facet_queryset(), exact=self.request.GET.get("counts") == "exact"
            )
            context["status_facets"] = status_facets(
                rows, query=self.request.GET, cleaned=self.filterset.form.cleaned_data
            )
            if any(row["is_capped"] for row in rows):
                query = self.request.GET.copy()
                query["counts"] = "exact"
                context["exact_counts_url"] = f"?{query.urlencode()}"
        context["tag_suggestions"] = message_tag_suggestions(account=self.account)
        context["channel_trouble"] = channel_trouble(account=self.account, now=clock.now())
        return context


def message_csv_columns(zone_name: str):
    def at(label):
        return f"{label} ({zone_name})"

    return [
        CsvColumn(_("ID"), lambda m: m.pk),
        CsvColumn(_("Status"), lambda m: m.get_status_display()),
        CsvColumn(_("Reason"), lambda m: m.get_reason_display() if m.reason else ""),
        CsvColumn(_("Return code"), lambda m: m.return_code),
        CsvColumn(_("SMS_USER"), lambda m: m.sms_user.name, is_untrusted_text=True),
        CsvColumn(_("Message count"), lambda m: m.segments),
        CsvColumn(_("Recipient"), lambda m: m.phone),
        CsvColumn(_("Template"), lambda m: m.template.name, is_untrusted_text=True),
        CsvColumn(_("Template type"), lambda m: m.get_template_type_display()),
        CsvColumn(_("Tag"), lambda m: m.tag, is_untrusted_text=True),
        CsvColumn(at(_("Request time")), lambda m: m.requested_at),
        CsvColumn(at(_("Channel delivery time")), lambda m: m.channel_delivered_at),
        CsvColumn(at(_("Receipt time")), lambda m: m.receipt_at),
        CsvColumn(at(_("Update time")), lambda m: m.updated_at),
    ]


class MessageExportView(CsvExportView):
    filterset_class = MessageFilter
    time_field = "requested_at"
    export_name = "sms-status"
    list_url_name = "delivery:message-list"

    def get_queryset(self):
        return message_list(account=self.account)

    def get_csv_columns(self):
        return message_csv_columns(self.account.time_zone)


class MessageDetailView(ConsoleMixin, TemplateView):
    template_name = "delivery/message_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        message = message_get(account=self.account, message_id=kwargs["message_id"])
        if message is None:
            raise Http404
        blocking = None
        if message.blocking_intercept_id:
            blocking = intercept_get_for(account=self.account, intercept_id=message.blocking_intercept_id)
        events = message_events(message=message)
        is_staff = self.request.user.is_staff
        context.update(
            message=message,
            status_label=status_label(message),
            send_log=send_log(events, is_staff=is_staff),
            failure=failure_summary(message=message, events=events),
            requesting_notice=requesting_notice(message=message, events=events),
            # Staff keep the technical detail (exception text, raw send log) beside the sentences.
            show_technical=is_staff,
            advice=message_failure_advice(message=message),
            unmatchable_notice=message_unmatchable_notice(message=message, events=events),
            blocking_intercept=blocking,
            phone_display=phone_display(message.phone),
            unsubscribe_state=unsubscribe_state_for_message(account=self.account, message=message),
            replies=reply_list_for_message(account=self.account, message=message),
        )
        return context


class NumberThreadView(ConsoleMixin, TemplateView):
    template_name = "delivery/number_thread.html"

    def get(self, request, *args, **kwargs):
        try:
            phone = phone_to_e164(kwargs["phone"], default_region=self.account.default_region)
        except InvalidPhoneNumber:
            # Numbers are stored normalised; an E.164-shaped one the parser now doubts is still looked up.
            if not E164_RE.fullmatch(kwargs["phone"]):
                raise Http404 from None
            phone = kwargs["phone"]
        if phone != kwargs["phone"]:
            return redirect("delivery:number-thread", phone=phone)
        self.phone = phone
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        entries = number_thread(account=self.account, phone=self.phone)
        if entries is None:
            raise Http404
        for entry in entries:
            if entry.kind == "intercept":
                entry.item.actor_label = intercept_event_actor_label(event=entry.item, account=self.account)
                entry.item.is_own = entry.item.account_id == self.account.pk
        # Receipts read as on the message's page: the same sentences, in the account's zone.
        entries = [
            ThreadEntry(entry.at, entry.kind, send_log([entry.item], is_staff=self.request.user.is_staff)[0])
            if entry.kind == "receipt"
            else entry
            for entry in entries
        ]
        context.update(
            phone=self.phone,
            phone_display=phone_display(self.phone),
            entries=entries,
            intercepts=list(intercept_list_for(account=self.account, phone=self.phone)),
            is_unsubscribed=any(entry.kind == "unsubscribe" for entry in entries),
        )
        return context
