"""Idempotency keys: a client that retries after a timeout gets the first answer, never a second batch.

A request may carry `Idempotency-Key: <1 to 255 printable ASCII characters>`. For a day after the
first answer, the same SMS_USER sending the same key:
- with the same body (compared as canonical JSON, so spacing and key order do not matter) gets that
  answer again, marked `Idempotent-Replayed: true`, and nothing is stored;
- with another body gets a 409.
The key is written in the transaction that stores what it answers (`idempotency_key_record`), so a
crash leaves both or neither. Of two requests racing with one key, the second's insert waits for the
first to commit and then fails the unique constraint: it rolls back and answers the first one's answer.
"""

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from smsconsole import clock
from smsconsole.exceptions import ServiceError
from smsconsole.models import IdempotencyKey, SmsUser

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Visible ASCII, spaces allowed inside: a UUID, a ULID, "order-4821/attempt" all fit. Also the
# pattern the OpenAPI schema documents.
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
_KEY_RE = re.compile(KEY_PATTERN)


class IdempotencyConflict(ServiceError):
    status_code = 409

    def __init__(self, message: str):
        super().__init__(message, code="idempotency_conflict")


class IdempotencyKeyTaken(Exception):
    """A concurrent request with the same key committed first; its answer is the one to give."""


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    request_hash: str


def idempotent_request_parse(*, key: str | None, data) -> IdempotentRequest | None:
    """The request's key and body hash, or None without the header; a malformed key is refused."""
    if key is None:
        return None
    if len(key) > MAX_KEY_LENGTH or not _KEY_RE.match(key):
        problem = _("1 to %(max)d printable ASCII characters, not starting or ending with a space") % {
            "max": MAX_KEY_LENGTH
        }
        raise ServiceError(
            _("Invalid Idempotency-Key header: use %(problem)s (a UUID is a good choice).")
            % {"problem": problem},
            errors={IDEMPOTENCY_KEY_HEADER: [problem]},
        )
    return IdempotentRequest(key=key, request_hash=request_hash(data))


def request_hash(data) -> str:
    """SHA-256 of the body's canonical JSON: sorted keys, no spaces, ASCII escapes."""
    try:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except RecursionError:
        raise ServiceError(
            _("The body is nested too deeply."), errors={"body": [_("nested too deeply")]}
        ) from None
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _live_keys(sms_user: SmsUser, key: str, *, now: dt.datetime):
    return IdempotencyKey.objects.filter(
        account_id=sms_user.account_id,
        sms_user=sms_user,
        key=key,
        created_at__gt=now - IDEMPOTENCY_KEY_LIFETIME,
    )


def idempotent_answer_find(*, sms_user: SmsUser, request: IdempotentRequest) -> IdempotencyKey | None:
    """The answer to give again for this key, or None for a key not used in the last day.

    Raises IdempotencyConflict when the key already answered a different body."""
    stored = _live_keys(sms_user, request.key, now=clock.now()).first()
    if stored is not None and stored.request_hash != request.request_hash:
        raise IdempotencyConflict(
            _(
                "This Idempotency-Key was already used with a different request body in the last 24 hours; "
                "nothing was stored. Use a new key for a new request."
            )
        )
    return stored


def idempotency_key_record(
    *,
    sms_user: SmsUser,
    request: IdempotentRequest,
    response_status: int,
    response_body: dict,
    now: dt.datetime,
) -> IdempotencyKey:
    """Store the key with its answer, inside the caller's transaction; raises IdempotencyKeyTaken if a
    concurrent request holds the key, which must roll that transaction back."""
    # A key over a day old no longer counts: its row gives way even if the purge has not run yet.
    IdempotencyKey.objects.filter(
        account_id=sms_user.account_id,
        sms_user=sms_user,
        key=request.key,
        created_at__lte=now - IDEMPOTENCY_KEY_LIFETIME,
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                account_id=sms_user.account_id,
                sms_user=sms_user,
                key=request.key,
                request_hash=request.request_hash,
                response_status=response_status,
                response_body=response_body,
                created_at=now,
            )
    except IntegrityError:
        raise IdempotencyKeyTaken(request.key) from None


def idempotency_keys_purge(*, batch_size: int = 10_000) -> int:
    """Delete keys older than a day, a batch at a time; returns how many were deleted."""
    before = clock.now() - IDEMPOTENCY_KEY_LIFETIME
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(created_at__lte=before).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
