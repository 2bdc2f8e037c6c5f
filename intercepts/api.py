"""The customer API for intercept records."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.api import list_response_serializer
from intercepts.filters import InterceptFilter
from intercepts.models import Intercept
from intercepts.selectors import intercept_is_customer_deletable, intercept_rules_by_code
from intercepts.services import intercept_delete_by_customer
from smsconsole import clock
from smsconsole.api import (
    AUTHENTICATED_ERRORS,
    RETRY_AFTER_PARAMETER,
    FilteredListSchema,
    error_responses,
    filtered_page,
    filterset_parameters,
    id_path_parameter,
    page_response,
)


class InterceptDetailView(APIView):
    @extend_schema(
        operation_id="intercepts_destroy",
        summary="Delete an intercept record your account originated",
        description=(
            "Deletes the record (audited: who, when, from the API). A record of another account, or one "
            "that does not exist, is a 404 either way; a record whose rule does not let customers delete "
            "it is a 403."
        ),
        parameters=[id_path_parameter("intercept_id", "The intercept record's id."), RETRY_AFTER_PARAMETER],
        responses={204: None, **error_responses(404, *AUTHENTICATED_ERRORS)},
    )
    def delete(self, request, intercept_id: int):
        intercept_delete_by_customer(
            account=request.user.account, intercept_id=intercept_id, source="api", actor_sms_user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InterceptSerializer(serializers.ModelSerializer):
    is_live = serializers.SerializerMethodField()
    is_own = serializers.SerializerMethodField(help_text="Your account originated this record.")
    can_delete = serializers.SerializerMethodField(help_text="You may delete it (DELETE /intercepts/{id}).")

    class Meta:
        model = Intercept
        fields = [
            "id",
            "phone",
            "scope",
            "return_code",
            "reason",
            "intercepted_at",
            "expires_at",
            "is_live",
            "is_own",
            "can_delete",
        ]

    def get_is_live(self, intercept) -> bool:
        return intercept.is_live(clock.now())

    def get_is_own(self, intercept) -> bool:
        return intercept.account_id == self.context["account"].pk

    def get_can_delete(self, intercept) -> bool:
        return intercept_is_customer_deletable(
            intercept=intercept, account=self.context["account"], rules=self.context["rules"]
        )


class InterceptCollectionView(APIView):
    filterset_class = InterceptFilter
    schema = FilteredListSchema()

    @extend_schema(
        operation_id="intercepts_list",
        summary="List the intercept records your account may see",
        description=(
            "Your account's own records, and other accounts' global records where they matter to you "
            "(they blocked one of your messages, or you filter for that exact phone), never naming the "
            "other account. Filters: phone, scope, return_code, state (live / expired)."
        ),
        parameters=[*filterset_parameters(InterceptFilter), RETRY_AFTER_PARAMETER],
        responses={
            200: list_response_serializer("InterceptPage", InterceptSerializer),
            **error_responses(400, *AUTHENTICATED_ERRORS),
        },
    )
    def get(self, request):
        account = request.user.account
        page = filtered_page(
            request,
            filterset_class=self.filterset_class,
            time_field="intercepted_at",
            list_key="api.intercepts",
        )
        context = {"account": account, "rules": intercept_rules_by_code()}
        return Response(
            page_response(
                request, page, InterceptSerializer(page.object_list, many=True, context=context).data
            )
        )
