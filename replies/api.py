"""The customer API for replies."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.api import list_response_serializer
from replies.filters import ReplyFilter
from replies.models import Reply
from smsconsole.api import (
    AUTHENTICATED_ERRORS,
    RETRY_AFTER_PARAMETER,
    FilteredListSchema,
    error_responses,
    filtered_page,
    filterset_parameters,
    page_response,
)


class ReplySerializer(serializers.ModelSerializer):
    template_name = serializers.CharField(source="template.name", default=None, allow_null=True)

    class Meta:
        model = Reply
        fields = [
            "id",
            "phone",
            "received_at",
            "carrier",
            "content",
            "template",
            "template_name",
            "tag",
            "message",
            "is_unsubscribe",
            "is_optout_like",
        ]


class ReplyCollectionView(APIView):
    filterset_class = ReplyFilter
    schema = FilteredListSchema()

    @extend_schema(
        operation_id="replies_list",
        summary="List replies from your recipients",
        description=(
            "Filters: phone, template, tag, received_from / received_to (at most 30 days back; default "
            "the last 24 hours). `is_unsubscribe`: the reply put the number on your unsubscribe list; "
            "`is_optout_like`: it reads like an opt-out without being one, worth a look."
        ),
        parameters=[*filterset_parameters(ReplyFilter), RETRY_AFTER_PARAMETER],
        responses={
            200: list_response_serializer("ReplyPage", ReplySerializer),
            **error_responses(400, *AUTHENTICATED_ERRORS),
        },
    )
    def get(self, request):
        page = filtered_page(
            request, filterset_class=self.filterset_class, time_field="received_at", list_key="api.replies"
        )
        return Response(page_response(request, page, ReplySerializer(page.object_list, many=True).data))
