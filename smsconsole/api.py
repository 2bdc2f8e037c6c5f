"""API plumbing shared by the apps: every answer under /api/ is JSON, errors included.

Errors have one shape, `{"detail": "…", "code": "…", "errors": {…}}` (`errors` naming each bad field
when there are any). DRF views get it from `exception_handler`; what fails outside them (an unknown
route, Django's own 400/404/500) gets it from the `handler*` views in smsconsole/urls.py and, for
the pages Django draws itself in DEBUG, from `middleware.ApiJsonErrorsMiddleware`.
"""

import logging
import re
import sys

import django_filters
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from smsconsole import error_pages as console_error_pages
from smsconsole.exceptions import ServiceError
from smsconsole.filters import ZonedDateTimeFilter
from smsconsole.idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    IdempotentRequest,
    idempotent_request_parse,
)
from smsconsole.models import IdempotencyKey
from smsconsole.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, InvalidCursor, KeysetPaginator
from smsconsole.parsers import PayloadTooLarge, too_large_detail

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# A dropped database connection is over in seconds (a failover, a restart); say when to come back.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = gettext_lazy(
    "The service is briefly unavailable (its database could not be reached); try again in a few "
    "seconds. A retry with the same Idempotency-Key cannot send twice."
)

# The detail and code of an error answer that has nothing more specific to say.
# Lazy: each answer is in the language of its request.
STATUS_ERRORS = {
    400: (gettext_lazy("Bad request."), "bad_request"),
    401: (gettext_lazy("Authentication credentials were not provided."), "not_authenticated"),
    403: (gettext_lazy("You do not have permission to perform this action."), "permission_denied"),
    404: (gettext_lazy("Not found."), "not_found"),
    405: (gettext_lazy("Method not allowed."), "method_not_allowed"),
    406: (gettext_lazy("Not acceptable: the API answers application/json."), "not_acceptable"),
    409: (gettext_lazy("Conflict."), "conflict"),
    413: (gettext_lazy("The request body is larger than the server accepts."), "too_large"),
    415: (gettext_lazy("Unsupported media type: send application/json."), "unsupported_media_type"),
    429: (gettext_lazy("Too many requests."), "throttled"),
    500: (
        gettext_lazy("Internal server error. It has been logged; nothing in this answer says more."),
        "server_error",
    ),
    503: (UNAVAILABLE_DETAIL, "unavailable"),
}


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


def error_body(status_code: int, *, detail: str | None = None, code: str | None = None) -> dict:
    default_detail, default_code = STATUS_ERRORS.get(
        status_code, (gettext_lazy("Error."), "server_error" if status_code >= 500 else "error")
    )
    return {"detail": str(detail or default_detail), "code": code or default_code}


def api_error_response(
    status_code: int, *, detail: str | None = None, code: str | None = None, headers: dict | None = None
) -> JsonResponse:
    """An error answer in the API's shape, for code outside DRF views (no content negotiation)."""
    response = JsonResponse(error_body(status_code, detail=detail, code=code), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    if status_code == 503:
        response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def is_database_unavailable(exc: BaseException | None) -> bool:
    """A lost or refused database connection: temporary, worth a retry (not a bug in a query)."""
    return isinstance(exc, InterfaceError | OperationalError)


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = UNAVAILABLE_DETAIL
    default_code = "unavailable"
    wait = UNAVAILABLE_RETRY_AFTER_SECONDS


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": str(exc.message), "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif is_database_unavailable(exc):
        logger.warning("API request answered 503: the database is unavailable", exc_info=exc)
        exc = Unavailable()
    # Anything else unexpected gets no answer here: Django logs it and `server_error` answers 500.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, ValidationError):
        response.data = {"detail": _("Invalid request."), "code": "invalid", "errors": _as_errors(data)}
    elif not isinstance(data, dict) or "detail" not in data:
        response.data = {**error_body(response.status_code), "errors": _as_errors(data)}
    elif "code" not in data:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        data["code"] = codes if isinstance(codes, str) else error_body(response.status_code)["code"]
    return response


def _as_errors(data) -> dict:
    # A serializer's errors are a dict of fields; a ValidationError raised with a list or a string
    # has no field to name.
    if isinstance(data, dict):
        return data
    return {"non_field_errors": data if isinstance(data, list) else [data]}


class StrictCharField(serializers.CharField):
    """A CharField that takes only a JSON string, as the schema says: DRF's turns `0` into "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that takes only a JSON number, as the schema says: DRF's takes "3" and `true`."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Django's error views, for /api/ ------------------------------------------------------------


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if not is_api_request(request):
        return console_error_pages.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return api_error_response(413, detail=too_large_detail())
    return api_error_response(400)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if not is_api_request(request):
        return console_error_pages.permission_denied(request, exception)
    return api_error_response(403)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if not is_api_request(request):
        return console_error_pages.page_not_found(request, exception)
    # Not the exception's text: for an unmatched route Django puts the URL patterns tried there.
    return api_error_response(404, detail=_("Not found: no such endpoint or object."))


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if not is_api_request(request):
        return console_error_pages.server_error(request)
    if is_database_unavailable(sys.exc_info()[1]):
        return api_error_response(503)
    return api_error_response(500)


# --- Idempotency-Key -----------------------------------------------------------------------------


def idempotent_request_from(request) -> IdempotentRequest | None:
    """The request's Idempotency-Key with its body's hash; None without the header, 400 for a bad one."""
    return idempotent_request_parse(key=request.headers.get(IDEMPOTENCY_KEY_HEADER), data=request.data)


def replayed_response(stored: IdempotencyKey) -> Response:
    """The stored answer to a retried Idempotency-Key, as it was first given."""
    return Response(stored.response_body, status=stored.response_status, headers={REPLAYED_HEADER: "true"})


# --- OpenAPI ------------------------------------------------------------------------------------


ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(required=False),
    },
)
ERROR_MEANINGS = {
    400: "Invalid request: `errors` names each bad field.",
    401: "No API key, or not a valid one: `Authorization: Bearer <API key>`.",
    403: "The SMS_USER is inactive or its account is suspended.",
    404: "No such object in your account.",
    409: f"The {IDEMPOTENCY_KEY_HEADER} was used in the last 24 hours with a different body.",
    413: "The body is larger than the limit.",
    415: "The body is not application/json.",
    429: "Too many requests: wait the `Retry-After` seconds.",
    503: (
        "The database could not be reached: retry after `Retry-After` seconds (with the same "
        f"{IDEMPOTENCY_KEY_HEADER}, a retry cannot send twice)."
    ),
}
# What any authenticated endpoint may answer besides its own results and errors.
AUTHENTICATED_ERRORS = (401, 403, 429, 503)


def error_responses(*status_codes: int) -> dict:
    """Document error answers: each in the one error shape, with what it means."""
    return {
        code: OpenApiResponse(ERROR_RESPONSE, description=ERROR_MEANINGS.get(code, ""))
        for code in status_codes
    }


# The largest id a row can have (a bigint); documented so a client knows larger ones cannot exist.
MAX_ID = 2**63 - 1


def id_path_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        location=OpenApiParameter.PATH,
        description=description,
    )


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes a retry safe: for 24 hours a request with the same key and the same body answers the "
        f"first answer again (marked `{REPLAYED_HEADER}: true`) and stores nothing; the same key with "
        "another body is a 409. 1 to 255 printable ASCII characters; a UUID per request is a good key."
    ),
)


# --- filtered, keyset-paginated lists ------------------------------------------------------------


PAGINATION_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from a previous page's `next` or `previous`."),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
        description=f"Rows per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE}).",
    ),
    OpenApiParameter(
        "order", str, enum=["desc", "asc"], description="Newest first (default) or oldest first."
    ),
]


def filterset_parameters(filterset_class) -> list[OpenApiParameter]:
    """Document a console FilterSet's filters as the API's query parameters."""
    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        enum, kind, description = None, str, str(filter_.label or "")
        if isinstance(filter_, django_filters.ModelChoiceFilter):
            kind = {"type": "integer", "minimum": 1, "maximum": MAX_ID}  # one of the account's own ids
        elif isinstance(filter_, django_filters.ChoiceFilter):
            choices = filter_.extra.get("choices")
            choices = choices() if callable(choices) else choices
            enum = [str(value) for value, label in _flatten(choices or [])]
        elif isinstance(filter_, ZonedDateTimeFilter):
            kind = OpenApiTypes.DATETIME
            description += ". ISO 8601; without an offset, in the account's time zone."
        parameters.append(OpenApiParameter(name, kind, enum=enum, description=description))
    return parameters + PAGINATION_PARAMETERS


class FilteredListSchema(AutoSchema):
    """The schema of a list view over a console FilterSet (the view's `filterset_class`).

    An empty filter value means "any", as in the console's forms (`?status=&tag=`), so each filter
    parameter is documented with `allowEmptyValue`, which drf-spectacular has no option for."""

    def _get_parameters(self):
        parameters = super()._get_parameters()
        filters = self.view.filterset_class.base_filters
        for parameter in parameters:
            if parameter["in"] == OpenApiParameter.QUERY and parameter["name"] in filters:
                parameter["allowEmptyValue"] = True
        return parameters


def _flatten(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from _flatten(label)
        else:
            yield value, label


_DIGITS_RE = re.compile(r"[0-9]{1,6}")


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
        raise ValidationError({"order": [_('Use "desc" or "asc".')]})
    raw_limit = request.query_params.get("limit", str(DEFAULT_PER_PAGE))
    # Plain ASCII digits only: int() would also take " 5", "5_0" and other scripts' digits.
    if not _DIGITS_RE.fullmatch(raw_limit) or not 1 <= (limit := int(raw_limit)) <= MAX_PER_PAGE:
        raise ValidationError({"limit": [_("A whole number from 1 to %(max)d.") % {"max": MAX_PER_PAGE}]})
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


REPLAYED_HEADER_PARAMETER = OpenApiParameter(
    REPLAYED_HEADER,
    {"type": "string", "enum": ["true"]},
    location=OpenApiParameter.HEADER,
    response=[202],
    description=f"Present on an answer given again for a retried {IDEMPOTENCY_KEY_HEADER}.",
)
RETRY_AFTER_PARAMETER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    location=OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)
