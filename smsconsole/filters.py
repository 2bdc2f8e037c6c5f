"""The base of every console FilterSet: bound to an account, usable in a view or outside one.

filterset = MessageFilter(request.GET, account=account)   # any QueryDict, or None for defaults
if filterset.is_valid():
    rows = filterset.qs            # the account's rows, filtered (order it yourself)
else:
    filterset.form.errors          # keyed by the query parameter's name
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smsconsole import clock
from smsconsole.forms import PhoneField, ZonedDateTimeField, datetime_shown, period_clean

# The buttons beside a list's period fields (`?preset=7d`): each sets the start and clears the end.
PRESET_PARAM = "preset"
PERIOD_PRESETS = {
    "today": _("Today"),
    "24h": _("24 hours"),
    "7d": _("7 days"),
    "30d": _("30 days"),
}
_PRESET_SPANS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}


@dataclass(frozen=True)
class PeriodPreset:
    value: str
    label: str
    is_active: bool


def period_preset_start(name: str, *, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """Where a preset's period starts: midnight in the account's zone for "today", else a span back."""
    if name == "today":
        return timezone.localtime(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    span = _PRESET_SPANS.get(name)
    return now - span if span else None


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
    # False for a list that is not a log (the unsubscribe list): no default period, no 30-day limit.
    period_is_capped: bool = True

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
            period_clean(
                form,
                cleaned_data,
                start_name=start_name,
                end_name=end_name,
                zone=self.account.zone,
                is_capped=self.period_is_capped,
            )

    # --- period presets (the console's; the API has no such parameter) ---------------------------

    @classmethod
    def with_period_preset(cls, data, *, account):
        """`data` with a `preset` turned into the period it names (start set, end cleared).

        The inputs then show the preset's period like a typed one, and the usual rules check it.
        An unknown preset is ignored."""
        if not cls.period or data is None or PRESET_PARAM not in data:
            return data
        start = period_preset_start(data.get(PRESET_PARAM, ""), now=clock.now(), zone=account.zone)
        if start is None:
            return data
        start_name, end_name = cls.period
        data = data.copy()
        data[start_name] = datetime_shown(start, account.zone)
        data[end_name] = ""
        return data

    def period_presets(self) -> list[PeriodPreset]:
        if not self.period:
            return []
        active = self.data.get(PRESET_PARAM, "")
        return [
            PeriodPreset(value=value, label=str(label), is_active=value == active)
            for value, label in PERIOD_PRESETS.items()
        ]
