"""Two workers at once never send the same events: the endpoint is leased to one of them."""

import threading
from collections import Counter

import pytest
from django.db import connection

from callbacks.services import callbacks_deliver
from delivery.models import Message, MessageStatus
from tests.factories import CallbackEndpointFactory, MessageFactory


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_each_event_once_and_in_order(account, receiver, allow_private_callbacks):
    CallbackEndpointFactory(account=account, url=receiver.url)
    messages = MessageFactory.create_batch(250, account=account)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=MessageStatus.AWAITING_RECEIPT)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=MessageStatus.DELIVERED)
    receiver.answers = [("sleep", 0.3)] * 10

    def worker():
        try:
            callbacks_deliver()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = [event["id"] for event in receiver.events]
    assert len(ids) == 500 and not [i for i, n in Counter(ids).items() if n > 1]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)  # one worker, in order
