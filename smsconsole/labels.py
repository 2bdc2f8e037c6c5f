"""Choice labels (statuses, reasons, template types, scopes) from a dict per language.

`get_FOO_display()` rebuilds the field's whole choice list and hashes it on every call; a page of 50
rows, or a CSV of a million, asks for the same few labels over and over. These dicts are built once
per choices class and language.
"""

from functools import lru_cache

from django.db import models
from django.utils.translation import get_language


def choice_label(choices: type[models.Choices], value) -> str:
    """The label of `value` in the active language; an unknown value is shown as it is stored."""
    return choice_labels(choices).get(value, value)


def choice_labels(choices: type[models.Choices]) -> dict:
    """{stored value: label in the active language}."""
    return _labels(choices, get_language())


@lru_cache(maxsize=128)
def _labels(choices: type[models.Choices], language: str | None) -> dict:
    # The lazy labels are turned into text in `language`, which is the active one here.
    return {value: str(label) for value, label in choices.choices}
