import datetime as dt

import pytest
from django.utils import timezone

from callbacks.models import AttemptOutcome, CallbackAttempt, CallbackEvent, EventKind, EventState
from callbacks.services import callbacks_purge
from tests.factories import CallbackEndpointFactory


@pytest.mark.django_db
def test_finished_events_and_log_lines_past_retention_are_purged(account, settings):
    settings.SMS_RETENTION_DAYS = 30
    CallbackEndpointFactory(account=account)
    old, recent = timezone.now() - dt.timedelta(days=31), timezone.now() - dt.timedelta(days=29)

    def event(at, state):
        return CallbackEvent.objects.create(
            account=account, kind=EventKind.TEST, occurred_at=at, created_at=at, state=state
        )

    gone, kept = event(old, EventState.DELIVERED), event(recent, EventState.DELIVERED)
    still_pending = event(old, EventState.PENDING)  # a replay of an old event, on its way
    for at in (old, recent):
        CallbackAttempt.objects.create(account=account, attempted_at=at, outcome=AttemptOutcome.OK)

    report = callbacks_purge()

    assert (report.events, report.attempts) == (1, 1)
    assert set(CallbackEvent.objects.values_list("pk", flat=True)) == {kept.pk, still_pending.pk}
    assert not CallbackEvent.objects.filter(pk=gone.pk).exists()
    assert CallbackAttempt.objects.get().attempted_at == recent
