from celery import shared_task

from intercepts import services


@shared_task(acks_late=True)
def intercepts_expire() -> int:
    return services.intercepts_expire()
