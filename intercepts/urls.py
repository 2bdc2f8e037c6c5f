from django.urls import path

from intercepts import views

app_name = "intercepts"

urlpatterns = [
    path("", views.InterceptListView.as_view(), name="intercept-list"),
    path("export.csv", views.InterceptExportView.as_view(), name="intercept-export"),
    path("delete/", views.InterceptBulkDeleteView.as_view(), name="intercept-bulk-delete"),
    path("<int:intercept_id>/", views.InterceptDetailView.as_view(), name="intercept-detail"),
    path("<int:intercept_id>/delete/", views.InterceptDeleteView.as_view(), name="intercept-delete"),
]
