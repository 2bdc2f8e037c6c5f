from django.urls import path

from callbacks import api

urlpatterns = [
    path("callback", api.CallbackView.as_view(), name="callback"),
    path("callback/secret", api.CallbackSecretView.as_view(), name="callback-secret"),
]
