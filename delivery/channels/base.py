"""What every channel adapter offers, and the plain data that crosses the boundary."""

import datetime as dt
import hashlib
import hmac
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


def sign(body: bytes, secret: str) -> str:
    """The `X-Signature` header value for `body`: sha256=<hex HMAC-SHA256 with the secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, secret: str, header: str | None) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is whatever was sent.
    return bool(header) and hmac.compare_digest(
        sign(body, secret).encode(), header.strip().encode("utf-8", "replace")
    )
