"""Celery tasks of the shared layer: thin wrappers over the functions of the same name."""

from celery import shared_task

from smsconsole import idempotency


@shared_task(acks_late=True)
def idempotency_keys_purge() -> int:
    return idempotency.idempotency_keys_purge()
