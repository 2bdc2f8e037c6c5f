"""The Kannel channel's side of the console: its callback URLs, its callbacks into the one inbox,
and which messages Kannel is known to have.

A DLR callback becomes one SMPP 3.4 receipt line about our message (text/plain), an MO callback a
replies body (JSON): both go through `inbox_receive`, so they are stored before the 202 and then
ingested like every channel's receipts and replies (idempotency, ordering, early receipts,
return codes through the staff-edited (stat, err) table, unsubscribe keywords).
"""

import datetime as dt
import json

from django.conf import settings
from django.urls import reverse

from delivery.channels import kannel
from delivery.models import Channel, EarlyReceipt, InboxItem
from delivery.services.receipts import inbox_receive

# Logged when a message is recorded as handed over without a request: Kannel's callback about it
# came in, so Kannel has it, though the answer to the request that brought it there was lost.
HELD_NOTE = (
    "not sent again: Kannel already has this message (a callback about it came in after the answer "
    "to an earlier attempt was lost)"
)


def kannel_dlr_endpoint(channel: Channel) -> str:
    """The absolute URL Kannel calls back with this channel's DLRs (without its query)."""
    return settings.SMS_PUBLIC_BASE_URL + reverse("api:channel-kannel-dlr", kwargs={"code": channel.code})


def kannel_mo_endpoint(channel: Channel) -> str:
    return settings.SMS_PUBLIC_BASE_URL + reverse("api:channel-kannel-replies", kwargs={"code": channel.code})


def kannel_mo_url(channel: Channel) -> str:
    """The `get-url` (or `post-url`) for the Kannel `sms-service` that forwards replies to the console."""
    return kannel.mo_url(endpoint=kannel_mo_endpoint(channel), secret=channel.webhook_secret)


def kannel_messages_held(*, channel_id: int, refs: list[int]) -> dict[int, str]:
    """Which of these (still requesting) messages Kannel has already: a callback about each came in.

    Such a callback waits as an early receipt, since the message was never recorded as handed
    over; it is applied once the hand-over is."""
    ids = {kannel.channel_message_id(ref): ref for ref in refs}
    found = EarlyReceipt.objects.filter(
        channel_id=channel_id, channel_message_id__in=list(ids), orphaned_at__isnull=True
    ).values_list("channel_message_id", flat=True)
    return {ids[channel_message_id]: HELD_NOTE for channel_message_id in set(found)}


def kannel_dlr_receive(
    *,
    channel: Channel,
    ref: int,
    dlr_type: int,
    answer: str,
    smsc: str = "",
    smsc_message_id: str = "",
    at: dt.datetime,
) -> InboxItem:
    """Store a DLR callback about message `ref` as a receipt line; ingestion applies it."""
    line = kannel.dlr_receipt_line(
        ref=ref, dlr_type=dlr_type, answer=answer, smsc=smsc, smsc_message_id=smsc_message_id, at=at
    )
    return inbox_receive(
        channel=channel,
        kind=InboxItem.Kind.RECEIPTS,
        body=line.encode("utf-8"),
        content_type="text/plain; charset=utf-8",
    )


def kannel_mo_receive(
    *, channel: Channel, sender: str, text: str, received_at: dt.datetime, smsc: str = ""
) -> InboxItem:
    """Store an MO callback as a reply; ingestion attaches it and acts on unsubscribe keywords."""
    body = {
        "replies": [
            {
                "from": kannel.mo_phone(sender),
                "content": text,
                "received_at": received_at.isoformat(),
                "carrier": smsc,
            }
        ]
    }
    return inbox_receive(
        channel=channel,
        kind=InboxItem.Kind.REPLIES,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )
