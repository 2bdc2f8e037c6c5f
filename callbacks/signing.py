"""How callbacks are signed, and how a customer checks one.

`X-Signature: t=<Unix seconds>,sha256=<hex HMAC-SHA256 of "<t>." followed by the body>`, with the
endpoint's secret. The time in the signed text lets the receiver refuse an old request replayed."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"


def signature(*, body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={digest}"


def signature_is_valid(*, body: bytes, secret: str, header: str) -> bool:
    """The receiver's check (documented for customers; the tests verify deliveries with it)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "sha256" not in fields or not fields["t"].isdigit():
        return False
    expected = signature(body=body, secret=secret, timestamp=int(fields["t"]))
    return hmac.compare_digest(expected, header)
