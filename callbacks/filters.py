"""The delivery log's filters."""

import django_filters
from django.utils.translation import gettext_lazy as _

from callbacks.models import AttemptOutcome, CallbackAttempt
from callbacks.selectors import attempt_list
from smsconsole.filters import AccountFilterSet, ConsoleFilterForm, ZonedDateTimeFilter


class CallbackAttemptFilter(AccountFilterSet):
    outcome = django_filters.ChoiceFilter(
        field_name="outcome", choices=AttemptOutcome.choices, label=_("Outcome"), empty_label=_("All")
    )
    attempted_from = ZonedDateTimeFilter(field_name="attempted_at", lookup_expr="gte", label=_("From"))
    attempted_to = ZonedDateTimeFilter(field_name="attempted_at", lookup_expr="lte", label=_("Until"))

    period = ("attempted_from", "attempted_to")

    class Meta:
        model = CallbackAttempt
        fields = []
        form = ConsoleFilterForm

    @classmethod
    def account_queryset(cls, account):
        return attempt_list(account=account)
