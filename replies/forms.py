from django import forms
from django.utils.translation import gettext_lazy as _

from replies.services import UNSUBSCRIBE_NOTE_MAX_LENGTH


class UnsubscribeRemoveForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=UNSUBSCRIBE_NOTE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Why this number may be sent to again, for example “customer opted back in by phone”. "
            "Kept in the audit log with your name."
        ),
        error_messages={"required": _("Say why the number may be sent to again.")},
    )
