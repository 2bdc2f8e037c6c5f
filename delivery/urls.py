from django.urls import path

from delivery import views

app_name = "delivery"

urlpatterns = [
    path("status/", views.MessageListView.as_view(), name="message-list"),
    path("status/export.csv", views.MessageExportView.as_view(), name="message-export"),
    path("status/<int:message_id>/", views.MessageDetailView.as_view(), name="message-detail"),
    path("numbers/<str:phone>/", views.NumberThreadView.as_view(), name="number-thread"),
]
