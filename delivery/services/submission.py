"""Accepting messages from the send API."""

import json
from dataclasses import dataclass
from http import HTTPStatus

from django.db import connection, transaction
from django.utils.translation import gettext as _

from delivery.content import render
from delivery.models import Message, MessageEvent, MessageStatus, Template
from delivery.segments import segment_count
from smsconsole import clock
from smsconsole.exceptions import PermissionDenied, ServiceError
from smsconsole.idempotency import IdempotentRequest, idempotency_key_record
from smsconsole.models import SmsUser
from smsconsole.phone import InvalidPhoneNumber, phone_to_e164
from smsconsole.queueing import task_queue

MAX_RECIPIENTS = 1000


@dataclass(frozen=True)
class SubmittedMessage:
    """A message just stored as `requesting`: what the answer names (no model instance is built)."""

    pk: int
    phone: str


def messages_submit(
    *,
    sms_user: SmsUser,
    template_id: int,
    tag: str,
    recipients: list[dict],
    idempotency: IdempotentRequest | None = None,
) -> list[SubmittedMessage]:
    """Store one message per recipient as `requesting` and queue their dispatch.

    All or nothing: any invalid recipient refuses the whole request, naming each problem. With
    `idempotency`, its key and the answer are stored in the same transaction as the messages; a
    concurrent request that stored the key first raises IdempotencyKeyTaken and nothing is stored."""
    account = sms_user.account
    if not sms_user.is_active:
        raise PermissionDenied(_("This SMS_USER is inactive."))
    if not account.is_active:
        raise PermissionDenied(_("This account is suspended."))
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ServiceError(
            _("Send to 1 to %(max)d recipients per request, not %(count)d.")
            % {"max": MAX_RECIPIENTS, "count": len(recipients)},
            errors={"messages": [_("1 to %(max)d recipients") % {"max": MAX_RECIPIENTS}]},
        )
    template = Template.objects.filter(account=account, pk=template_id).first()
    errors: dict = {}
    if template is None:
        errors["template"] = [_("No template %(id)s in this account.") % {"id": template_id}]
    phones, phone_errors = [], {}
    for index, recipient in enumerate(recipients):
        try:
            phones.append(phone_to_e164(recipient["to"], default_region=account.default_region))
        except InvalidPhoneNumber as exc:
            phone_errors[str(index)] = {"to": [str(exc)]}
    if phone_errors:
        errors["messages"] = phone_errors
    if errors:
        raise ServiceError(_("The request has invalid fields; nothing was stored."), errors=errors)

    now = clock.now()
    rows = []
    for phone, recipient in zip(phones, recipients, strict=True):
        rows.append((phone, *recipient_content(template=template, vars=recipient.get("vars"))))
    requested = {"sms_user": sms_user.name, "template": template.name, "tag": tag}
    with transaction.atomic():
        messages = _messages_store(
            rows, account=account, sms_user=sms_user, template=template, tag=tag, now=now, requested=requested
        )
        if idempotency is not None:
            idempotency_key_record(
                sms_user=sms_user,
                request=idempotency,
                response_status=HTTPStatus.ACCEPTED,
                response_body=submission_answer(messages),
                now=now,
            )
        message_ids = [message.pk for message in messages]
        # Robust: the messages are stored and beat dispatches them anyway; a broker outage (or, with
        # no broker, a failure inside the eager dispatch) must not turn the 202 into a 500 that
        # the client answers by submitting again.
        transaction.on_commit(lambda: _queue_dispatch(message_ids), robust=True)
    return messages


def recipient_content(*, template: Template, vars: dict | None) -> tuple[dict[str, str], str, int]:
    """A recipient's variables as a message stores them (text), the content they render, its segments.

    The pre-send check (delivery.services.precheck) builds its unsaved messages with this too."""
    variables = {name: str(value) for name, value in (vars or {}).items()}
    content = render(template.body, variables).content
    return variables, content, segment_count(content)


# The columns a submitted message is stored with, in the order _messages_store writes them.
_MESSAGE_COLUMNS = (
    "id", "account_id", "sms_user_id", "template_id", "template_type", "tag", "phone", "variables",
    "content", "segments", "status", "reason", "failure_detail", "requested_at", "updated_at",
    "next_attempt_at", "dispatch_attempts",
)  # fmt: skip


def _messages_store(rows, *, account, sms_user, template, tag, now, requested) -> list[SubmittedMessage]:
    """Store the messages (phone, variables, content, segments) and their "requested" log entries.

    On PostgreSQL the ids are taken from the sequence first and both tables are written with COPY:
    bulk_create spent most of a 1,000-recipient request building and preparing model instances.
    Elsewhere (SQLite) bulk_create writes the same rows."""
    if connection.vendor != "postgresql":
        messages = Message.objects.bulk_create(
            Message(
                account=account, sms_user=sms_user, template=template, template_type=template.type, tag=tag,
                phone=phone, variables=variables, content=content, segments=segments,
                status=MessageStatus.REQUESTING, requested_at=now, updated_at=now, next_attempt_at=now,
            )
            for phone, variables, content, segments in rows
        )  # fmt: skip
        MessageEvent.objects.bulk_create(
            MessageEvent(message=message, at=now, kind=MessageEvent.Kind.REQUESTED, detail=requested)
            for message in messages
        )
        return [SubmittedMessage(pk=message.pk, phone=message.phone) for message in messages]

    # COPY goes to psycopg's cursor directly: wrap_database_errors turns its errors into Django's
    # (a dropped connection is then the API's 503, as on every other path).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('delivery_message', 'id')) FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())  # increasing in request order, like bulk_create's
        copy_messages = f"COPY delivery_message ({', '.join(_MESSAGE_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_messages) as copy:
            for pk, (phone, variables, content, segments) in zip(ids, rows, strict=True):
                copy.write_row(
                    (
                        pk, account.pk, sms_user.pk, template.pk, template.type, tag, phone,
                        json.dumps(variables), content, segments, MessageStatus.REQUESTING.value, "", "",
                        now, now, now, 0,
                    )
                )  # fmt: skip
        detail = json.dumps(requested)
        with cursor.cursor.copy(
            "COPY delivery_messageevent (message_id, at, kind, detail) FROM STDIN"
        ) as copy:
            for pk in ids:
                copy.write_row((pk, now, MessageEvent.Kind.REQUESTED.value, detail))
    return [SubmittedMessage(pk=pk, phone=row[0]) for pk, row in zip(ids, rows, strict=True)]


def submission_answer(messages: list[SubmittedMessage]) -> dict:
    """What the send API answers (and replays for a retried Idempotency-Key): the ids in request order."""
    return {
        "messages": [{"id": m.pk, "to": m.phone, "status": MessageStatus.REQUESTING.value} for m in messages]
    }


def _queue_dispatch(message_ids: list[int]) -> None:
    # Imported here: tasks wrap services, so services reach tasks only at call time.
    from delivery.tasks import dispatch_messages

    # Never waits on the broker for more than about a second: the 202 does not depend on it.
    task_queue(dispatch_messages, message_ids)
