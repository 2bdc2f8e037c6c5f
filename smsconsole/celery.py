"""The Celery app: configured from Django settings (CELERY_ namespace), tasks autodiscovered."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsconsole.settings")

app = Celery("smsconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Messages whose channel was down wait in `requesting` with a next attempt time; pick them up.
    "dispatch-due-messages": {"task": "delivery.tasks.dispatch_due", "schedule": 15.0},
    # Webhook payloads are ingested as they arrive; this catches any whose task was lost.
    "ingest-pending-inbox": {"task": "delivery.tasks.inbox_ingest", "schedule": 30.0},
    # Receipts that came before their message was known: try again, give up after the window.
    "retry-early-receipts": {"task": "delivery.tasks.early_receipts_retry", "schedule": 60.0},
    # Fold the status list's count changes into its hour and day counts (exact without it; faster).
    "compact-message-counts": {"task": "delivery.tasks.message_counts_compact", "schedule": 60.0},
    # Recompute the dashboard's latency histograms of the last two days from the messages.
    "roll-up-message-latency": {"task": "delivery.tasks.message_latency_rollup", "schedule": 600.0},
    # POST due status callbacks to customers' endpoints (each endpoint leased to one worker at a time).
    "deliver-callbacks": {"task": "callbacks.tasks.callbacks_deliver", "schedule": 10.0},
    # Tidy expired intercepts away; blocking compares with the clock and never waits for this.
    "expire-intercepts": {"task": "intercepts.tasks.intercepts_expire", "schedule": 300.0},
    # Forget send API idempotency keys past their 24 hours; lookups ignore old keys meanwhile.
    "purge-idempotency-keys": {"task": "smsconsole.tasks.idempotency_keys_purge", "schedule": 3600.0},
    # Delete background CSV exports (jobs and files) past SMS_EXPORT_RETENTION_DAYS; fail stalled ones.
    "purge-export-jobs": {"task": "smsconsole.tasks.export_jobs_purge", "schedule": 3600.0},
    # Drop delivered callback events and callback log lines past the retention period, nightly (UTC).
    "purge-callbacks": {"task": "callbacks.tasks.callbacks_purge", "schedule": crontab(hour=18, minute=45)},
    # Drop messages, send logs and replies older than the retention period, nightly (UTC).
    "purge-past-retention": {
        "task": "delivery.tasks.retention_purge",
        "schedule": crontab(hour=18, minute=30),
    },
}
