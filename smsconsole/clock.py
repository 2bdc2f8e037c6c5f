"""The pipeline's clock.

Everything that stamps or compares pipeline times asks `now()` rather than `timezone.now()`, so
the demo loader can replay thirty days of traffic at their own times and tests can move time
forward without patching the ORM.
"""

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable

from django.utils import timezone

# A time outside these years is garbage however it was typed or sent (and year 1 or 9999 overflows
# as soon as a zone or a duration is applied to it). Webhooks and console filters refuse it.
PLAUSIBLE_YEARS = (2000, 2100)

_frozen_at: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("frozen_at", default=None)
# Set by a replay (the demo): takes (at, callable) and runs the callable when its timeline reaches `at`.
_scheduler: contextvars.ContextVar[Callable[[dt.datetime, Callable[[], None]], None] | None] = (
    contextvars.ContextVar("scheduler", default=None)
)


def now() -> dt.datetime:
    frozen = _frozen_at.get()
    return frozen if frozen is not None else timezone.now()


@contextlib.contextmanager
def frozen(at: dt.datetime):
    """Make `now()` answer `at` inside the block."""
    if timezone.is_naive(at):
        raise ValueError("frozen() needs an aware datetime")
    token = _frozen_at.set(at)
    try:
        yield
    finally:
        _frozen_at.reset(token)


def call_at(at: dt.datetime, callback: Callable[[], None]) -> None:
    """Run `callback` when the clock reaches `at`: right away live, where a carrier's "later" has come
    by the time anyone asks; at `at` on the timeline of a replay (`replaying`).

    The simulator's receipts are "done" seconds after the hand-over. Replaying thirty days with
    `frozen`, running them at the hand-over's time would record a handset time after the moment the
    platform heard of it."""
    scheduler = _scheduler.get()
    if scheduler is None:
        callback()
    else:
        scheduler(at, callback)


@contextlib.contextmanager
def replaying(scheduler: Callable[[dt.datetime, Callable[[], None]], None]):
    """Inside the block, `call_at` hands its callbacks to `scheduler(at, callback)`."""
    token = _scheduler.set(scheduler)
    try:
        yield
    finally:
        _scheduler.reset(token)
