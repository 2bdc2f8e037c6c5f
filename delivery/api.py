"""The send API, message lookups, and the channels' webhooks."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
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
from delivery.channels.payloads import PayloadError, has_nul
from delivery.filters import MessageFilter
from delivery.models import Channel, InboxItem, Message, MessageEvent
from delivery.selectors import message_get_for_api
from delivery.services.receipts import inbox_receive
from delivery.services.submission import MAX_RECIPIENTS, messages_submit
from smsconsole.api import filtered_page, filterset_parameters, page_response

ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(required=False),
        "errors": serializers.DictField(required=False),
    },
)


WEBHOOK_ACCEPTED = inline_serializer("WebhookAccepted", {"accepted": serializers.IntegerField()})


MAX_VARIABLE_LENGTH = 2000
MAX_VARIABLES = 100


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class VariableValueField(serializers.Field):
    """A template variable: a string or a number."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise serializers.ValidationError("must be a string or a number")
        if isinstance(data, str):
            # Ten segments is at most 1,530 characters: a longer value can only make a message that
            # fails the content check, and an unbounded one would make a row the database refuses.
            if len(data) > MAX_VARIABLE_LENGTH:
                raise serializers.ValidationError(f"at most {MAX_VARIABLE_LENGTH} characters")
            if has_nul(data):
                raise serializers.ValidationError("must not contain NUL characters")
        return data

    def to_representation(self, value):
        return value


class RecipientSerializer(serializers.Serializer):
    to = serializers.CharField(
        max_length=32, help_text="E.164 (+819012345678) or national in the account's region."
    )
    vars = serializers.DictField(child=VariableValueField(), required=False, default=dict)

    def validate_vars(self, value):
        if len(value) > MAX_VARIABLES:
            raise serializers.ValidationError(f"at most {MAX_VARIABLES} variables")
        if any(len(name) > 64 for name in value):
            raise serializers.ValidationError("variable names are at most 64 characters")
        return value


class SendRequestSerializer(serializers.Serializer):
    template = serializers.IntegerField(min_value=1, help_text="Id of one of your account's templates.")
    tag = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    messages = serializers.ListField(child=RecipientSerializer(), min_length=1, max_length=MAX_RECIPIENTS)


class AcceptedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to = serializers.CharField(source="phone")
    status = serializers.CharField()


class SendResponseSerializer(serializers.Serializer):
    messages = AcceptedMessageSerializer(many=True)


class MessageEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageEvent
        fields = ["at", "kind", "detail"]


class MessageSerializer(serializers.ModelSerializer):
    to = serializers.CharField(source="phone")
    sms_user = serializers.CharField(source="sms_user.name")
    template = serializers.IntegerField(source="template_id")
    template_name = serializers.CharField(source="template.name")
    message_count = serializers.IntegerField(source="segments")
    channel = serializers.CharField(source="channel.code", default=None)

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
    @extend_schema(
        operation_id="messages_list",
        summary="List messages (the console's status list)",
        description=(
            "The same filters as the console: phone, template_type, tag, sms_user, requested_from / "
            "requested_to (at most 30 days back; default the last 24 hours), status and reason. "
            "Pages by opaque cursor; a bad parameter is a 400 naming it."
        ),
        parameters=filterset_parameters(MessageFilter),
        responses={200: list_response_serializer("MessagePage", MessageSerializer), 400: ERROR_RESPONSE},
    )
    def get(self, request):
        page = filtered_page(
            request,
            filterset_class=MessageFilter,
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
            "recipient or template refuses the whole request and nothing is stored."
        ),
        request=SendRequestSerializer,
        responses={
            202: SendResponseSerializer,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            403: ERROR_RESPONSE,
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
        serializer = SendRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        messages = messages_submit(
            sms_user=request.user, template_id=data["template"], tag=data["tag"], recipients=data["messages"]
        )
        return Response(
            {"messages": [{"id": m.pk, "to": m.phone, "status": "requesting"} for m in messages]},
            status=status.HTTP_202_ACCEPTED,
        )


class MessageDetailView(APIView):
    @extend_schema(
        operation_id="messages_retrieve",
        summary="One message with its send log",
        responses={200: MessageDetailSerializer, 404: ERROR_RESPONSE},
    )
    def get(self, request, message_id: int):
        message = message_get_for_api(account=request.user.account, message_id=message_id)
        return Response(MessageDetailSerializer(message).data)


class RawBodyParser(BaseParser):
    """Webhooks read `request.body` themselves: the signature is over the raw bytes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class ChannelWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
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


class ReceiptWebhookView(ChannelWebhookView):
    kind = InboxItem.Kind.RECEIPTS

    @extend_schema(
        operation_id="channel_receipts",
        summary="Channel webhook: delivery receipts",
        description=RECEIPTS_DOC,
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT, "text/plain": OpenApiTypes.STR},
        responses={
            202: WEBHOOK_ACCEPTED,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            404: OpenApiResponse(description="No channel with this code."),
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
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            202: WEBHOOK_ACCEPTED,
            400: ERROR_RESPONSE,
            401: ERROR_RESPONSE,
            404: OpenApiResponse(description="No channel with this code."),
        },
    )
    def post(self, request, code: str):
        return super().post(request, code)
