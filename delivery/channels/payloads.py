"""Reading webhook bodies: JSON receipts and replies, checked item by item.

A body is either entirely valid or refused with every problem named; nothing is half-accepted.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass

from delivery.channels.base import ReceiptItem, ReplyItem
from smsconsole.clock import PLAUSIBLE_YEARS
from smsconsole.phone import InvalidPhoneNumber, phone_to_e164

MAX_ITEMS = 10_000
MAX_ERRORS_REPORTED = 50


class PayloadError(ValueError):
    """A body we do not accept: `errors` names each bad place with its problems, as the API's 400s do."""

    def __init__(self, message: str, errors: dict[str, str | list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = {where: [p] if isinstance(p, str) else list(p) for where, p in (errors or {}).items()}


@dataclass
class _Errors:
    found: dict

    def add(self, where: str, problem: str):
        if len(self.found) < MAX_ERRORS_REPORTED:
            self.found[where] = problem

    def raise_if_any(self, what: str):
        if self.found:
            raise PayloadError(
                f"Invalid {what}: {len(self.found)} problem(s), first at {next(iter(self.found))}.",
                self.found,
            )


# The longest channel message id we store (Message.channel_message_id, EarlyReceipt).
MAX_CHANNEL_MESSAGE_ID_LENGTH = 64


def parse_timestamp(value) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a time zone offset (e.g. Z or +09:00)")
    first, last = PLAUSIBLE_YEARS
    if not first <= parsed.year <= last:
        raise ValueError(f"must be between the years {first} and {last}")
    return parsed.astimezone(dt.UTC)


# PostgreSQL refuses U+0000 in text and jsonb, and no UTF-8 encoder (psycopg's, SQLite's) takes a
# lone surrogate, which JSON can spell as "\ud800". Either would pass parsing and fail at the write.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "without NUL characters or lone surrogates (U+D800 to U+DFFF)"


def is_storable(text: str) -> bool:
    """Whether the database can store `text`: checked for every string a request brings to a row."""
    return _UNSTORABLE_RE.search(text) is None


def _load_list(body: bytes, key: str) -> list:
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"The body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except RecursionError:
        raise PayloadError("The body is not JSON we accept: it is nested too deeply.") from None
    except ValueError:
        # Python refuses integer literals over sys.get_int_max_str_digits() (4,300 by default).
        raise PayloadError("The body is not JSON we accept: a number has more than 4,300 digits.") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise PayloadError(f'Expected an object with a "{key}" list.', {key: "missing or not a list"})
    items = document[key]
    if not items:
        raise PayloadError(f'"{key}" is empty.', {key: "empty"})
    if len(items) > MAX_ITEMS:
        raise PayloadError(f"At most {MAX_ITEMS} {key} per request, got {len(items)}.", {key: "too many"})
    return items


def parse_receipts_json(body: bytes) -> list[ReceiptItem]:
    items = _load_list(body, "receipts")
    errors = _Errors({})
    receipts = []
    for index, item in enumerate(items):
        where = f"receipts[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "must be an object")
            continue
        receipt = _receipt_from(item, where, errors)
        if receipt is not None:
            receipts.append(receipt)
    errors.raise_if_any("receipts")
    return receipts


def _receipt_from(item: dict, where: str, errors: _Errors) -> ReceiptItem | None:
    ok = True
    message_id = item.get("id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool) or str(message_id).strip() == "":
        errors.add(f"{where}.id", "required: the channel message id")
        ok = False
    elif len(str(message_id).strip()) > MAX_CHANNEL_MESSAGE_ID_LENGTH or not is_storable(str(message_id)):
        errors.add(f"{where}.id", f"at most {MAX_CHANNEL_MESSAGE_ID_LENGTH} characters, {UNSTORABLE_TEXT}")
        ok = False
    status = item.get("status")
    if status not in ("delivered", "failed"):
        errors.add(f"{where}.status", 'must be "delivered" or "failed"')
        ok = False
    code = item.get("code")
    if status == "failed":
        if not isinstance(code, int) or isinstance(code, bool) or not 500 <= code <= 599:
            errors.add(f"{where}.code", "a failed receipt needs a return code from 500 to 599")
            ok = False
    elif code is not None:
        code = None  # a delivered receipt has no return code; carriers sometimes send 0
    detail = item.get("detail", "")
    if detail is None:
        detail = ""
    if not isinstance(detail, str) or not is_storable(detail):
        errors.add(f"{where}.detail", f"must be a string {UNSTORABLE_TEXT}")
        ok = False
    try:
        done_at = parse_timestamp(item.get("done_at"))
    except ValueError as exc:
        errors.add(f"{where}.done_at", str(exc))
        ok = False
    part, parts = item.get("part"), item.get("parts")
    if part is not None or parts is not None:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (part, parts)):
            errors.add(f"{where}.part", "part and parts go together, as whole numbers")
            ok = False
        elif not 1 <= part <= parts <= 255:
            errors.add(f"{where}.part", "needs 1 <= part <= parts <= 255")
            ok = False
    if not ok:
        return None
    return ReceiptItem(
        channel_message_id=str(message_id).strip(),
        status=status,
        code=code,
        detail=detail[:1000],
        done_at=done_at,
        part=part,
        parts=parts,
    )


# A reply is stored whole or refused, never cut: concatenated MO of ten UCS-2 parts is 670
# characters; Kannel's callback admits 8,000 bytes. The carrier is the reply's column width.
MAX_REPLY_CHARACTERS = 8000
MAX_CARRIER_CHARACTERS = 100


def parse_replies_json(body: bytes) -> list[ReplyItem]:
    items = _load_list(body, "replies")
    errors = _Errors({})
    replies = []
    for index, item in enumerate(items):
        where = f"replies[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "must be an object")
            continue
        ok = True
        try:
            phone = phone_to_e164(str(item.get("from") or ""), default_region="ZZ")
        except InvalidPhoneNumber:
            errors.add(f"{where}.from", "must be a valid phone number in international format (+81…)")
            ok = False
        content = item.get("content")
        if not isinstance(content, str) or not content.strip() or not is_storable(content):
            errors.add(f"{where}.content", f"required, a non-empty string {UNSTORABLE_TEXT}")
            ok = False
        elif len(content) > MAX_REPLY_CHARACTERS:
            errors.add(f"{where}.content", f"is longer than {MAX_REPLY_CHARACTERS} characters")
            ok = False
        carrier = item.get("carrier") or ""
        if not isinstance(carrier, str) or not is_storable(carrier):
            errors.add(f"{where}.carrier", f"must be a string {UNSTORABLE_TEXT}")
            ok = False
        elif len(carrier) > MAX_CARRIER_CHARACTERS:
            errors.add(f"{where}.carrier", f"is longer than {MAX_CARRIER_CHARACTERS} characters")
            ok = False
        try:
            received_at = parse_timestamp(item.get("received_at"))
        except ValueError as exc:
            errors.add(f"{where}.received_at", str(exc))
            ok = False
        if ok:
            replies.append(ReplyItem(phone=phone, content=content, received_at=received_at, carrier=carrier))
    errors.raise_if_any("replies")
    return replies
