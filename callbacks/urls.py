from django.urls import path

from callbacks import views

app_name = "callbacks"

urlpatterns = [
    path("", views.CallbackSettingsView.as_view(), name="endpoint-settings"),
    path("secret/", views.CallbackSecretRotateView.as_view(), name="endpoint-secret"),
    path("delete/", views.CallbackDeleteView.as_view(), name="endpoint-delete"),
    path("test/", views.CallbackTestEventView.as_view(), name="endpoint-test"),
    path("replay/", views.CallbackRangeReplayView.as_view(), name="range-replay"),
    path("events/<int:event_id>/replay/", views.CallbackEventReplayView.as_view(), name="event-replay"),
    path("log/", views.CallbackAttemptListView.as_view(), name="attempt-list"),
    path("log/export.csv", views.CallbackAttemptExportView.as_view(), name="attempt-export"),
]
