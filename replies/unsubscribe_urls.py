from django.urls import path

from replies import views

app_name = "unsubscribes"

urlpatterns = [
    path("", views.UnsubscribeListView.as_view(), name="unsubscribe-list"),
    path("export.csv", views.UnsubscribeExportView.as_view(), name="unsubscribe-export"),
    path("<int:unsubscribe_id>/remove/", views.UnsubscribeRemoveView.as_view(), name="unsubscribe-remove"),
]
