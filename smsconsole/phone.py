"""Phone numbers: one normaliser for storage, API input and console filters."""

import functools

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def phone_to_e164(raw: str, *, default_region: str = "JP") -> str:
    """Parse `raw` (international, or national in `default_region`) and return it in E.164."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number ({exc})") from None
    if parsed.extension:
        # E.164 has no room for an extension: dropping it would text the main line instead.
        raise InvalidPhoneNumber(
            f"{raw!r} has an extension ({parsed.extension}); an SMS cannot reach an extension, "
            "give the mobile number alone"
        )
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid phone number")
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
