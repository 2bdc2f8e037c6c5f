"""`make run` has no broker, so no beat: `runserver` runs the periodic jobs itself."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import MessageStatus
from smsconsole.management.commands.runserver import embedded_beat_wanted
from smsconsole.periodic import EmbeddedBeat
from tests.factories import MessageFactory


@pytest.mark.django_db(transaction=True)
def test_the_embedded_beat_dispatches_a_message_whose_retry_is_due(account, sms_user):
    message = MessageFactory(
        account=account,
        sms_user=sms_user,
        variables={"order": "A-1"},
        status=MessageStatus.REQUESTING,
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1),
        dispatch_attempts=3,
    )

    ran = EmbeddedBeat().run_pending()

    message.refresh_from_db()
    assert message.status in (MessageStatus.AWAITING_RECEIPT, MessageStatus.DELIVERED)
    assert message.channel_delivered_at is not None
    # Every interval job of beat's schedule runs at start; the nightly purge waits for its time.
    assert set(ran) == {
        "dispatch-due-messages",
        "ingest-pending-inbox",
        "retry-early-receipts",
        "compact-message-counts",
        "roll-up-message-latency",
        "deliver-callbacks",
        "expire-intercepts",
        "purge-idempotency-keys",
        "purge-export-jobs",
    }


@pytest.mark.django_db
def test_a_job_runs_again_only_at_its_interval():
    beat = EmbeddedBeat({"often": {"task": "delivery.tasks.inbox_ingest", "schedule": 3600.0}})
    assert beat.run_pending() == ["often"]
    assert beat.run_pending() == []


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others():
    beat = EmbeddedBeat(
        {
            "broken": {"task": "delivery.tasks.simulator_webhook", "schedule": 60.0},  # needs arguments
            "fine": {"task": "delivery.tasks.inbox_ingest", "schedule": 60.0},
        }
    )
    assert beat.run_pending() == ["broken", "fine"]  # "broken" raised, was logged, and "fine" still ran


def test_runserver_runs_the_jobs_only_without_a_broker(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert embedded_beat_wanted()
    monkeypatch.setenv("SMS_EMBEDDED_BEAT", "0")
    assert not embedded_beat_wanted()
    monkeypatch.delenv("SMS_EMBEDDED_BEAT")
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker: beat runs them, exactly once
    assert not embedded_beat_wanted()


def test_manage_py_runserver_is_ours():
    from django.core.management import get_commands

    assert get_commands()["runserver"] == "smsconsole"
