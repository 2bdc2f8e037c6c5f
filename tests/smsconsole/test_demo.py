import io

import pytest
from django.core.management import call_command

from delivery.models import Message, MessageStatus
from intercepts.models import Intercept
from replies.models import Reply
from smsconsole.models import Account


# Transactional: the pipeline runs after each commit, as it does in `make run`.
@pytest.mark.django_db(transaction=True)
def test_demo_replays_traffic_through_the_pipeline_once():
    out = io.StringIO()
    call_command("load_demo", messages=1500, stdout=out, stderr=io.StringIO())
    assert "demo / demo-password" in out.getvalue()
    assert Account.objects.count() == 3
    assert 1200 < Message.objects.count() < 1900
    statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses >= {
        MessageStatus.DELIVERED,
        MessageStatus.SEND_FAILED,
        MessageStatus.PROCESSING_FAILED,
        MessageStatus.AWAITING_RECEIPT,
    }
    reasons = set(Message.objects.values_list("reason", flat=True))
    assert len(reasons) >= 12
    assert Intercept.objects.exists() and Reply.objects.exists()
    # Every message went through the send log, from the request on.
    assert not Message.objects.exclude(events__kind="requested").exists()

    call_command("load_demo", stdout=out, stderr=io.StringIO())
    assert "already present" in out.getvalue()
    assert Account.objects.count() == 3
