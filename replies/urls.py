from django.urls import path

from replies import views

app_name = "replies"

urlpatterns = [
    path("", views.ReplyListView.as_view(), name="reply-list"),
    path("export.csv", views.ReplyExportView.as_view(), name="reply-export"),
]
