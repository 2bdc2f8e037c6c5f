"""SMPP 3.4 delivery receipts in their text form, one per line:

    id:012345 sub:001 dlvrd:001 submit date:2611281203 done date:2611281204 stat:DELIVRD err:000 text:Hi

Dates are YYMMDDhhmm (optionally with ss) and taken as UTC. Mapping (stat, err) to our return
codes is data (delivery.SmppErrorMapping), applied by the receipt service.
"""

import datetime as dt
import re
from dataclasses import dataclass

from delivery.channels.payloads import (
    MAX_CHANNEL_MESSAGE_ID_LENGTH,
    MAX_ERRORS_REPORTED,
    MAX_ITEMS,
    UNSTORABLE_TEXT,
    PayloadError,
    is_storable,
)

# Fields are separated by spaces or tabs and numbers are ASCII digits, as the OpenAPI schema says
# (`\s`, `\S` and `\d` would disagree with it on other scripts' digits and on control characters).
DLR_RE = re.compile(
    r"^id:(?P<id>[^ \t\r\n]+)[ \t]+"
    r"sub:(?P<sub>[0-9]+)[ \t]+"
    r"dlvrd:(?P<dlvrd>[0-9]+)[ \t]+"
    r"submit date:(?P<submit>[0-9]{10}(?:[0-9]{2})?)[ \t]+"
    r"done date:(?P<done>[0-9]{10}(?:[0-9]{2})?)[ \t]+"
    r"stat:(?P<stat>[A-Za-z]+)[ \t]+"
    r"err:(?P<err>[0-9A-Za-z]+)"
    r"(?:[ \t]+text:(?P<text>.*))?$",
    re.IGNORECASE,
)
# Around a line: what a sender's formatting or Windows line ends leave.
LINE_PADDING = " \t\r"
FINAL_STATS = {"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"}
INTERMEDIATE_STATS = {"ENROUTE", "ACCEPTD"}


@dataclass(frozen=True)
class SmppReceipt:
    channel_message_id: str
    stat: str
    err: str
    submitted_at: dt.datetime
    done_at: dt.datetime
    text: str
    line: str


def parse_smpp_date(value: str) -> dt.datetime:
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)


def parse_dlr_line(line: str) -> SmppReceipt:
    # The id and the text are stored as they came, so the whole line must be storable.
    if not is_storable(line):
        raise ValueError(f"must be text {UNSTORABLE_TEXT}")
    match = DLR_RE.match(line.strip(LINE_PADDING))
    if not match:
        raise ValueError(
            "not an SMPP delivery receipt (id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…)"
        )
    if len(match["id"]) > MAX_CHANNEL_MESSAGE_ID_LENGTH:
        raise ValueError(f"id longer than {MAX_CHANNEL_MESSAGE_ID_LENGTH} characters")
    stat = match["stat"].upper()
    if stat not in FINAL_STATS | INTERMEDIATE_STATS:
        raise ValueError(f"unknown stat {stat!r}")
    try:
        submitted_at = parse_smpp_date(match["submit"])
        done_at = parse_smpp_date(match["done"])
    except ValueError:
        raise ValueError("dates must be YYMMDDhhmm[ss]") from None
    return SmppReceipt(
        channel_message_id=match["id"],
        stat=stat,
        err=match["err"].upper().zfill(3),
        submitted_at=submitted_at,
        done_at=done_at,
        text=(match["text"] or "").strip(LINE_PADDING),
        line=line.strip(LINE_PADDING),
    )


def parse_dlr_text(body: bytes) -> list[SmppReceipt]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8.") from None
    # Lines end at "\n" only: str.splitlines() would also split a receipt's text at U+2028, U+0085
    # or a control character, and the second half would be refused as a receipt of its own.
    lines = [
        (number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip(LINE_PADDING)
    ]
    if not lines:
        raise PayloadError("No delivery receipts in the body.", {"body": "empty"})
    if len(lines) > MAX_ITEMS:
        raise PayloadError(
            f"At most {MAX_ITEMS} receipts per request, got {len(lines)}.", {"body": "too many"}
        )
    receipts, errors = [], {}
    for number, line in lines:
        try:
            receipts.append(parse_dlr_line(line))
        except ValueError as exc:
            if len(errors) < MAX_ERRORS_REPORTED:
                errors[f"line {number}"] = str(exc)
    if errors:
        raise PayloadError(
            f"Invalid delivery receipts: {len(errors)} bad line(s), first at {next(iter(errors))}.", errors
        )
    return receipts
