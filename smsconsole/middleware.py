"""Resolve the console's account once per request and show times in its zone."""

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

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
