"""The customer API for replies."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.api import ERROR_RESPONSE, list_response_serializer
from replies.filters import ReplyFilter
from replies.models import Reply
from smsconsole.api import filtered_page, filterset_parameters, page_response


class ReplySerializer(serializers.ModelSerializer):
    template_name = serializers.CharField(source="template.name", default=None)

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
    @extend_schema(
        operation_id="replies_list",
        summary="List replies from your recipients",
        description=(
            "Filters: phone, template, tag, received_from / received_to (at most 30 days back; default "
            "the last 24 hours). `is_unsubscribe`: the reply put the number on your unsubscribe list; "
            "`is_optout_like`: it reads like an opt-out without being one, worth a look."
        ),
        parameters=filterset_parameters(ReplyFilter),
        responses={200: list_response_serializer("ReplyPage", ReplySerializer), 400: ERROR_RESPONSE},
    )
    def get(self, request):
        page = filtered_page(
            request, filterset_class=ReplyFilter, time_field="received_at", list_key="api.replies"
        )
        return Response(page_response(request, page, ReplySerializer(page.object_list, many=True).data))
