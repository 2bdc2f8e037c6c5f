from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from smsconsole import views as console_views

urlpatterns = [
    path("", console_views.home, name="home"),
    path("", include("delivery.urls")),
    path("intercepts/", include("intercepts.urls")),
    path("replies/", include("replies.urls")),
    path("unsubscribes/", include("replies.unsubscribe_urls")),
    path("exports/", include("smsconsole.export_urls")),
    path("settings/callbacks/", include("callbacks.urls")),
    path("account/switch/", console_views.account_switch, name="account-switch"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("smsconsole.api_urls", "api"), namespace="api")),
]

# Under /api/ these answer JSON in the API's error shape (a dropped database connection is a 503);
# elsewhere they are Django's own pages.
handler400 = "smsconsole.api.bad_request"
handler403 = "smsconsole.api.permission_denied"
handler404 = "smsconsole.api.page_not_found"
handler500 = "smsconsole.api.server_error"
