"""Form fields and forms the console's filters share: phone numbers, zoned times, the 30-day period."""

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from smsconsole import clock
from smsconsole.phone import InvalidPhoneNumber, phone_to_e164

DEFAULT_PERIOD = dt.timedelta(hours=24)
# How a time is shown in (and typed into) a filter: the account's zone, to the minute. Plain text
# inputs, not the browser's datetime-local, whose format follows the browser's locale rather than
# the page's language: Japanese pages write 2026/11/28 14:05, English ones 2026-11-28 14:05.
DATETIME_DISPLAY_FORMATS = {"ja": "%Y/%m/%d %H:%M"}
DEFAULT_DATETIME_DISPLAY_FORMAT = "%Y-%m-%d %H:%M"
DATETIME_PLACEHOLDERS = {"ja": "YYYY/MM/DD hh:mm"}
DEFAULT_DATETIME_PLACEHOLDER = "YYYY-MM-DD hh:mm"
# Besides ISO 8601 (with or without an offset, with a T or a space), which is always read.
DATETIME_INPUT_FORMATS = [
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
]
# The time inputs show minutes: a start picked as "30 days ago" is up to a minute older when sent.
PERIOD_GRACE = dt.timedelta(minutes=2)


class PhoneField(forms.CharField):
    """A phone number typed any usual way, cleaned to E.164 by the same normaliser as storage."""

    def __init__(self, *, region: str = "JP", **kwargs):
        self.region = region
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "090-1234-5678", "inputmode": "tel"})
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        try:
            return phone_to_e164(value, default_region=self.region)
        except InvalidPhoneNumber:
            raise forms.ValidationError(
                _("Enter a valid phone number, for example 090-1234-5678 or +81 90 1234 5678."),
                code="invalid_phone",
            ) from None


def _language() -> str:
    return (translation.get_language() or "")[:2]


def datetime_display_format() -> str:
    """The strftime format the console shows a filter's time in, for the active language."""
    return DATETIME_DISPLAY_FORMATS.get(_language(), DEFAULT_DATETIME_DISPLAY_FORMAT)


class ZonedDateTimeField(forms.DateTimeField):
    """A date and time read in the account's zone (not the server's), however the form is used."""

    def __init__(self, *, zone: ZoneInfo | None = None, **kwargs):
        self.zone = zone
        kwargs.setdefault("input_formats", DATETIME_INPUT_FORMATS)
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(
                attrs={
                    "class": "datetime",
                    "autocomplete": "off",
                    "placeholder": DATETIME_PLACEHOLDERS.get(_language(), DEFAULT_DATETIME_PLACEHOLDER),
                },
                format=datetime_display_format(),
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.zone is None:
            parsed = super().to_python(value)
        else:
            with timezone.override(self.zone):
                parsed = super().to_python(value)
        # Year 1 or 9999 parses, then overflows the first time anything is added to it.
        first, last = clock.PLAUSIBLE_YEARS
        if parsed is not None and not first <= parsed.year <= last:
            raise forms.ValidationError(
                _("Enter a date between the years %(first)d and %(last)d."),
                code="implausible_year",
                params={"first": first, "last": last},
            )
        return parsed


def datetime_shown(value: dt.datetime, zone: ZoneInfo | None) -> str:
    """A time as a filter's input shows it (the account's zone, the active language's format)."""
    local = timezone.localtime(value, zone) if zone else timezone.localtime(value)
    return local.strftime(datetime_display_format())


def period_clean(
    form: forms.Form,
    cleaned_data: dict,
    *,
    start_name: str,
    end_name: str,
    zone: ZoneInfo | None,
    is_capped: bool = True,
) -> None:
    """Apply the console's period rule to `cleaned_data` in place.

    No start means the last 24 hours (before the end, if one is given): the default is written back
    into the form so the page shows the period it lists. A start further back than
    SMS_CONSOLE_MAX_PERIOD_DAYS, or an end before the start, is an error on that field: a query is
    never silently clipped. An uncapped period (`is_capped=False`: a list that is not a log, like
    the unsubscribe list) has no default and no limit; only its order is checked.
    """
    if start_name in form.errors or end_name in form.errors:
        return
    now = clock.now()
    start, end = cleaned_data.get(start_name), cleaned_data.get(end_name)
    if not is_capped:
        if start is not None and end is not None and end < start:
            form.add_error(
                end_name,
                forms.ValidationError(
                    _("The end of the period is before its start."), code="period_reversed"
                ),
            )
        return
    if start is None:
        start = (end or now) - DEFAULT_PERIOD
        cleaned_data[start_name] = start
        form.data = form.data.copy()
        form.data[form.add_prefix(start_name)] = datetime_shown(start, zone)
    max_days = settings.SMS_CONSOLE_MAX_PERIOD_DAYS
    if start < now - dt.timedelta(days=max_days) - PERIOD_GRACE:
        form.add_error(
            start_name,
            forms.ValidationError(
                _("The period can reach back at most %(days)d days; choose a later start."),
                code="period_too_long",
                params={"days": max_days},
            ),
        )
    elif end is not None and end < start:
        form.add_error(
            end_name,
            forms.ValidationError(_("The end of the period is before its start."), code="period_reversed"),
        )
