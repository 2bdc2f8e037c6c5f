"""API plumbing shared by the apps: errors as JSON."""

import django_filters
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from smsconsole.exceptions import ServiceError
from smsconsole.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, InvalidCursor, KeysetPaginator


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


# --- filtered, keyset-paginated lists ------------------------------------------------------------


PAGINATION_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from a previous page's `next` or `previous`."),
    OpenApiParameter(
        "limit", int, description=f"Rows per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})."
    ),
    OpenApiParameter(
        "order", str, enum=["desc", "asc"], description="Newest first (default) or oldest first."
    ),
]


def filterset_parameters(filterset_class) -> list[OpenApiParameter]:
    """Document a console FilterSet's filters as the API's query parameters."""
    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        enum, kind = None, str
        if isinstance(filter_, django_filters.ModelChoiceFilter):
            kind = int  # an id of one of the account's own objects
        elif isinstance(filter_, django_filters.ChoiceFilter):
            choices = filter_.extra.get("choices")
            choices = choices() if callable(choices) else choices
            enum = [str(value) for value, label in _flatten(choices or [])]
        parameters.append(OpenApiParameter(name, kind, enum=enum, description=str(filter_.label or "")))
    return parameters + PAGINATION_PARAMETERS


def _flatten(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from _flatten(label)
        else:
            yield value, label


def filtered_page(request, *, filterset_class, time_field: str, list_key: str, select_related=()):
    """Bind the console's FilterSet to the query string and return one keyset page of its rows.

    Bad parameters are a 400 naming each one, exactly as the console's form reports them."""
    filterset = filterset_class(request.query_params, account=request.user.account)
    if not filterset.is_valid():
        raise ValidationError(
            {name: [str(e) for e in errors] for name, errors in filterset.form.errors.items()}
        )
    order = request.query_params.get("order", "desc")
    if order not in ("desc", "asc"):
        raise ValidationError({"order": ['Use "desc" or "asc".']})
    try:
        limit = int(request.query_params.get("limit", DEFAULT_PER_PAGE))
        if not 1 <= limit <= MAX_PER_PAGE:
            raise ValueError
    except ValueError:
        raise ValidationError({"limit": [f"A whole number from 1 to {MAX_PER_PAGE}."]}) from None
    paginator = KeysetPaginator(
        filterset.qs.select_related(*select_related),
        time_field=time_field,
        per_page=limit,
        descending=order == "desc",
        list_key=list_key,
    )
    try:
        return paginator.page(request.query_params.get("cursor"))
    except InvalidCursor as exc:
        raise ValidationError({"cursor": [str(exc)]}) from None


def page_response(request, page, rows) -> dict:
    def link(cursor):
        if cursor is None:
            return None
        params = request.query_params.copy()
        params["cursor"] = cursor
        return request.build_absolute_uri(request.path) + "?" + params.urlencode()

    return {"next": link(page.next_cursor), "previous": link(page.previous_cursor), "results": rows}
