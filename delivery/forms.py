"""The console's forms of the delivery app (its list filters are in filters.py)."""

import csv
import io
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from delivery.selectors import template_list
from delivery.services.precheck import MAX_CONSOLE_NUMBERS

# Pasted numbers: one a line, or separated by commas (semicolons and tabs too, as spreadsheets paste).
NUMBER_SEPARATORS = re.compile(r"[\r\n,;\t]+")
# Larger than 100,000 numbers take with a few columns beside them; refused before it is read.
MAX_CSV_BYTES = 20 * 1024 * 1024
# Japanese spreadsheet programs save CSV as Shift_JIS (cp932) unless told otherwise.
CSV_ENCODINGS = ("utf-8-sig", "cp932")


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, template):
        return f"{template.name} ({template.get_type_display()})"


class NumberCheckForm(forms.Form):
    """A template of the account, numbers pasted or uploaded as CSV, variables for every number."""

    template = TemplateChoiceField(
        label=_("Template"),
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of your account's templates.")},
    )
    numbers = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "090-1234-5678\n+81 80 1111 2222"}),
        help_text=_("One a line, or separated by commas."),
    )
    csv_file = forms.FileField(
        label=_("or a CSV file"),
        required=False,
        help_text=_("Numbers in the first column; a header row is optional. UTF-8 or Shift_JIS."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    variables = forms.CharField(
        label=_("Variables"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "code=1234"}),
        help_text=_("One name=value a line, the same for every number."),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = template_list(account=account)

    def clean_numbers(self) -> list[str]:
        return _split_numbers(self.cleaned_data["numbers"])

    def clean_csv_file(self) -> list[str]:
        upload = self.cleaned_data["csv_file"]
        if not upload:
            return []
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(max)d MB.") % {"max": MAX_CSV_BYTES // (1024 * 1024)}
            )
        return _csv_numbers(upload.read())

    def clean_variables(self) -> dict[str, str]:
        variables = {}
        for line_number, line in enumerate(self.cleaned_data["variables"].splitlines(), start=1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise forms.ValidationError(
                    _("Line %(line)d is not name=value: “%(text)s”.") % {"line": line_number, "text": line}
                )
            variables[name.strip()] = value.strip()
        return variables

    def clean(self):
        cleaned = super().clean()
        if "numbers" not in cleaned or "csv_file" not in cleaned:
            return cleaned
        numbers = cleaned["numbers"] + cleaned["csv_file"]
        if not numbers:
            raise forms.ValidationError(_("Paste phone numbers or upload a CSV file of them."))
        if len(numbers) > MAX_CONSOLE_NUMBERS:
            raise forms.ValidationError(
                _("Check at most %(max)s numbers at a time; this list has %(count)s.")
                % {"max": f"{MAX_CONSOLE_NUMBERS:,}", "count": f"{len(numbers):,}"}
            )
        cleaned["all_numbers"] = numbers
        return cleaned


def _split_numbers(text: str) -> list[str]:
    return [part.strip() for part in NUMBER_SEPARATORS.split(text) if part.strip()]


def _csv_numbers(data: bytes) -> list[str]:
    """The first column's non-empty cells; the first row is a header when its cell has no digit."""
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise forms.ValidationError(_("The file is not a CSV file in UTF-8 or Shift_JIS."))
    if "\x00" in text:
        raise forms.ValidationError(_("The file is not a CSV file in UTF-8 or Shift_JIS."))
    try:
        cells = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    except csv.Error as exc:
        raise forms.ValidationError(
            _("The file could not be read as CSV: %(error)s") % {"error": exc}
        ) from None
    if cells and not any(character.isdigit() for character in cells[0]):
        cells = cells[1:]
    if not cells:
        raise forms.ValidationError(_("The file has no phone numbers in its first column."))
    return cells
