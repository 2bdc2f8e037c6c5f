from django import forms
from django.utils.translation import gettext_lazy as _

from callbacks.models import EventKind
from smsconsole.forms import ZonedDateTimeField


class CallbackEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Callback URL"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/sms/callbacks", "size": 60}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(EventKind.STATUS.value, _("Status changes")), (EventKind.REPLY.value, _("Replies"))],
        widget=forms.CheckboxSelectMultiple,
        initial=[EventKind.STATUS.value, EventKind.REPLY.value],
    )


class ReplayRangeForm(forms.Form):
    """Send again every event that occurred in a period (typed in the account's zone)."""

    start = forms.DateTimeField(label=_("From"))
    end = forms.DateTimeField(label=_("Until"))

    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start"] = ZonedDateTimeField(zone=zone, label=_("From"))
        self.fields["end"] = ZonedDateTimeField(zone=zone, label=_("Until"))

    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start"), cleaned_data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end of the period is before its start."))
        return cleaned_data
