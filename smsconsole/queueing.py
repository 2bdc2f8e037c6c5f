"""Queueing tasks from where waiting is not an option: a request, or the end of a transaction.

What is queued from here is already stored and found again by a periodic job (beat dispatches
`requesting` messages and drains the webhook inbox), so a broker that is down or hung costs a few
seconds of latency, never the caller's answer. Publishing therefore waits on the broker for about
a second at most, retries once, and gives up quietly (with a warning in the log).
"""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)

# Per socket operation (connect, send, read); with one retry a publish gives up after ~1–1.5 s.
PUBLISH_SOCKET_TIMEOUT_SECONDS = 0.5
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def _publish_transport_options(broker_url: str) -> dict:
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return {
            "socket_timeout": PUBLISH_SOCKET_TIMEOUT_SECONDS,
            "socket_connect_timeout": PUBLISH_SOCKET_TIMEOUT_SECONDS,
            # Publishing needs no retries of its own inside redis-py: the policy above decides.
            "retry_on_timeout": False,
            "max_retries": 1,
        }
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {
            "read_timeout": PUBLISH_SOCKET_TIMEOUT_SECONDS,
            "write_timeout": PUBLISH_SOCKET_TIMEOUT_SECONDS,
            "max_retries": 1,
        }
    return {}


def task_queue(task, *args) -> bool:
    """Queue `task(*args)` without waiting on the broker for more than about a second.

    Returns whether it was queued. Without a broker (the embedded default) the task runs here and
    now, eagerly, as every task does then."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task.delay(*args)
        return True
    broker_url = settings.CELERY_BROKER_URL
    try:
        with task.app.connection_for_write(
            url=broker_url,
            connect_timeout=PUBLISH_SOCKET_TIMEOUT_SECONDS,
            transport_options=_publish_transport_options(broker_url),
        ) as connection:
            task.apply_async(args, connection=connection, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception as exc:  # noqa: BLE001 — any broker failure means the same: beat catches up
        logger.warning(
            "could not queue %s (%s: %s); the periodic job will pick it up",
            task.name,
            type(exc).__name__,
            exc,
        )
        return False
    return True
