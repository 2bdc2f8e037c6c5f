"""The send API, message lookups, and the channels' webhooks."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.channels.base import signature_problem
from delivery.channels.payloads import (
    MAX_CHANNEL_MESSAGE_ID_LENGTH,
    MAX_ITEMS,
    PayloadError,
    is_storable,
)
from delivery.filters import MessageFilter
from delivery.models import Channel, InboxItem, Message, MessageEvent
from delivery.selectors import message_get_for_api
from delivery.send_log import event_public_detail, event_summary
from delivery.services.precheck import MAX_API_NUMBERS, numbers_check
from delivery.services.receipts import inbox_receive
from delivery.services.submission import MAX_RECIPIENTS, messages_submit, submission_answer
from smsconsole import clock
from smsconsole.api import (
    AUTHENTICATED_ERRORS,
    ERROR_RESPONSE,
    IDEMPOTENCY_KEY_PARAMETER,
    MAX_ID,
    REPLAYED_HEADER_PARAMETER,
    RETRY_AFTER_PARAMETER,
    FilteredListSchema,
    StrictCharField,
    StrictIntegerField,
    error_responses,
    filtered_page,
    filterset_parameters,
    id_path_parameter,
    idempotent_request_from,
    page_response,
    replayed_response,
)
from smsconsole.clock import PLAUSIBLE_YEARS
from smsconsole.idempotency import (
    REPLAYED_HEADER,
    IdempotencyConflict,
    IdempotencyKeyTaken,
    idempotent_answer_find,
)
from smsconsole.throttling import WebhookClientIpRateThrottle

WEBHOOK_ACCEPTED = inline_serializer("WebhookAccepted", {"accepted": serializers.IntegerField()})


MAX_VARIABLE_LENGTH = 2000
MAX_VARIABLES = 100
MAX_VARIABLE_NAME_LENGTH = 64


VARIABLE_VALUE_SCHEMA = {"oneOf": [{"type": "string", "maxLength": MAX_VARIABLE_LENGTH}, {"type": "number"}]}


@extend_schema_field(VARIABLE_VALUE_SCHEMA)
class VariableValueField(serializers.Field):
    """A template variable: a string or a number."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise serializers.ValidationError(_("must be a string or a number"))
        # Ten segments is at most 1,530 characters: a longer value can only make a message that
        # fails the content check, and an unbounded one would make a row the database refuses. A
        # number counts as the text it becomes (an integer may have up to 4,300 digits).
        if len(str(data)) > MAX_VARIABLE_LENGTH:
            raise serializers.ValidationError(_("at most %(max)d characters") % {"max": MAX_VARIABLE_LENGTH})
        if isinstance(data, str) and not is_storable(data):
            raise serializers.ValidationError(_("must be text without NUL characters or lone surrogates"))
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(
    {"type": "object", "maxProperties": MAX_VARIABLES, "additionalProperties": VARIABLE_VALUE_SCHEMA}
)
class VariablesField(serializers.DictField):
    """Template variables by name; documented with their bounds (DictField's schema has none)."""


class RecipientSerializer(serializers.Serializer):
    to = StrictCharField(
        max_length=32,
        help_text=(
            "E.164 (+819012345678) or national in the account's region, as a string. A number with an "
            "extension (090-1234-5678 ext. 9) is refused: an SMS cannot reach an extension."
        ),
    )
    vars = VariablesField(
        child=VariableValueField(),
        required=False,
        default=dict,
        help_text=f"Template variables by name (at most {MAX_VARIABLES}, names up to "
        f"{MAX_VARIABLE_NAME_LENGTH} characters).",
    )

    def validate_vars(self, value):
        if len(value) > MAX_VARIABLES:
            raise serializers.ValidationError(_("at most %(max)d variables") % {"max": MAX_VARIABLES})
        # DictField checks the values only; the names are stored too (Message.variables).
        for name in value:
            if len(name) > MAX_VARIABLE_NAME_LENGTH:
                raise serializers.ValidationError(
                    _("variable names are at most %(max)d characters") % {"max": MAX_VARIABLE_NAME_LENGTH}
                )
            if not is_storable(name):
                raise serializers.ValidationError(
                    _("variable names must be text without NUL characters or lone surrogates")
                )
        return value


class SendRequestSerializer(serializers.Serializer):
    template = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of one of your account's templates."
    )
    tag = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    messages = serializers.ListField(child=RecipientSerializer(), min_length=1, max_length=MAX_RECIPIENTS)


class AcceptedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to = serializers.CharField(source="phone")
    status = serializers.CharField()


class SendResponseSerializer(serializers.Serializer):
    messages = AcceptedMessageSerializer(many=True)


class CheckRequestSerializer(serializers.Serializer):
    template = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of one of your account's templates."
    )
    numbers = serializers.ListField(
        child=StrictCharField(max_length=32),
        min_length=1,
        max_length=MAX_API_NUMBERS,
        required=False,
        help_text="Phone numbers as the send API takes `to`. Give `numbers` or `messages`, not both.",
    )
    vars = VariablesField(
        child=VariableValueField(),
        required=False,
        default=dict,
        help_text="Template variables for every number (a message's own `vars` add to them and win).",
    )
    messages = serializers.ListField(
        child=RecipientSerializer(),
        min_length=1,
        max_length=MAX_API_NUMBERS,
        required=False,
        help_text="The send API's recipients, each with its own `vars`: a send request's body checks as is.",
    )
    tag = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Accepted as the send API takes it; no check depends on it.",
    )

    def validate_vars(self, value):
        return RecipientSerializer().validate_vars(value)

    def validate(self, attrs):
        if ("numbers" in attrs) == ("messages" in attrs):
            raise serializers.ValidationError(
                {"numbers": [_("Give either numbers or messages (one of them, not both).")]}
            )
        return attrs


class VerdictSerializer(serializers.Serializer):
    to = serializers.CharField(help_text="The number in E.164.")
    would_send = serializers.BooleanField()
    reason = serializers.CharField(
        allow_null=True,
        help_text="The first check that would stop it: global_intercept, local_intercept, unsubscribed, "
        "keyword_filtered, variable_error, content_noncompliant, frequency_exceeded or other; "
        "null when it would be sent.",
    )
    until = serializers.DateTimeField(
        allow_null=True, help_text="When the intercept record that blocks it expires; null otherwise."
    )


class CheckResponseSerializer(serializers.Serializer):
    verdicts = VerdictSerializer(many=True, help_text="One per number, in request order.")


class MessageEventSerializer(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField(
        help_text="What happened, in a sentence (in the request's Accept-Language; English by default)."
    )
    detail = serializers.SerializerMethodField(
        help_text="The event's facts as data; the platform's internal diagnostics are left out."
    )

    class Meta:
        model = MessageEvent
        fields = ["at", "kind", "summary", "detail"]

    def get_summary(self, event) -> str:
        # Times in the sentence in the account's zone, as the console shows them.
        with timezone.override(self.context.get("zone")):
            return event_summary(event)

    def get_detail(self, event) -> dict:
        return event_public_detail(event)


class MessageSerializer(serializers.ModelSerializer):
    to = serializers.CharField(source="phone")
    sms_user = serializers.CharField(source="sms_user.name")
    template = serializers.IntegerField(source="template_id")
    template_name = serializers.CharField(source="template.name")
    message_count = serializers.IntegerField(source="segments")
    channel = serializers.CharField(
        source="channel.code",
        default=None,
        allow_null=True,
        help_text="Null until the message is dispatched.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "status",
            "reason",
            "return_code",
            "failure_detail",
            "sms_user",
            "message_count",
            "to",
            "template",
            "template_name",
            "template_type",
            "tag",
            "content",
            "channel",
            "channel_message_id",
            "requested_at",
            "channel_delivered_at",
            "receipt_at",
            "updated_at",
        ]


class MessageDetailSerializer(MessageSerializer):
    send_log = MessageEventSerializer(source="events", many=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "send_log"]


def list_response_serializer(name: str, row_serializer) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": row_serializer(many=True),
        },
    )


class MessageCollectionView(APIView):
    filterset_class = MessageFilter
    schema = FilteredListSchema()

    @extend_schema(
        operation_id="messages_list",
        summary="List messages (the console's status list)",
        description=(
            "The same filters as the console: phone, template_type, tag, sms_user, requested_from / "
            "requested_to (at most 30 days back; default the last 24 hours), status and reason. "
            "Pages by opaque cursor; a bad parameter is a 400 naming it."
        ),
        parameters=[*filterset_parameters(MessageFilter), RETRY_AFTER_PARAMETER],
        responses={
            200: list_response_serializer("MessagePage", MessageSerializer),
            **error_responses(400, *AUTHENTICATED_ERRORS),
        },
    )
    def get(self, request):
        page = filtered_page(
            request,
            filterset_class=self.filterset_class,
            time_field="requested_at",
            list_key="api.messages",
            select_related=["channel"],
        )
        return Response(page_response(request, page, MessageSerializer(page.object_list, many=True).data))

    @extend_schema(
        operation_id="messages_send",
        summary="Send messages",
        description=(
            f"Queue 1 to {MAX_RECIPIENTS} messages from one template. All or nothing: an invalid "
            "recipient or template refuses the whole request and nothing is stored. Send an "
            "`Idempotency-Key` to make retries safe: a retry after a timeout or a 503 with the same key "
            f"and body answers the first answer (with `{REPLAYED_HEADER}: true`) and sends nothing twice."
        ),
        parameters=[IDEMPOTENCY_KEY_PARAMETER, REPLAYED_HEADER_PARAMETER, RETRY_AFTER_PARAMETER],
        request=SendRequestSerializer,
        responses={
            202: OpenApiResponse(
                SendResponseSerializer,
                description=f"Queued: the ids in request order. A replay has `{REPLAYED_HEADER}: true`.",
            ),
            **error_responses(400, *AUTHENTICATED_ERRORS, 409, 413, 415),
        },
        examples=[
            OpenApiExample(
                "One verification code",
                value={
                    "template": 1,
                    "tag": "login",
                    "messages": [{"to": "+819012345678", "vars": {"code": "1234"}}],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        idempotency = idempotent_request_from(request)
        if idempotency is not None:
            stored = idempotent_answer_find(sms_user=request.user, request=idempotency)
            if stored is not None:
                return replayed_response(stored)
        serializer = SendRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            messages = messages_submit(
                sms_user=request.user,
                template_id=data["template"],
                tag=data["tag"],
                recipients=data["messages"],
                idempotency=idempotency,
            )
        except IdempotencyKeyTaken:
            # A concurrent request with this key committed first (ours was rolled back): its answer
            # stands for both, or, for another body, this one is a conflict.
            stored = idempotent_answer_find(sms_user=request.user, request=idempotency)
            if stored is None:
                raise IdempotencyConflict(
                    _("This Idempotency-Key is in use by a concurrent request.")
                ) from None
            return replayed_response(stored)
        return Response(submission_answer(messages), status=status.HTTP_202_ACCEPTED)


class MessageCheckView(APIView):
    @extend_schema(
        operation_id="messages_check",
        summary="Check numbers before sending (would they be blocked?)",
        description=(
            f"For 1 to {MAX_API_NUMBERS:,} numbers and one template: would a send now go out, and if "
            "not, the first platform check that would stop it, in the order dispatch runs them (global "
            "intercept, local intercept, unsubscribed, keyword, variables, content, frequency, other). "
            "A number repeated in the list counts for the frequency check as a send of the list would. "
            "Nothing is sent or stored. An invalid number refuses the request as the send API does, "
            "naming its index."
        ),
        parameters=[RETRY_AFTER_PARAMETER],
        request=CheckRequestSerializer,
        responses={200: CheckResponseSerializer, **error_responses(400, *AUTHENTICATED_ERRORS, 413, 415)},
        examples=[
            OpenApiExample(
                "Two numbers",
                value={
                    "template": 1,
                    "numbers": ["+819012345678", "080-1111-2222"],
                    "vars": {"code": "1234"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = CheckRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recipients = data.get("messages") or [{"to": number} for number in data["numbers"]]
        verdicts = numbers_check(
            account=request.user.account,
            template_id=data["template"],
            numbers=[recipient["to"] for recipient in recipients],
            variables=data["vars"],
            number_variables=[recipient.get("vars") for recipient in recipients],
            now=clock.now(),
            refuse_invalid_in="messages" if "messages" in data else "numbers",
        )
        return Response({"verdicts": VerdictSerializer(verdicts, many=True).data})


class MessageDetailView(APIView):
    @extend_schema(
        operation_id="messages_retrieve",
        summary="One message with its send log",
        parameters=[id_path_parameter("message_id", "The message's id."), RETRY_AFTER_PARAMETER],
        responses={200: MessageDetailSerializer, **error_responses(404, *AUTHENTICATED_ERRORS)},
    )
    def get(self, request, message_id: int):
        message = message_get_for_api(account=request.user.account, message_id=message_id)
        return Response(MessageDetailSerializer(message, context={"zone": request.user.account.zone}).data)


class RawBodyParser(BaseParser):
    """Webhooks read `request.body` themselves: the signature is over the raw bytes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class WebhookSchema(AutoSchema):
    """A webhook's body is required whatever its media type (drf-spectacular makes a text/plain one,
    given as a plain schema, optional)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class ChannelWebhookView(APIView):
    schema = WebhookSchema()
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookClientIpRateThrottle]
    parser_classes = [RawBodyParser]
    kind: str = ""

    def post(self, request, code: str):
        channel = get_object_or_404(Channel, code=code)
        body = request.body
        problem = signature_problem(
            body,
            channel.webhook_secret,
            signature=request.headers.get("X-Signature"),
            timestamp=request.headers.get("X-Signature-Timestamp"),
            accepts_legacy=channel.accepts_legacy_signatures,
        )
        if problem:
            return Response(
                {
                    "detail": f"Refused: {problem}. Sign with X-Signature-Timestamp: <Unix seconds> and "
                    'X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>.',
                    "code": "bad_signature",
                },
                status=status.HTTP_401_UNAUTHORIZED,
            )
        try:
            item = inbox_receive(
                channel=channel,
                kind=self.kind,
                body=body,
                content_type=request.content_type or "application/json",
            )
        except PayloadError as exc:
            return Response({"detail": exc.message, "code": "invalid", "errors": exc.errors}, status=400)
        return Response({"accepted": item.item_count}, status=status.HTTP_202_ACCEPTED)


RECEIPTS_DOC = (
    "Delivery receipts from a channel. JSON: "
    '`{"receipts": [{"id": "<channel message id>", "status": "delivered"|"failed", "code": 500, '
    '"detail": "carrier text", "done_at": "ISO 8601", "part": 1, "parts": 2}]}`, or `text/plain` with one '
    "SMPP 3.4 delivery receipt per line (`id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:000 "
    "text:…`). Up to 10,000 per request. Signed with the channel's webhook secret: "
    "`X-Signature-Timestamp: <Unix seconds>` and `X-Signature: sha256=<hex HMAC-SHA256 of "
    '"<timestamp>." followed by the raw body>`; a timestamp more than 5 minutes from now is refused. '
    "Answers 202 once the body is stored, before processing."
)
REPLIES_DOC = (
    'Replies from recipients: `{"replies": [{"from": "+81…", "content": "…", "received_at": "ISO 8601", '
    '"carrier": "NTT docomo"}]}`, up to 10,000 per request, signed like receipts. Answers 202 once stored.'
)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_CHANNEL_MESSAGE_ID_LENGTH},
            {"type": "integer"},
        ]
    }
)
class ChannelMessageIdField(serializers.Field):
    """Documents a receipt's `id`: the channel's message id, a string or a number."""


# A pattern, not an enum: drf-spectacular names enums by field, and Message's `status` has that name.
@extend_schema_field(
    {"type": "string", "pattern": "^(delivered|failed)$", "description": "delivered or failed"}
)
class ReceiptStatusField(serializers.Field):
    """Documents a receipt's `status`."""


@extend_schema_field(
    {
        "description": "Our return code: a whole number from 500 to 599, required when the status is "
        "failed. A delivered receipt's code is ignored, whatever it is (carriers send 0 and other values)."
    }
)
class ReceiptCodeField(serializers.Field):
    """Documents a receipt's `code`: any value, since a delivered receipt's code is not read."""


# The webhook bodies as documented; the views parse them with delivery.channels.payloads.
RECEIPTS_REQUEST = inline_serializer(
    "ChannelReceipts",
    {
        "receipts": serializers.ListField(
            min_length=1,
            max_length=MAX_ITEMS,
            child=inline_serializer(
                "ChannelReceipt",
                {
                    "id": ChannelMessageIdField(),
                    "status": ReceiptStatusField(),
                    "code": ReceiptCodeField(required=False),
                    "detail": serializers.CharField(required=False, allow_null=True, allow_blank=True),
                    "done_at": serializers.DateTimeField(
                        help_text=f"With a time zone offset; between the years {PLAUSIBLE_YEARS[0]} and "
                        f"{PLAUSIBLE_YEARS[1]}."
                    ),
                    "part": serializers.IntegerField(
                        min_value=1, max_value=255, required=False, allow_null=True, help_text="With parts."
                    ),
                    "parts": serializers.IntegerField(
                        min_value=1,
                        max_value=255,
                        required=False,
                        allow_null=True,
                        help_text="At least part.",
                    ),
                },
            ),
        )
    },
)
REPLIES_REQUEST = inline_serializer(
    "ChannelReplies",
    {
        "replies": serializers.ListField(
            min_length=1,
            max_length=MAX_ITEMS,
            child=inline_serializer(
                "ChannelReply",
                {
                    "from": serializers.CharField(help_text="The sender, in international format (+81…)."),
                    "content": serializers.CharField(help_text="Not only spaces."),
                    "received_at": serializers.DateTimeField(
                        help_text=f"With a time zone offset; between the years {PLAUSIBLE_YEARS[0]} and "
                        f"{PLAUSIBLE_YEARS[1]}."
                    ),
                    "carrier": serializers.CharField(required=False, allow_null=True, allow_blank=True),
                },
            ),
        )
    },
)
# One SMPP 3.4 delivery receipt per line, as delivery.channels.smpp reads them; blank lines are skipped.
_SMPP_LINE = (
    r"[ \t\r]*id:[^ \t\r\n\x00]{1,64}[ \t]+sub:[0-9]+[ \t]+dlvrd:[0-9]+[ \t]+"
    r"submit date:[0-9]{10}([0-9]{2})?[ \t]+done date:[0-9]{10}([0-9]{2})?[ \t]+"
    r"stat:(DELIVRD|EXPIRED|DELETED|UNDELIV|REJECTD|UNKNOWN|ENROUTE|ACCEPTD)[ \t]+"
    r"err:[0-9A-Za-z]+([ \t]+text:[^\n\x00]*)?[ \t\r]*"
)
SMPP_RECEIPTS_REQUEST = {
    "type": "string",
    "pattern": rf"^(({_SMPP_LINE})?[ \t\r]*\n)*{_SMPP_LINE}([ \t\r]*\n)*[ \t\r]*$",
    "description": "Dates are YYMMDDhhmm[ss], taken as UTC. Up to 10,000 lines.",
}
SIGNATURE_PARAMETERS = [
    OpenApiParameter(
        "X-Signature-Timestamp",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        required=True,
        description="Unix seconds, within 5 minutes of now.",
    ),
    OpenApiParameter(
        "X-Signature",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        required=True,
        description='`sha256=<hex HMAC-SHA256 with the channel\'s secret of "<timestamp>." + the raw body>`.',
    ),
]


class ReceiptWebhookView(ChannelWebhookView):
    kind = InboxItem.Kind.RECEIPTS

    @extend_schema(
        operation_id="channel_receipts",
        summary="Channel webhook: delivery receipts",
        description=RECEIPTS_DOC,
        auth=[],
        parameters=[*SIGNATURE_PARAMETERS, RETRY_AFTER_PARAMETER],
        request={"application/json": RECEIPTS_REQUEST, "text/plain": SMPP_RECEIPTS_REQUEST},
        responses={
            202: WEBHOOK_ACCEPTED,
            **error_responses(400, 401, 413, 429, 503),
            404: OpenApiResponse(ERROR_RESPONSE, description="No channel with this code."),
        },
    )
    def post(self, request, code: str):
        return super().post(request, code)


class ReplyWebhookView(ChannelWebhookView):
    kind = InboxItem.Kind.REPLIES

    @extend_schema(
        operation_id="channel_replies",
        summary="Channel webhook: replies",
        description=REPLIES_DOC,
        auth=[],
        parameters=[*SIGNATURE_PARAMETERS, RETRY_AFTER_PARAMETER],
        request={"application/json": REPLIES_REQUEST},
        responses={
            202: WEBHOOK_ACCEPTED,
            **error_responses(400, 401, 413, 429, 503),
            404: OpenApiResponse(ERROR_RESPONSE, description="No channel with this code."),
        },
    )
    def post(self, request, code: str):
        return super().post(request, code)
