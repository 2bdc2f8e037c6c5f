"""Dispatch: the eight platform checks, in DESIGN.md order, then handing messages to channels.

The stages, one module each:
- `claim`: a worker takes a batch (`SMS_DISPATCH_BATCH_SIZE`) of due `requesting` messages for the
  length of a lease, so no other worker dispatches them meanwhile, and a dead worker's batch comes
  back soon;
- `checks`: the checks for the whole batch from a handful of queries; failures are recorded;
- `handover`: the batch goes to its channel and the answer is recorded, riding out a dropped
  database connection;
- `outcomes`: the writes of each kind of answer, guarded by the status a message must still have.
A message leaves `requesting` only in the transaction that records its outcome, with its send log.
"""

from delivery.services.dispatch.claim import claim_lease
from delivery.services.dispatch.report import DispatchReport, retry_delay
from delivery.services.dispatch.run import (
    CHANNEL_BATCH_SIZE,
    DISPATCH_RUN_SECONDS,
    due_messages_dispatch,
    messages_dispatch,
)

__all__ = [
    "CHANNEL_BATCH_SIZE",
    "DISPATCH_RUN_SECONDS",
    "DispatchReport",
    "claim_lease",
    "due_messages_dispatch",
    "messages_dispatch",
    "retry_delay",
]
