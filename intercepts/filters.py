"""The intercept list's filters."""

import django_filters
from django.utils.translation import gettext_lazy as _

from delivery.models import ReturnCode
from intercepts.models import Intercept, Scope
from intercepts.selectors import intercept_list_for
from smsconsole import clock
from smsconsole.filters import AccountFilterSet, ConsoleFilterForm, PhoneFilter


def return_code_choices():
    return [(code, f"{code} {label}") for code, label in ReturnCode.choices]


class InterceptFilter(AccountFilterSet):
    """Filters of the intercept list (and GET /api/v1/intercepts).

    Without a phone the list holds the account's own records and the global records that blocked
    its messages; with an exact phone, also any global record for that number (DESIGN.md).
    """

    phone = PhoneFilter(label=_("Phone number"), method="filter_phone")
    scope = django_filters.ChoiceFilter(choices=Scope.choices, label=_("Scope"), empty_label=_("All"))
    return_code = django_filters.ChoiceFilter(
        choices=return_code_choices, label=_("Return code"), empty_label=_("All")
    )
    state = django_filters.ChoiceFilter(
        choices=[("live", _("Live")), ("expired", _("Expired"))],
        label=_("State"),
        empty_label=_("All"),
        method="filter_state",
    )

    class Meta:
        model = Intercept
        fields = []
        form = ConsoleFilterForm

    @classmethod
    def account_queryset(cls, account):
        return intercept_list_for(account=account)

    def filter_phone(self, queryset, name, value):
        # The phone widens what may be seen (global records on that number), so it replaces the
        # base queryset; it is declared first, and the other filters narrow its result.
        return intercept_list_for(account=self.account, phone=value)

    def filter_state(self, queryset, name, value):
        now = clock.now()
        return queryset.live(now) if value == "live" else queryset.expired(now)
