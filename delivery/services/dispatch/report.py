"""What a dispatch run did, for the task's result and the log."""

import datetime as dt
from dataclasses import dataclass, fields


@dataclass
class DispatchReport:
    claimed: int = 0
    processing_failed: int = 0
    handed: int = 0
    rejected: int = 0
    retrying: int = 0
    # Handed to the channel, but its answer could not be recorded (the database stayed away):
    # they stay claimed until their lease lapses and are handed over again with the same ref.
    unrecorded: int = 0
    # Handed to the channel, but the answer could never be written: awaiting a receipt that
    # cannot be matched, and never handed over again.
    outcome_unknown: int = 0
    next_attempt_at: dt.datetime | None = None

    def as_dict(self) -> dict:
        return {
            **self.__dict__,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }

    def add(self, other: "DispatchReport") -> None:
        for field in fields(self):
            if field.name != "next_attempt_at":
                setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        self.wake_at(other.next_attempt_at)

    def wake_at(self, at: dt.datetime | None) -> None:
        """Remember the earliest time a message of this run is due again."""
        if at and (self.next_attempt_at is None or at < self.next_attempt_at):
            self.next_attempt_at = at


def retry_delay(attempt: int) -> dt.timedelta:
    """Back off 30 s, 1 min, 2 min, … up to an hour between attempts on a channel that is down."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempt - 1, 0), 3600))
