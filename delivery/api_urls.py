from django.urls import path

from delivery import api

urlpatterns = [
    path("messages", api.MessageCollectionView.as_view(), name="message-collection"),
    path("messages/<int:message_id>", api.MessageDetailView.as_view(), name="message-detail"),
    path("channels/<slug:code>/receipts", api.ReceiptWebhookView.as_view(), name="channel-receipts"),
    path("channels/<slug:code>/replies", api.ReplyWebhookView.as_view(), name="channel-replies"),
]
