"""The JSON API, version 1. Each app contributes its routes from its own `api_urls.py`."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("delivery.api_urls")),
    path("", include("intercepts.api_urls")),
    path("", include("replies.api_urls")),
    path("", include("callbacks.api_urls")),
    path(
        "schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"
    ),
]
