"""The API's request parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Its own module: DRF imports it while defining APIView, so it must not import DRF's views."""

import io

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers, status


def too_large_detail() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _("The request body is larger than %(limit)s bytes: send fewer items per request.") % {
        "limit": f"{limit:,}"
    }


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is larger than the server accepts.")
    default_code = "too_large"

    def __init__(self):
        super().__init__(too_large_detail())


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 or 413 where DRF's own lets an exception escape as a 500.

    DRF reads the stream without a size check (Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only for
    `request.body` and forms), and `json` raises RecursionError, not ValueError, on deep nesting."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - the body is nested too deeply.")) from None
