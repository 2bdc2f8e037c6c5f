from django.urls import path

from delivery import api, kannel_api

urlpatterns = [
    path("messages", api.MessageCollectionView.as_view(), name="message-collection"),
    path("messages/check", api.MessageCheckView.as_view(), name="message-check"),
    path("messages/<int:message_id>", api.MessageDetailView.as_view(), name="message-detail"),
    path("channels/<slug:code>/receipts", api.ReceiptWebhookView.as_view(), name="channel-receipts"),
    path("channels/<slug:code>/replies", api.ReplyWebhookView.as_view(), name="channel-replies"),
    # A Kannel channel's callbacks: it cannot sign, so each URL carries a token (delivery/kannel_api.py).
    path(
        "channels/<slug:code>/kannel/dlr",
        kannel_api.KannelDlrWebhookView.as_view(),
        name="channel-kannel-dlr",
    ),
    path(
        "channels/<slug:code>/kannel/replies",
        kannel_api.KannelReplyWebhookView.as_view(),
        name="channel-kannel-replies",
    ),
]
