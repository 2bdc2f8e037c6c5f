"""The pipeline's clock.

Everything that stamps or compares pipeline times asks `now()` rather than `timezone.now()`, so
the demo loader can replay thirty days of traffic at their own times and tests can move time
forward without patching the ORM.
"""

import contextlib
import contextvars
import datetime as dt

from django.utils import timezone

# A time outside these years is garbage however it was typed or sent (and year 1 or 9999 overflows
# as soon as a zone or a duration is applied to it). Webhooks and console filters refuse it.
PLAUSIBLE_YEARS = (2000, 2100)

_frozen_at: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("frozen_at", default=None)


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
