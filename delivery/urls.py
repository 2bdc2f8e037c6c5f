from django.urls import path

from delivery import dashboard_views, views

app_name = "delivery"

urlpatterns = [
    path("status/", views.MessageListView.as_view(), name="message-list"),
    path("status/export.csv", views.MessageExportView.as_view(), name="message-export"),
    path("status/<int:message_id>/", views.MessageDetailView.as_view(), name="message-detail"),
    path("check/", views.NumberCheckView.as_view(), name="number-check"),
    path("numbers/<str:phone>/", views.NumberThreadView.as_view(), name="number-thread"),
    path("dashboard/", dashboard_views.DashboardView.as_view(), name="dashboard"),
]
