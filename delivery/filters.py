"""The status list's filters. Every filter has an index path: see docs/architecture.md."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from delivery.models import (
    PROCESSING_FAILED_REASONS,
    SEND_FAILED_REASONS,
    STATUS_REASONS,
    Message,
    MessageStatus,
    Reason,
    ReturnCode,
    TemplateType,
)
from delivery.selectors import message_list
from smsconsole.filters import AccountFilterSet, ConsoleFilterForm, PhoneFilter, ZonedDateTimeFilter
from smsconsole.models import SmsUser
from smsconsole.selectors import sms_user_list

_REASON_CODES = {ReturnCode(code).name.lower(): code for code in ReturnCode.values}


def reason_choices():
    send_failed = [
        (reason.value, f"{_REASON_CODES.get(reason.value, '')} {reason.label}".strip())
        for reason in SEND_FAILED_REASONS
    ]
    return [
        (MessageStatus.PROCESSING_FAILED.label, [(r.value, r.label) for r in PROCESSING_FAILED_REASONS]),
        (MessageStatus.SEND_FAILED.label, send_failed),
    ]


class MessageFilter(AccountFilterSet):
    """Filters of the status list (and GET /api/v1/messages). Query parameters are the filter names."""

    phone = PhoneFilter(field_name="phone", label=_("Phone number"))
    status = django_filters.ChoiceFilter(
        choices=MessageStatus.choices, label=_("Status"), empty_label=_("All"), method="filter_later"
    )
    reason = django_filters.ChoiceFilter(
        choices=reason_choices, label=_("Reason"), empty_label=_("All"), method="filter_later"
    )
    template_type = django_filters.ChoiceFilter(
        choices=TemplateType.choices, label=_("Template type"), empty_label=_("All")
    )
    tag = django_filters.CharFilter(
        field_name="tag", label=_("Tag"), widget=forms.TextInput(attrs={"list": "tag-suggestions"})
    )
    sms_user = django_filters.ModelChoiceFilter(
        queryset=SmsUser.objects.none(), label=_("SMS_USER"), empty_label=_("All")
    )
    requested_from = ZonedDateTimeFilter(
        field_name="requested_at", lookup_expr="gte", label=_("Requested from")
    )
    requested_to = ZonedDateTimeFilter(
        field_name="requested_at", lookup_expr="lte", label=_("Requested until")
    )

    period = ("requested_from", "requested_to")
    status_filters = ("status", "reason")

    class Meta:
        model = Message
        fields = []
        form = ConsoleFilterForm

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, account=account, **kwargs)
        self.filters["sms_user"].queryset = sms_user_list(account=account)

    @classmethod
    def account_queryset(cls, account):
        return message_list(account=account)

    def clean_form(self, form, cleaned_data) -> None:
        super().clean_form(form, cleaned_data)
        status, reason = cleaned_data.get("status"), cleaned_data.get("reason")
        if status and reason and reason not in STATUS_REASONS.get(status, ()):
            form.add_error(
                "reason",
                _("%(status)s messages do not have the reason %(reason)s.")
                % {"status": MessageStatus(status).label, "reason": Reason(reason).label},
            )

    def filter_later(self, queryset, name, value):
        return queryset  # status and reason are applied together in filter_queryset

    def filter_queryset(self, queryset, *, skip=()):
        queryset = super().filter_queryset(queryset)
        if "status" in skip:
            return queryset
        status = self.form.cleaned_data.get("status")
        reason = self.form.cleaned_data.get("reason")
        if reason:
            # A reason alone still names its status(es), so the (account, status, reason, time)
            # index serves it. "other" exists under both failure statuses.
            statuses = (
                [status] if status else [s for s, reasons in STATUS_REASONS.items() if reason in reasons]
            )
            return queryset.filter(status__in=statuses, reason=reason)
        if status:
            return queryset.filter(status=status)
        return queryset

    def count_filters(self) -> dict:
        """The cleaned filters the counts above the list take: all but status and reason."""
        cleaned = self.form.cleaned_data
        return {
            "phone": cleaned.get("phone") or "",
            "template_type": cleaned.get("template_type") or "",
            "tag": cleaned.get("tag") or "",
            "sms_user": cleaned.get("sms_user"),
            "requested_from": cleaned.get("requested_from"),
            "requested_to": cleaned.get("requested_to"),
        }

    def matches_count(self, row: dict) -> bool:
        """Whether a row of message_status_counts is one of the messages this filter lists."""
        status = self.form.cleaned_data.get("status")
        reason = self.form.cleaned_data.get("reason")
        if reason:
            return row["reason"] == reason and (not status or row["status"] == status)
        return not status or row["status"] == status

    def facet_queryset(self):
        """Everything the current filter matches except its status and reason: the counts' base."""
        return self.filter_queryset(self.queryset.all(), skip=("status",))
