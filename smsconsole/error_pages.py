"""The console's own error pages (templates/400.html, 403.html, 404.html, 500.html), in both modes.

smsconsole/urls.py's handler400/403/404/500 (in smsconsole/api.py) answer JSON under /api/ and call
these elsewhere. With DEBUG on, Django does not call handler404 or handler500: it draws its
technical pages instead (the URL patterns, the settings, a traceback), which anyone who reaches a
`make run` on a shared address would see. DebugErrorPagesMiddleware swaps those for these pages,
so the console looks and reads the same with DEBUG on or off; the traceback of a 500 is still
logged (django.request) where the developer runs the server.
"""

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader

# Set on the responses drawn here, so the middleware can tell them from Django's technical pages.
CONSOLE_ERROR_PAGE = "is_console_error_page"


def _mark(response: HttpResponse) -> HttpResponse:
    setattr(response, CONSOLE_ERROR_PAGE, True)
    return response


def _standalone(template_name: str, status: int) -> HttpResponse:
    # Drawn without the request's context (no account, no session, no database): the request
    # itself may be what failed. The active language still applies.
    return _mark(HttpResponse(loader.get_template(template_name).render(), status=status))


def bad_request(request, exception=None) -> HttpResponse:
    return _standalone("400.html", 400)


def permission_denied(request, exception=None) -> HttpResponse:
    return _mark(render(request, "403.html", status=403))


def page_not_found(request, exception=None) -> HttpResponse:
    return _mark(render(request, "404.html", status=404))


def server_error(request) -> HttpResponse:
    return _standalone("500.html", 500)


_REPLACEMENTS = {400: bad_request, 404: page_not_found, 500: server_error}


class DebugErrorPagesMiddleware:
    """With DEBUG on, a console page's 400, 404 or 500 is the console's page, not Django's technical one.

    Only HTML error pages Django drew itself are swapped (those not marked by the views above);
    the API's JSON answers (ApiJsonErrorsMiddleware) are left alone. With DEBUG off Django calls
    the handlers, and this does nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        replacement = _REPLACEMENTS.get(response.status_code)
        if (
            replacement is None
            or not settings.DEBUG
            or getattr(response, CONSOLE_ERROR_PAGE, False)
            or request.path.startswith("/api/")  # smsconsole.api.API_PREFIX: the API answers JSON
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        if response.status_code == 500:
            return replacement(request)
        return replacement(request, None)

    def process_exception(self, request, exception):
        # A refused request (too many fields, a bad header) makes Django's DEBUG page fail in turn
        # as it reads the request back, so the page is drawn here, before it tries.
        if (
            not settings.DEBUG
            or request.path.startswith("/api/")
            or not isinstance(exception, SuspiciousOperation)
        ):
            return None
        logging.getLogger(f"django.security.{exception.__class__.__name__}").error(str(exception))
        return bad_request(request, exception)
