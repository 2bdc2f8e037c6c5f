from django.urls import path

from smsconsole import export_views as views

app_name = "exports"

urlpatterns = [
    path("", views.ExportJobListView.as_view(), name="export-list"),
    path("<int:job_id>/", views.ExportJobDetailView.as_view(), name="export-detail"),
    path("<int:job_id>/download", views.ExportJobDownloadView.as_view(), name="export-download"),
]
