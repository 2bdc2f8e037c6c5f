"""Phone numbers: one normaliser for storage, API input and console filters."""

import functools

import phonenumbers
from django.utils.translation import gettext as _


class InvalidPhoneNumber(ValueError):
    pass


def phone_to_e164(raw: str, *, default_region: str = "JP") -> str:
    """Parse `raw` (international, or national in `default_region`) and return it in E.164."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(_("Enter a phone number."))
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        # Our words, not the library's ("(1) The string supplied did not seem to be a phone number.").
        raise InvalidPhoneNumber(_("“%(number)s” is not a valid phone number.") % {"number": raw}) from None
    if parsed.extension:
        # E.164 has no room for an extension: dropping it would text the main line instead.
        raise InvalidPhoneNumber(
            _(
                "“%(number)s” has an extension: phone extensions are not accepted, since an SMS cannot "
                "reach one. Give the mobile number alone."
            )
            % {"number": raw}
        )
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(_("“%(number)s” is not a valid phone number.") % {"number": raw})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Parsing and formatting with phonenumbers costs about as much as rendering the rest of a table
# row; list pages and exports show the same numbers over and over.
@functools.lru_cache(maxsize=65536)
def phone_display(e164: str) -> str:
    """The international format a person reads (+81 90-1234-5678)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
