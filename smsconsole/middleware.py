"""Resolve the console's account once per request and show times in its zone."""

from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject

from smsconsole.api import api_error_response, is_api_request
from smsconsole.selectors import console_account_for


class ConsoleAccountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.console_account = SimpleLazyObject(lambda: console_account_for(request))
        account = request.console_account if _is_console_request(request) else None
        if account:
            timezone.activate(account.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _is_console_request(request) -> bool:
    # The API and admin have their own ways of naming the account; only the console uses this one.
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated) and not request.path.startswith(("/api/", "/admin/"))


class ApiLanguageMiddleware:
    """API clients are programs: they get English unless the request names a language.

    The console defaults to Japanese, and LocaleMiddleware would hand that to a script that never
    asked for it. Runs after LocaleMiddleware, which still honours Accept-Language and the cookie.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        names_a_language = (
            "HTTP_ACCEPT_LANGUAGE" in request.META or settings.LANGUAGE_COOKIE_NAME in request.COOKIES
        )
        if names_a_language or not request.path.startswith("/api/"):
            return self.get_response(request)
        with translation.override("en"):
            request.LANGUAGE_CODE = "en"
            response = self.get_response(request)
        response.headers["Content-Language"] = "en"
        return response


class ApiJsonErrorsMiddleware:
    """Every answer under /api/ is JSON: an HTML error page Django drew there becomes the API's shape.

    The `handler*` views (smsconsole/urls.py) already answer JSON for /api/; this catches the pages
    Django draws without them: the DEBUG pages for a 404 or a crash, and any HTML another layer
    returns. Console pages are left as they are.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_request(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            kept = {
                name: response[name]
                for name in ("Allow", "Retry-After", "WWW-Authenticate")
                if name in response
            }
            return api_error_response(response.status_code, headers=kept)
        return response
