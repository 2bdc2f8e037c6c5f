"""Celery tasks of the shared layer: thin wrappers over the functions of the same name."""

from celery import shared_task

from smsconsole import exports, idempotency


@shared_task(acks_late=True)
def idempotency_keys_purge() -> int:
    return idempotency.idempotency_keys_purge()


@shared_task(
    acks_late=True,
    time_limit=exports.EXPORT_TIME_LIMIT_SECONDS,
    soft_time_limit=exports.EXPORT_SOFT_TIME_LIMIT_SECONDS,
)
def export_job_run(account_id: int, job_id: int) -> None:
    exports.export_job_run(account_id=account_id, job_id=job_id)


@shared_task(acks_late=True)
def export_jobs_purge() -> int:
    return exports.export_jobs_purge()
