"""The update time is the latest time of a message, for live traffic too: a carrier clock running
ahead does not put the receipt after the moment the platform heard of it."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.channels.base import ReceiptItem
from delivery.models import MessageStatus
from delivery.services.receipts import receipts_apply
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def awaiting(account, cid):
    now = timezone.now()
    return MessageFactory(
        account=account,
        status=MessageStatus.AWAITING_RECEIPT,
        channel=account.default_channel,
        channel_message_id=cid,
        requested_at=now - dt.timedelta(minutes=1),
        channel_delivered_at=now - dt.timedelta(minutes=1),
        updated_at=now - dt.timedelta(minutes=1),
    )


@pytest.mark.parametrize("status, code", [("delivered", None), ("failed", 560)])
def test_a_receipt_from_a_carrier_clock_running_ahead_is_not_after_the_update_time(account, status, code):
    message = awaiting(account, "c-1")
    now = timezone.now()
    ahead = now + dt.timedelta(minutes=7)

    receipts_apply(
        channel=account.default_channel,
        receipts=[ReceiptItem(channel_message_id="c-1", status=status, code=code, detail="", done_at=ahead)],
        now=now,
    )

    message.refresh_from_db()
    assert message.status != MessageStatus.AWAITING_RECEIPT
    assert message.receipt_at == message.updated_at == now
    # The carrier's own words are kept as it sent them, in the send log.
    assert message.events.get(kind="receipt").detail["done_at"] == ahead.isoformat()


def test_a_receipt_from_the_past_keeps_its_handset_time(account):
    message = awaiting(account, "c-2")
    now = timezone.now()
    done = now - dt.timedelta(seconds=30)

    receipts_apply(
        channel=account.default_channel,
        receipts=[
            ReceiptItem(channel_message_id="c-2", status="delivered", code=None, detail="", done_at=done)
        ],
        now=now,
    )

    message.refresh_from_db()
    assert (message.receipt_at, message.updated_at) == (done, now)
