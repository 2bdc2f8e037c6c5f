"""The retry schedule on a channel that is down, as the send log promises it: 30 s, then double,
never more than an hour between attempts."""

import pytest
from django.utils import timezone

from delivery.models import Channel, MessageStatus
from delivery.services.dispatch import due_messages_dispatch
from smsconsole import clock
from smsconsole.models import Account
from tests.factories import TemplateFactory
from tests.pipeline.carrier import FakeCarrier
from tests.pipeline.helpers import send

pytestmark = pytest.mark.django_db


def test_a_channel_that_stays_down_is_retried_at_30_s_doubling_up_to_an_hour(api, account, settings):
    settings.SMS_DISPATCH_MAX_ATTEMPTS = 12
    channel = Channel.objects.create(code="down", kind="http", send_url="http://placeholder")
    template = TemplateFactory(account=account, body="Your parcel {{order}} is on its way")
    with FakeCarrier(secret=channel.webhook_secret) as carrier:
        carrier.mode = "error"
        channel.send_url = carrier.url
        channel.save()
        Account.objects.filter(pk=account.pk).update(default_channel=channel)

        sent_at = timezone.now().replace(microsecond=0)
        with clock.frozen(sent_at):
            [message] = send(api, template, "+819011110001")
        gaps, attempt_at = [], sent_at
        for _ in range(9):
            message.refresh_from_db()
            assert message.status == MessageStatus.REQUESTING
            gaps.append((message.next_attempt_at - attempt_at).total_seconds())
            attempt_at = message.next_attempt_at
            with clock.frozen(attempt_at):
                due_messages_dispatch()

    assert gaps == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert carrier.refs() == []  # every attempt was refused: nothing reached a handset
