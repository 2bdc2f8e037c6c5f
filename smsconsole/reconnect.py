"""Riding out a dropped database connection where giving up would cost more than waiting.

A connection can drop at any moment (a database restart, a failover, a backend terminated by an
operator). Most work simply fails and is done again later; some cannot be, because what it writes
exists only in memory: a carrier's answer to a batch it now holds. That work runs through here.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A lost connection, and the transient refusals of a live one (deadlock, serialization failure):
# each goes away by itself, so the same work may simply be tried again on a new connection.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
FIRST_DELAY_SECONDS = 0.2
LONGEST_DELAY_SECONDS = 5.0


def run_reconnecting(work: Callable[[], T], *, within_seconds: float, what: str) -> T:
    """Run `work` (one transaction of its own); on a transient database error, reconnect and run
    it again, backing off, until `within_seconds` have passed, then raise the last error.

    `work` must be safe to run again after a failure whose commit may or may not have happened:
    guard its writes by the state the rows must still be in."""
    deadline = time.monotonic() + within_seconds
    delay = FIRST_DELAY_SECONDS
    retry = 0
    while True:
        try:
            return work()
        except TRANSIENT_DATABASE_ERRORS as exc:
            # Inside an outer transaction a new connection would silently drop what came before.
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            retry += 1
            logger.warning(
                "%s: database unavailable (%s: %s); retry %d in %.1f s",
                what,
                type(exc).__name__,
                str(exc).strip()[:200],
                retry,
                delay,
            )
            connection_reset()
            time.sleep(delay)
            delay = min(delay * 2, LONGEST_DELAY_SECONDS)


def connection_reset() -> None:
    """Drop this thread's database connection, so the next query opens a new one."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001 — a connection that is already gone may complain on close
        logger.debug("closing a broken database connection failed", exc_info=True)
