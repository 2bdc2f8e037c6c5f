"""API plumbing shared by the apps: errors as JSON."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from smsconsole.exceptions import ServiceError


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        if isinstance(response.data, dict) and "detail" not in response.data:
            response.data = {"detail": "Invalid request.", "code": "invalid", "errors": response.data}
        elif isinstance(response.data, list):
            response.data = {"detail": "Invalid request.", "code": "invalid", "errors": response.data}
    return response
