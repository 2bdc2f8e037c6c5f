"""Kannel, the SMS gateway in front of the carriers' SMPP binds.

MT: one `GET <send URL>?username&password&to&text&charset=UTF-8&coding&dlr-mask&dlr-url` to smsbox
per message (sendsms takes one message a request). Kannel answers `202 0: Accepted for delivery`
or `202 3: Queued for later delivery` (both: it has the message), a 4xx/5xx with a text, or
nothing at all (refused, reset, timeout).

DLR: Kannel fetches the `dlr-url` given with the message, filling in `%d` (the type: 1 delivered,
2 failed, 4 buffered, 8 SMSC ack, 16 SMSC reject), `%A` (the SMSC's answer: the SMPP receipt text
for 1, 2 and 4), `%i` (the smsc-id), `%F` (the SMSC's message id) and `%T` (Unix time). The URL
carries our message id and a token, an HMAC of that id with the channel's secret: Kannel cannot
sign a request, so the token is what proves the callback is about that message. A concatenated
message gets one DLR, for its first part, standing for the whole message (Kannel asks the SMSC for
a receipt on that part only).

MO: a Kannel `sms-service` fetches the channel's replies URL (`mo_url_query`), which carries a
token of the channel alone.

The channel message id of a Kannel message is derived from our message id (`channel_message_id`),
never from Kannel's answer, so receipts match whether or not that answer arrived.
"""

import datetime as dt
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from delivery.channels.base import Accepted, ChannelUnavailable, Outbound, Rejected, SendResult
from delivery.channels.smpp import parse_dlr_line
from delivery.segments import is_gsm7

DEFAULT_TIMEOUT_SECONDS = 10
# Requests to smsbox in flight at once for one batch: smsbox answers each as soon as bearerbox has
# stored the message, so a few in parallel keep one bind busy without queueing up in smsbox.
CONCURRENCY = 4
# No request starts with less than this (or half the timeout) to wait for its answer: it could only
# time out.
MIN_REQUEST_SECONDS = 0.5

DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_ACK, DLR_SMSC_REJECT = 1, 2, 4, 8, 16
DLR_TYPES = (DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_ACK, DLR_SMSC_REJECT)
# Every report Kannel can give: delivered, failed, buffered, SMSC ack, SMSC reject.
DLR_MASK = sum(DLR_TYPES)

# Kannel's own refusals that say the message can never go (no route for the number, or the number
# is on the gateway's white/black lists): rejected, as a carrier's refusal would be.
PERMANENT_REFUSALS = ("Do not try again", "denied by white- and/or black-lists")
REFUSAL_RETURN_CODE = 590  # other: nothing about the number itself, so nothing is intercepted

CHANNEL_MESSAGE_ID_PREFIX = "kannel-"


def channel_message_id(ref: int) -> str:
    """The id receipts of message `ref` are matched by: ours, not the gateway's."""
    return f"{CHANNEL_MESSAGE_ID_PREFIX}{ref}"


def _token(secret: str, subject: str) -> str:
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]


def dlr_token(secret: str, ref: int) -> str:
    """The token a DLR callback for message `ref` must carry."""
    return _token(secret, f"kannel-dlr:{ref}")


def mo_token(secret: str) -> str:
    """The token the channel's MO (replies) URL carries."""
    return _token(secret, "kannel-mo")


def token_matches(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "replace"))


def dlr_url(*, endpoint: str, ref: int, secret: str) -> str:
    """The `dlr-url` for message `ref`; Kannel fills in the %-escapes when it calls back."""
    return f"{endpoint}?id={ref}&token={dlr_token(secret, ref)}&type=%d&smsc=%i&smsc_id=%F&at=%T&answer=%A"


def mo_url(*, endpoint: str, secret: str) -> str:
    """The `get-url` of the Kannel `sms-service` that forwards MO messages to the console."""
    return f"{endpoint}?token={mo_token(secret)}&from=%p&to=%P&at=%T&smsc=%i&coding=%c&charset=%C&text=%b"


@dataclass(frozen=True)
class _Answer:
    """What became of one sendsms request."""

    ref: int
    accepted: str | None = None  # Kannel's text, when it has the message
    refused: str | None = None  # Kannel's text, when it says the message can never go
    problem: str | None = None  # anything else: the message is tried again
    stop: bool = False  # the problem concerns every message: start no more requests


class KannelChannel:
    def __init__(
        self,
        *,
        send_url: str,
        username: str,
        password: str,
        secret: str,
        dlr_endpoint: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        concurrency: int = CONCURRENCY,
        held: Callable[[list[int]], dict[int, str]] | None = None,
    ):
        self.send_url = send_url
        self.username = username
        self.password = password
        self.secret = secret
        self.dlr_endpoint = dlr_endpoint
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        # Which of these refs Kannel is known to have already (a callback about them came in),
        # with a note for the send log: sendsms has no idempotency key, so those are not sent again.
        self.held = held

    def send(self, batch: list[Outbound]) -> SendResult:
        """Hand each message to smsbox; the whole batch finishes within 2 × timeout.

        That is the time the dispatch claim allows a channel call (connect and read may each take
        the whole timeout). Once it is spent no new request starts: those messages are left out of
        the result and so tried again, like every message whose request got no usable answer."""
        deadline = time.monotonic() + 2 * self.timeout
        held = self.held([m.ref for m in batch]) if self.held and batch else {}
        already = [
            Accepted(ref=ref, channel_message_id=channel_message_id(ref), note=held[ref]) for ref in held
        ]
        batch = [m for m in batch if m.ref not in held]
        stop = threading.Event()
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self.concurrency)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

        def one(message: Outbound) -> _Answer | None:
            remaining = deadline - time.monotonic()
            if stop.is_set() or remaining / 2 < min(MIN_REQUEST_SECONDS, self.timeout / 2):
                return None
            answer = self._send_one(session, message, timeout=min(self.timeout, remaining / 2))
            if answer.stop:
                stop.set()
            return answer

        try:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch) or 1)) as pool:
                answers = [a for a in pool.map(one, batch) if a is not None]
        finally:
            session.close()
        result = SendResult(
            accepted=already
            + [
                Accepted(
                    ref=a.ref, channel_message_id=channel_message_id(a.ref), note=f"Kannel: {a.accepted}"
                )
                for a in answers
                if a.accepted is not None
            ],
            rejected=[
                Rejected(ref=a.ref, code=REFUSAL_RETURN_CODE, detail=f"Kannel: {a.refused}")
                for a in answers
                if a.refused is not None
            ],
        )
        problems = [a.problem for a in answers if a.problem]
        if batch and not result.accepted and not result.rejected:
            raise ChannelUnavailable(
                problems[0] if problems else "no request could start within the time budget"
            )
        return result

    def _send_one(self, session: requests.Session, message: Outbound, *, timeout: float) -> _Answer:
        params = {
            "username": self.username,
            "password": self.password,
            "to": message.to,
            "text": message.content,
            "charset": "UTF-8",
            # GSM-7 text goes as 7-bit; anything else as UCS-2, so Japanese arrives intact.
            "coding": "0" if is_gsm7(message.content) else "2",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": dlr_url(endpoint=self.dlr_endpoint, ref=message.ref, secret=self.secret),
        }
        try:
            response = session.get(self.send_url, params=params, timeout=timeout)
        except requests.RequestException as exc:
            # Refused, reset or timed out: Kannel is not answering now, so the batch stops. When
            # the request had gone out, Kannel may have the message all the same: the next attempt
            # looks for a callback about it before sending again (`held`).
            return _Answer(message.ref, problem=_describe(exc), stop=True)
        text = " ".join(response.text.split())[:300]
        if response.status_code in (200, 202) and re.match(r"^[03]:", text):
            return _Answer(message.ref, accepted=text)
        if 400 <= response.status_code < 500 and any(phrase in text for phrase in PERMANENT_REFUSALS):
            return _Answer(message.ref, refused=text)
        # Authorization, a 5xx ("Temporal failure, try again later.") or an answer we do not know:
        # nothing about this message, so the batch stops and waits for its next attempt.
        per_message = 400 <= response.status_code < 500 and response.status_code not in (401, 403)
        return _Answer(message.ref, problem=f"HTTP {response.status_code}: {text}", stop=not per_message)


def _describe(exc: Exception) -> str:
    # The send URL's query holds the password: it never goes into an error we log.
    return re.sub(r"\?[^\s'\"]*", "?…", f"{type(exc).__name__}: {exc}")[:500]


# --- callbacks -------------------------------------------------------------------------------------


class CallbackError(ValueError):
    """A Kannel callback we cannot read; the message says which parameter."""


def _smpp_date(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%y%m%d%H%M%S")


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def callback_time(value: str | None, *, now: dt.datetime) -> dt.datetime:
    """Kannel's `%T` (whole Unix seconds) as the latest moment it can stand for, never after `now`.

    An MO received within the second a message was handed over still answers that message: the
    whole second counts, not its start. Missing or unreadable: `now`."""
    try:
        seconds = int((value or "").strip())
        at = dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(microseconds=999_999)
    except (ValueError, OverflowError, OSError):
        return now
    return min(at, now)


def dlr_receipt_line(
    *, ref: int, dlr_type: int, answer: str, smsc: str, smsc_message_id: str, at: dt.datetime
):
    """The callback as an SMPP 3.4 receipt line about our message, for the receipts inbox.

    Final and buffered reports carry the SMSC's receipt text in `answer`; its stat and err are kept
    (they decide the return code through the staff-edited table), its id becomes ours. An SMSC
    ack is an intermediate ACCEPTD, logged only. An SMSC reject (the submit_sm was refused) is
    REJECTD with the SMPP error as err, three hex digits ("NACK/0x0000000b/…" → 00B). A report
    without a readable receipt text takes the stat its type implies."""
    if dlr_type not in DLR_TYPES:
        raise CallbackError(f"type must be one of {', '.join(map(str, DLR_TYPES))}")
    ours = channel_message_id(ref)
    if dlr_type in (DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED):
        try:
            receipt = parse_dlr_line(_one_line(answer, 1000))
        except ValueError:
            receipt = None
        if receipt is not None:
            return re.sub(r"^id:\S+", f"id:{ours}", receipt.line, count=1, flags=re.IGNORECASE)
    stat, err, text = {
        DLR_DELIVERED: ("DELIVRD", "000", answer),
        DLR_FAILED: ("UNDELIV", "000", answer),
        DLR_BUFFERED: ("ENROUTE", "000", answer),
        DLR_SMSC_ACK: ("ACCEPTD", "000", f"SMSC {smsc} took it as {smsc_message_id}"),
        DLR_SMSC_REJECT: ("REJECTD", _nack_code(answer), answer),
    }[dlr_type]
    date = _smpp_date(at)
    return (
        f"id:{ours} sub:001 dlvrd:000 submit date:{date} done date:{date} stat:{stat} err:{err} "
        f"text:{_one_line(text)}"
    ).rstrip()


def _nack_code(answer: str) -> str:
    match = re.search(r"0x([0-9A-Fa-f]{1,8})", answer)
    return f"{int(match[1], 16) & 0xFFF:03X}" if match else "000"


MO_CHARSETS = {"UTF-16BE": "utf-16-be", "UCS-2": "utf-16-be", "UTF-8": "utf-8", "WINDOWS-1252": "cp1252"}
MO_CHARSETS |= {"ISO-8859-1": "latin-1", "LATIN1": "latin-1", "GSM": "utf-8"}


def mo_text(raw: bytes, *, charset: str | None, coding: str | None) -> str:
    """The MO text from Kannel's `%b` (the message's bytes) in the charset it names (`%C`)."""
    name = (charset or "").strip().upper()
    codec = MO_CHARSETS.get(name) or ("utf-16-be" if (coding or "").strip() == "2" else "utf-8")
    return raw.decode(codec, errors="replace")


def mo_phone(value: str) -> str:
    """Kannel's `%p`: `+81…` when the SMSC said international; `0081…` and bare `81…` become `+81…`."""
    number = value.strip()
    if number.startswith("00"):
        return "+" + number[2:]
    if number.isdigit() and not number.startswith("0"):
        return "+" + number
    return number
