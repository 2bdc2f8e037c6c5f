"""Celery tasks: thin wrappers over the services of the same name, taking ids and plain values."""

from celery import shared_task

from callbacks import services


# Beyond a run's time budget plus one POST's timeouts; a run never stops between a POST and its record.
@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def callbacks_deliver(account_id: int | None = None) -> dict:
    return services.callbacks_deliver(account_id=account_id).__dict__


@shared_task(acks_late=True)
def callbacks_purge() -> dict:
    return services.callbacks_purge().__dict__
