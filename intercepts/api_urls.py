from django.urls import path

from intercepts import api

urlpatterns = [
    path("intercepts", api.InterceptCollectionView.as_view(), name="intercept-collection"),
    path("intercepts/<int:intercept_id>", api.InterceptDetailView.as_view(), name="intercept-detail"),
]
