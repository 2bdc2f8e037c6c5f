"""The replies list's filters."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from delivery.models import Template
from replies.models import Reply, Unsubscribe
from replies.selectors import reply_list, unsubscribe_list
from smsconsole.filters import AccountFilterSet, ConsoleFilterForm, PhoneFilter, ZonedDateTimeFilter


class ReplyFilter(AccountFilterSet):
    """Filters of the replies list (and GET /api/v1/replies)."""

    phone = PhoneFilter(field_name="phone", label=_("Phone number"))
    template = django_filters.ModelChoiceFilter(
        queryset=Template.objects.none(), label=_("Template"), empty_label=_("All")
    )
    tag = django_filters.CharFilter(
        field_name="tag", label=_("Tag"), widget=forms.TextInput(attrs={"list": "tag-suggestions"})
    )
    received_from = ZonedDateTimeFilter(field_name="received_at", lookup_expr="gte", label=_("Received from"))
    received_to = ZonedDateTimeFilter(field_name="received_at", lookup_expr="lte", label=_("Received until"))

    period = ("received_from", "received_to")

    class Meta:
        model = Reply
        fields = []
        form = ConsoleFilterForm

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, account=account, **kwargs)
        self.filters["template"].queryset = Template.objects.filter(account=account).order_by("name")

    @classmethod
    def account_queryset(cls, account):
        return reply_list(account=account)


class UnsubscribeFilter(AccountFilterSet):
    """Filters of the unsubscribe list. Not a log: without a period it lists every entry."""

    phone = PhoneFilter(field_name="phone", label=_("Phone number"))
    created_from = ZonedDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Unsubscribed from")
    )
    created_to = ZonedDateTimeFilter(
        field_name="created_at", lookup_expr="lte", label=_("Unsubscribed until")
    )

    period = ("created_from", "created_to")
    period_is_capped = False

    class Meta:
        model = Unsubscribe
        fields = []
        form = ConsoleFilterForm

    @classmethod
    def account_queryset(cls, account):
        return unsubscribe_list(account=account)
