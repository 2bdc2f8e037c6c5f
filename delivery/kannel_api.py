"""Kannel's callbacks: DLRs (its `dlr-url`) and MO messages (an `sms-service`'s get-url or post-url).

Kannel cannot sign a request, so each URL carries a token: for a DLR an HMAC of our message id with
the channel's webhook secret, for MO an HMAC of the channel alone. A callback without the right
token is a 401 and changes nothing; one with it is stored in the webhook inbox (202) and ingested
like any channel's receipts and replies.
"""

import datetime as dt
import urllib.parse

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.channels import kannel
from delivery.channels.payloads import UNSTORABLE_TEXT, PayloadError, is_storable
from delivery.models import Channel
from delivery.services.kannel import kannel_dlr_receive, kannel_mo_receive
from smsconsole import clock
from smsconsole.api import ERROR_RESPONSE, MAX_ID

CALLBACK_ACCEPTED = inline_serializer("KannelCallbackAccepted", {"accepted": serializers.IntegerField()})
MAX_ANSWER_LENGTH = 2000
MAX_MO_BYTES = 8000  # ten UCS-2 parts are 1,340 bytes; concatenated MO can be longer, never this long


class RawBodyParser(BaseParser):
    """The MO view reads `request.body` itself: its bytes are in the charset Kannel names."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class Refused(Exception):
    def __init__(self, status_code: int, detail: str, code: str, errors: dict | None = None):
        super().__init__(detail)
        self.status_code, self.detail, self.code, self.errors = status_code, detail, code, errors


def _error(exc: Refused) -> Response:
    body = {"detail": exc.detail, "code": exc.code}
    if exc.errors:
        body["errors"] = exc.errors
    return Response(body, status=exc.status_code)


def _bad(field: str, problem: str) -> Refused:
    return Refused(400, f"Invalid callback: {field} {problem}.", "invalid", {field: [problem]})


def _raw_query(request) -> dict[str, bytes]:
    """The query's values as the bytes Kannel percent-encoded (MO text may be UTF-16BE)."""
    pairs = urllib.parse.parse_qsl(
        request.META.get("QUERY_STRING", ""), keep_blank_values=True, encoding="latin-1"
    )
    return {name: value.encode("latin-1") for name, value in pairs}


def _text(raw: dict[str, bytes], name: str, *, limit: int = 200, required: bool = False) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            raise _bad(name, "is required")
        return ""
    text = value.decode("utf-8", errors="replace")
    if len(text) > limit:
        raise _bad(name, f"is longer than {limit} characters")
    if not is_storable(text):
        raise _bad(name, f"must be text {UNSTORABLE_TEXT}")
    return text


def _time(raw: dict[str, bytes]) -> dt.datetime:
    value = _text(raw, "at", limit=12)
    if value and not value.isdigit():
        raise _bad("at", "must be Unix seconds (Kannel's %T)")
    return kannel.callback_time(value, now=clock.now())


class KannelCallbackView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # A gateway calls back once or twice per message, from one address: the per-client-IP limit
    # of the API would refuse a busy gateway's DLRs. The token is what admits a callback.
    throttle_classes: list = []
    parser_classes = [RawBodyParser]

    def channel(self, code: str) -> Channel:
        channel = Channel.objects.filter(code=code, kind=Channel.Kind.KANNEL).first()
        if channel is None:
            raise Refused(404, "No Kannel channel with this code.", "not_found")
        return channel


TOKEN_PARAMETER_DLR = OpenApiParameter(
    "token",
    {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    OpenApiParameter.QUERY,
    required=True,
    description="HMAC-SHA256 of `kannel-dlr:<id>` with the channel's webhook secret, first 32 hex digits.",
)
TOKEN_PARAMETER_MO = OpenApiParameter(
    "token",
    {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    OpenApiParameter.QUERY,
    required=True,
    description="HMAC-SHA256 of `kannel-mo` with the channel's webhook secret, first 32 hex digits.",
)
AT_PARAMETER = OpenApiParameter(
    "at",
    {"type": "string", "pattern": "^[0-9]{0,12}$"},
    OpenApiParameter.QUERY,
    description="Kannel's `%T`: Unix seconds. Missing: the time the callback arrives.",
)
SMSC_PARAMETER = OpenApiParameter(
    "smsc",
    {"type": "string", "maxLength": 200},
    OpenApiParameter.QUERY,
    description="Kannel's `%i`: the smsc-id.",
)
CALLBACK_ERRORS = {
    400: OpenApiResponse(
        ERROR_RESPONSE, description="A parameter is missing or unreadable: `errors` names it."
    ),
    401: OpenApiResponse(ERROR_RESPONSE, description="The token does not match: nothing was stored."),
    404: OpenApiResponse(ERROR_RESPONSE, description="No Kannel channel with this code."),
    503: OpenApiResponse(ERROR_RESPONSE, description="The database is briefly unavailable; Kannel retries."),
}


class KannelDlrWebhookView(KannelCallbackView):
    @extend_schema(
        operation_id="channel_kannel_dlr",
        summary="Kannel channel: delivery reports (dlr-url)",
        description=(
            "What Kannel fetches for each delivery report of a message the console sent it: "
            "`<SMS_PUBLIC_BASE_URL>/api/v1/channels/<code>/kannel/dlr?id=<message id>&token=<token>"
            "&type=%d&smsc=%i&smsc_id=%F&at=%T&answer=%A`, given as the message's `dlr-url`. Types 1 "
            "(delivered) and 2 (failed) are final: the return code of a failure comes from the stat and "
            "err of the SMPP receipt in `answer`, through the (stat, err) → return code table staff edit "
            "in admin. 8 (SMSC ack) and 4 (buffered) are logged; 16 (SMSC reject) fails the message "
            "with stat REJECTD and the SMPP error as err. Answers 202 once stored."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "id",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                OpenApiParameter.QUERY,
                required=True,
                description="Our message id.",
            ),
            TOKEN_PARAMETER_DLR,
            OpenApiParameter(
                "type",
                {"type": "integer", "enum": list(kannel.DLR_TYPES)},
                OpenApiParameter.QUERY,
                required=True,
                description="Kannel's `%d`: 1 delivered, 2 failed, 4 buffered, 8 SMSC ack, 16 SMSC reject.",
            ),
            OpenApiParameter(
                "answer",
                {"type": "string", "maxLength": MAX_ANSWER_LENGTH},
                OpenApiParameter.QUERY,
                description="Kannel's `%A`: the SMSC's answer (for 1, 2 and 4 the SMPP receipt text).",
            ),
            SMSC_PARAMETER,
            OpenApiParameter(
                "smsc_id",
                {"type": "string", "maxLength": 200},
                OpenApiParameter.QUERY,
                description="Kannel's `%F`: the SMSC's message id.",
            ),
            AT_PARAMETER,
        ],
        responses={202: CALLBACK_ACCEPTED, **CALLBACK_ERRORS},
    )
    def get(self, request, code: str):
        try:
            channel = self.channel(code)
            raw = _raw_query(request)
            ref_text = _text(raw, "id", limit=20, required=True)
            if not ref_text.isdigit() or not 1 <= int(ref_text) <= MAX_ID:
                raise _bad("id", "must be our message id")
            ref = int(ref_text)
            expected = kannel.dlr_token(channel.webhook_secret, ref)
            if not kannel.token_matches(expected, _text(raw, "token", limit=64)):
                raise Refused(401, "Refused: the token does not match this message.", "bad_token")
            type_text = _text(raw, "type", limit=4, required=True)
            if not type_text.isdigit() or int(type_text) not in kannel.DLR_TYPES:
                raise _bad("type", f"must be one of {', '.join(map(str, kannel.DLR_TYPES))}")
            item = kannel_dlr_receive(
                channel=channel,
                ref=ref,
                dlr_type=int(type_text),
                answer=_text(raw, "answer", limit=MAX_ANSWER_LENGTH),
                smsc=_text(raw, "smsc"),
                smsc_message_id=_text(raw, "smsc_id"),
                at=_time(raw),
            )
        except Refused as exc:
            return _error(exc)
        except (PayloadError, kannel.CallbackError) as exc:
            return _error(Refused(400, f"Invalid callback: {exc}", "invalid", getattr(exc, "errors", None)))
        return Response({"accepted": item.item_count}, status=status.HTTP_202_ACCEPTED)


MO_PARAMETERS = [
    TOKEN_PARAMETER_MO,
    OpenApiParameter(
        "from",
        {"type": "string", "minLength": 1, "maxLength": 32},
        OpenApiParameter.QUERY,
        required=True,
        description="Kannel's `%p`: the sender, international (`+81…`).",
    ),
    OpenApiParameter(
        "to", {"type": "string", "maxLength": 32}, OpenApiParameter.QUERY, description="Kannel's `%P`."
    ),
    AT_PARAMETER,
    SMSC_PARAMETER,
    OpenApiParameter(
        "coding",
        {"type": "string", "enum": ["", "0", "1", "2"]},
        OpenApiParameter.QUERY,
        description="Kannel's `%c`: 0 7-bit, 1 8-bit, 2 UCS-2.",
    ),
    OpenApiParameter(
        "charset",
        {"type": "string", "maxLength": 40},
        OpenApiParameter.QUERY,
        description="Kannel's `%C`: the charset of `text` (UTF-8, UTF-16BE, …).",
    ),
]
MO_DESCRIPTION = (
    "A message from a handset, as a Kannel `sms-service` forwards it: `get-url = "
    '"<SMS_PUBLIC_BASE_URL>/api/v1/channels/<code>/kannel/replies?token=<token>&from=%p&to=%P&at=%T'
    '&smsc=%i&coding=%c&charset=%C&text=%b"` (`create_channel` prints it). With `post-url` the same '
    "URL without `text` and the message as the body. It becomes a reply: attached to the latest message "
    "sent to that number through this channel; an unsubscribe keyword unsubscribes the number. "
    "Answers 202 once stored."
)


class KannelReplyWebhookView(KannelCallbackView):
    @extend_schema(
        operation_id="channel_kannel_replies",
        summary="Kannel channel: replies (sms-service get-url)",
        description=MO_DESCRIPTION,
        auth=[],
        parameters=[
            *MO_PARAMETERS,
            OpenApiParameter(
                "text",
                {"type": "string", "minLength": 1, "maxLength": MAX_MO_BYTES},
                OpenApiParameter.QUERY,
                required=True,
                description="Kannel's `%b`: the message's bytes, in `charset`.",
            ),
        ],
        responses={202: CALLBACK_ACCEPTED, **CALLBACK_ERRORS},
    )
    def get(self, request, code: str):
        return self.receive(request, code, body=None)

    @extend_schema(
        operation_id="channel_kannel_replies_post",
        summary="Kannel channel: replies (sms-service post-url)",
        description=MO_DESCRIPTION,
        auth=[],
        parameters=MO_PARAMETERS,
        request={"text/plain": OpenApiTypes.STR, "application/octet-stream": OpenApiTypes.BINARY},
        responses={202: CALLBACK_ACCEPTED, **CALLBACK_ERRORS},
    )
    def post(self, request, code: str):
        return self.receive(request, code, body=request.body)

    def receive(self, request, code: str, *, body: bytes | None):
        try:
            channel = self.channel(code)
            raw = _raw_query(request)
            if not kannel.token_matches(
                kannel.mo_token(channel.webhook_secret), _text(raw, "token", limit=64)
            ):
                raise Refused(401, "Refused: the token does not match this channel.", "bad_token")
            sender = _text(raw, "from", limit=32, required=True)
            if body is None:
                message = raw.get("text")
                if not message:
                    raise _bad("text", "is required")
                charset = _text(raw, "charset", limit=40)
            else:
                message = body
                if not message:
                    raise _bad("body", "is empty: post-url sends the message as the body")
                charset = _text(raw, "charset", limit=40) or request.content_params.get("charset", "")
            if len(message) > MAX_MO_BYTES:
                raise _bad("text", f"is longer than {MAX_MO_BYTES} bytes")
            coding = _text(raw, "coding", limit=2)
            if coding not in ("", "0", "1", "2"):
                raise _bad("coding", "must be 0, 1 or 2 (Kannel's %c)")
            text = kannel.mo_text(message, charset=charset, coding=coding)
            item = kannel_mo_receive(
                channel=channel, sender=sender, text=text, received_at=_time(raw), smsc=_text(raw, "smsc")
            )
        except Refused as exc:
            return _error(exc)
        except PayloadError as exc:
            return _error(_as_callback_error(exc))
        return Response({"accepted": item.item_count}, status=status.HTTP_202_ACCEPTED)


# The stored reply's fields, by the MO callback's parameter that gave them.
REPLY_PARAMETERS = {"replies[0].from": "from", "replies[0].content": "text", "replies[0].carrier": "smsc"}


def _as_callback_error(exc: PayloadError) -> Refused:
    """A refused MO reply, naming Kannel's parameter (`from`), not the stored reply's field."""
    errors = {REPLY_PARAMETERS.get(where, where): problems for where, problems in exc.errors.items()}
    if not errors:
        return Refused(400, f"Invalid callback: {exc.message}", "invalid")
    name, problems = next(iter(errors.items()))
    return Refused(400, f"Invalid callback: {name} {problems[0]}.", "invalid", errors)
