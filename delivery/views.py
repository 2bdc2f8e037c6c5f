import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView

from delivery.dashboard import stuck_receipts
from delivery.facets import status_facets
from delivery.filters import MessageFilter
from delivery.forms import NumberCheckForm
from delivery.models import MessageStatus, Reason, TemplateType
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
from delivery.services.precheck import Verdict, numbers_check, verdict_counts
from delivery.tables import MessageTable, status_label
from intercepts.selectors import intercept_event_actor_label, intercept_get_for, intercept_list_for
from replies.selectors import reply_list_for_message, unsubscribe_state_for_message
from smsconsole import clock
from smsconsole.csv_export import csv_streaming_response, export_filename, field_column, time_column
from smsconsole.exceptions import ServiceError
from smsconsole.labels import choice_labels
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
            rows = message_status_counts(account=self.account, **self.filterset.count_filters())
            context["status_facets"] = status_facets(
                rows, query=self.request.GET, cleaned=self.filterset.form.cleaned_data
            )
        context["tag_suggestions"] = message_tag_suggestions(account=self.account)
        context["channel_trouble"] = channel_trouble(account=self.account, now=clock.now())
        context["stuck_receipts"] = stuck_receipts(account=self.account, now=clock.now())
        return context


def message_csv_columns(zone: ZoneInfo):
    def at(label, field):
        return time_column(f"{label} ({zone.key})", field, zone=zone)

    # Labels in the request's language, looked up in dicts: a 30-day export is a million rows.
    statuses, reasons, types = (
        choice_labels(MessageStatus),
        choice_labels(Reason),
        choice_labels(TemplateType),
    )
    return [
        field_column(_("ID"), "pk"),
        field_column(_("Status"), "status", format=lambda status: statuses.get(status, status)),
        field_column(_("Reason"), "reason", format=lambda reason: reasons.get(reason, reason)),
        field_column(_("Return code"), "return_code"),
        field_column(_("SMS_USER"), "sms_user__name", is_untrusted_text=True),
        field_column(_("Message count"), "segments"),
        field_column(_("Recipient"), "phone"),
        field_column(_("Template"), "template__name", is_untrusted_text=True),
        field_column(_("Template type"), "template_type", format=lambda kind: types.get(kind, kind)),
        field_column(_("Tag"), "tag", is_untrusted_text=True),
        at(_("Request time"), "requested_at"),
        at(_("Channel delivery time"), "channel_delivered_at"),
        at(_("Receipt time"), "receipt_at"),
        at(_("Update time"), "updated_at"),
    ]


class MessageExportView(CsvExportView):
    filterset_class = MessageFilter
    time_field = "requested_at"
    export_name = "sms-status"
    list_url_name = "delivery:message-list"

    def get_queryset(self):
        return message_list(account=self.account)

    def get_csv_columns(self):
        return message_csv_columns(self.account.zone)

    def is_too_big_to_stream(self) -> bool:
        # The exact count from the rollups (milliseconds), not a count of up to 200,000 rows
        # (a third of a second at 5 M messages) before the first line.
        rows = message_status_counts(account=self.account, **self.filterset.count_filters())
        expected = sum(row["count"] for row in rows if self.filterset.matches_count(row))
        return expected > settings.SMS_EXPORT_STREAM_MAX_ROWS


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


# The verdicts a check page shows; the CSV download has them all.
VERDICTS_SHOWN = 1000


class NumberCheckView(ConsoleMixin, FormView):
    """Would these numbers be sent? Counts per verdict, the first verdicts, and all of them as CSV."""

    template_name = "delivery/number_check.html"
    form_class = NumberCheckForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "account": self.account}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            verdicts = numbers_check(
                account=self.account,
                template_id=data["template"].pk,
                numbers=data["all_numbers"],
                variables=data["variables"],
                now=clock.now(),
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        if self.request.POST.get("download"):
            return self.csv_response(verdicts, with_bom=self.request.POST["download"] == "csv-bom")
        reasons = choice_labels(Reason)
        return self.render_to_response(
            self.get_context_data(
                form=form,
                verdict_rows=[
                    (verdict, reasons.get(verdict.reason, "")) for verdict in verdicts[:VERDICTS_SHOWN]
                ],
                verdict_total=len(verdicts),
                is_truncated=len(verdicts) > VERDICTS_SHOWN,
                verdicts_shown=VERDICTS_SHOWN,
                counts=[
                    (reasons[reason] if reason else _("Would send"), count, reason or "would_send")
                    for reason, count in verdict_counts(verdicts)
                ],
                checked_numbers="\n".join(data["all_numbers"]),
                checked_variables=data["variables"],
            )
        )

    def csv_response(self, verdicts: list[Verdict], *, with_bom: bool):
        zone = self.account.zone
        reasons = choice_labels(Reason)
        yes, no = str(_("Yes")), str(_("No"))
        columns = [
            field_column(_("Number as given"), "number", is_untrusted_text=True),
            field_column(_("Recipient"), "to"),
            field_column(_("Would send"), "would_send", format=lambda is_sent: yes if is_sent else no),
            field_column(
                _("Reason"), "reason", format=lambda reason: reasons.get(reason, "") if reason else ""
            ),
            field_column(_("Reason code"), "reason", format=lambda reason: reason or ""),
            field_column(f"{_('Blocked until')} ({zone.key})", "until"),
            field_column(_("Detail"), "problem", is_untrusted_text=True),
        ]
        return csv_streaming_response(
            (vars(verdict) for verdict in verdicts),
            columns=columns,
            zone=zone,
            filename=export_filename(
                export_name="number-check", account_slug=self.account.slug, at=clock.now(), zone=zone
            ),
            with_bom=with_bom,
        )
