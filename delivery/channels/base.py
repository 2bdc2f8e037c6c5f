"""What every channel adapter offers, and the plain data that crosses the boundary."""

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Outbound:
    """One message to hand to a channel. `ref` is our message id: the channel's idempotency key."""

    ref: int
    to: str
    content: str
    segments: int = 1


@dataclass(frozen=True)
class Accepted:
    ref: int
    channel_message_id: str
    # What the channel said, when worth keeping in the send log (e.g. Kannel's "3: Queued for
    # later delivery").
    note: str = ""


@dataclass(frozen=True)
class Rejected:
    ref: int
    code: int
    detail: str


@dataclass
class SendResult:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class ChannelUnavailable(Exception):
    """The channel could not take the batch now (down, timeout, 5xx): try again later."""


@dataclass(frozen=True)
class ReceiptItem:
    """A delivery receipt as the pipeline understands it, whatever format it came in."""

    channel_message_id: str
    status: str  # "delivered", "failed", or "pending" (an intermediate state: logged only)
    code: int | None
    detail: str
    done_at: dt.datetime
    part: int | None = None
    parts: int | None = None

    def as_log(self) -> dict:
        return {
            "id": self.channel_message_id,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "done_at": self.done_at.isoformat(),
            "part": self.part,
            "parts": self.parts,
        }


@dataclass(frozen=True)
class ReplyItem:
    phone: str
    content: str
    received_at: dt.datetime
    carrier: str = ""


class ChannelAdapter(Protocol):
    def send(self, batch: list[Outbound]) -> SendResult:
        """Hand `batch` to the channel; say which refs it accepted and which it refused.

        Raises ChannelUnavailable when nothing can be said about the batch (retry it later)."""
        ...


# A signed request older (or newer) than this is refused: a captured body cannot be replayed later.
SIGNATURE_TOLERANCE_SECONDS = 300


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The `X-Signature` header value: sha256=<hex HMAC-SHA256 with the secret>.

    With a timestamp the HMAC covers `"<timestamp>." + body` (the current form, sent with
    `X-Signature-Timestamp`); without one it covers the body alone (the legacy form)."""
    message = body if timestamp is None else f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The two headers of a signed request: `X-Signature-Timestamp` (Unix seconds) and `X-Signature`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"X-Signature-Timestamp": str(timestamp), "X-Signature": sign(body, secret, timestamp=timestamp)}


def _same(expected: str, header: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is whatever was sent.
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def signature_problem(
    body: bytes,
    secret: str,
    *,
    signature: str | None,
    timestamp: str | None,
    accepts_legacy: bool,
    now: float | None = None,
) -> str | None:
    """Why a signed request is refused, or None when its signature holds.

    The timestamped form must be within SIGNATURE_TOLERANCE_SECONDS of `now`; the legacy form (no
    timestamp header) only counts when `accepts_legacy` (a per-channel switch staff turn off)."""
    if not signature:
        return "missing X-Signature"
    if timestamp is None or timestamp.strip() == "":
        if not accepts_legacy:
            return "missing X-Signature-Timestamp"
        return None if _same(sign(body, secret), signature) else "wrong X-Signature"
    text = timestamp.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        return "X-Signature-Timestamp must be Unix seconds"
    now = time.time() if now is None else now
    if abs(now - int(text)) > SIGNATURE_TOLERANCE_SECONDS:
        return f"X-Signature-Timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} seconds away from now"
    return None if _same(sign(body, secret, timestamp=int(text)), signature) else "wrong X-Signature"
