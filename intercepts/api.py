"""The customer API for intercept records."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.api import ERROR_RESPONSE
from intercepts.services import intercept_delete_by_customer


class InterceptDetailView(APIView):
    @extend_schema(
        operation_id="intercepts_destroy",
        summary="Delete an intercept record your account originated",
        description=(
            "Deletes the record (audited: who, when, from the API). A record of another account, or one "
            "that does not exist, is a 404 either way; a record whose rule does not let customers delete "
            "it is a 403."
        ),
        responses={204: None, 403: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def delete(self, request, intercept_id: int):
        intercept_delete_by_customer(
            account=request.user.account, intercept_id=intercept_id, source="api", actor_sms_user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
