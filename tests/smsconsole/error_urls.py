"""The console's URLs plus one that refuses, for the 403 page (pytest.mark.urls)."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from smsconsole.urls import handler400, handler403, handler404, handler500  # noqa: F401
from smsconsole.urls import urlpatterns as console_urlpatterns


def forbidden(request):
    raise PermissionDenied("internal reason never shown")


urlpatterns = [path("forbidden/", forbidden), *console_urlpatterns]
