"""PUT/GET/DELETE /api/v1/callback and POST /api/v1/callback/secret: the account's callback URL."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.models import SUBSCRIBABLE_KINDS
from callbacks.selectors import endpoint_get
from callbacks.services import MAX_URL_LENGTH, endpoint_delete, endpoint_save, endpoint_secret_rotate
from smsconsole import clock
from smsconsole.api import AUTHENTICATED_ERRORS, RETRY_AFTER_PARAMETER, StrictCharField, error_responses
from smsconsole.exceptions import NotFound

SIGNATURE_DOC = (
    "Each event is POSTed as JSON to the URL, signed with `X-Signature: t=<Unix seconds>,sha256=<hex "
    'HMAC-SHA256 of "<t>." followed by the raw body, with the signing secret>`. When several are due, up '
    'to 100 go in one POST as `{"events": [...]}`. Any answer but 2xx (or none within 5 s) is retried with '
    "exponential backoff for 24 hours. Production accepts only https:// URLs on public addresses."
)


class CallbackRequestSerializer(serializers.Serializer):
    url = StrictCharField(max_length=MAX_URL_LENGTH, help_text="An https:// URL on a public address.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[kind.value for kind in SUBSCRIBABLE_KINDS]),
        min_length=1,
        max_length=len(SUBSCRIBABLE_KINDS),
        help_text='What to push: "status" (every status change of a message) and/or "reply".',
    )


class CallbackSerializer(serializers.Serializer):
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    is_healthy = serializers.BooleanField(
        help_text="False while the endpoint keeps failing (5 attempts in a row, or for over an hour)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CallbackWithSecretSerializer(CallbackSerializer):
    secret = serializers.CharField(
        required=False, help_text="The signing secret: only when the endpoint was created, or rotated."
    )


def _answer(endpoint, *, with_secret: bool) -> dict:
    data = {
        "url": endpoint.url,
        "events": endpoint.events,
        "is_healthy": not endpoint.is_unhealthy_at(clock.now()),
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if with_secret:
        data["secret"] = endpoint.secret
    return CallbackWithSecretSerializer(data).data


class CallbackView(APIView):
    @extend_schema(
        operation_id="callback_retrieve",
        summary="Your callback URL (without its secret)",
        parameters=[RETRY_AFTER_PARAMETER],
        responses={200: CallbackSerializer, **error_responses(404, *AUTHENTICATED_ERRORS)},
    )
    def get(self, request):
        endpoint = endpoint_get(account=request.user.account)
        if endpoint is None:
            raise NotFound(_("This account has no callback URL."))
        return Response(_answer(endpoint, with_secret=False))

    @extend_schema(
        operation_id="callback_set",
        summary="Set your callback URL and the events pushed to it",
        description=SIGNATURE_DOC + " The answer carries the signing secret when the endpoint is created.",
        parameters=[RETRY_AFTER_PARAMETER],
        request=CallbackRequestSerializer,
        responses={
            200: OpenApiResponse(CallbackWithSecretSerializer, description="Saved."),
            **error_responses(400, *AUTHENTICATED_ERRORS, 413, 415),
        },
        examples=[
            OpenApiExample(
                "Status and replies",
                value={"url": "https://example.com/sms/callbacks", "events": ["status", "reply"]},
                request_only=True,
            )
        ],
    )
    def put(self, request):
        serializer = CallbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, is_created = endpoint_save(
            account=request.user.account,
            url=serializer.validated_data["url"],
            events=serializer.validated_data["events"],
        )
        return Response(_answer(endpoint, with_secret=is_created))

    @extend_schema(
        operation_id="callback_delete",
        summary="Remove your callback URL (undelivered events are dropped)",
        parameters=[RETRY_AFTER_PARAMETER],
        responses={
            204: OpenApiResponse(description="Removed."),
            **error_responses(404, *AUTHENTICATED_ERRORS),
        },
    )
    def delete(self, request):
        endpoint_delete(account=request.user.account)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CallbackSecretView(APIView):
    @extend_schema(
        operation_id="callback_secret_rotate",
        summary="Rotate the signing secret",
        description="A new secret signs every delivery from now on; the answer is the only time it is shown.",
        request=None,
        parameters=[RETRY_AFTER_PARAMETER],
        responses={200: CallbackWithSecretSerializer, **error_responses(404, *AUTHENTICATED_ERRORS)},
    )
    def post(self, request):
        endpoint = endpoint_secret_rotate(account=request.user.account)
        return Response(_answer(endpoint, with_secret=True))
