"""The base of every console FilterSet: bound to an account, usable in a view or outside one.

filterset = MessageFilter(request.GET, account=account)   # any QueryDict, or None for defaults
if filterset.is_valid():
    rows = filterset.qs            # the account's rows, filtered (order it yourself)
else:
    filterset.form.errors          # keyed by the query parameter's name
"""

import django_filters
from django import forms
from django.http import QueryDict

from smsconsole.forms import PhoneField, ZonedDateTimeField, period_clean


class PhoneFilter(django_filters.CharFilter):
    """An exact phone number, normalised to E.164 with the account's default region."""

    field_class = PhoneField


class ZonedDateTimeFilter(django_filters.DateTimeFilter):
    """A date and time typed in the account's zone."""

    field_class = ZonedDateTimeField


class ConsoleFilterForm(forms.Form):
    filterset = None  # set on each FilterSet's own form class

    def clean(self):
        cleaned_data = super().clean()
        self.filterset.clean_form(self, cleaned_data)
        return cleaned_data


class AccountFilterSet(django_filters.FilterSet):
    """A FilterSet scoped to one account. `period` names the (start, end) filters of the 30-day rule."""

    period: tuple[str, str] | None = None

    def __init__(self, data=None, queryset=None, *, account, request=None, prefix=None):
        self.account = account
        if queryset is None:
            queryset = self.account_queryset(account)
        # Always bound: an empty query string means "the defaults" (the last 24 hours), not "everything".
        super().__init__(data if data is not None else QueryDict(), queryset, request=request, prefix=prefix)
        for filter_ in self.filters.values():
            if isinstance(filter_, PhoneFilter):
                filter_.extra["region"] = account.default_region
            elif isinstance(filter_, ZonedDateTimeFilter):
                filter_.extra["zone"] = account.zone

    @classmethod
    def account_queryset(cls, account):
        raise NotImplementedError

    def get_form_class(self):
        form_class = super().get_form_class()  # a new class on every call
        form_class.filterset = self
        return form_class

    def clean_form(self, form, cleaned_data) -> None:
        """Cross-field validation; add errors with form.add_error(field, ...)."""
        if self.period:
            start_name, end_name = self.period
            period_clean(form, cleaned_data, start_name=start_name, end_name=end_name, zone=self.account.zone)
