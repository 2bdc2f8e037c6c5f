from django.urls import path

from replies import api

urlpatterns = [
    path("replies", api.ReplyCollectionView.as_view(), name="reply-collection"),
]
