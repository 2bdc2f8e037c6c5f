"""The embedded channel: accepts everything and reports outcomes decided by the number.

Numbers ending in 500, 510, …, 590 fail with that return code; numbers ending in 000 never get a
receipt; the rest are delivered, except for a share (`failure_rate`) picked by a seeded hash of
the message, which fail with a realistic mix of codes. Its receipts and replies are JSON bodies in
the webhook format, fed to the same inbox a real channel's webhook fills.
"""

import datetime as dt
import hashlib

from delivery.channels.base import Accepted, Outbound, SendResult

CARRIER_DETAIL = {
    500: "UNKNOWN_SUBSCRIBER: the number is not allocated",
    510: "SUBSCRIBER_SUSPENDED: the line is barred by its operator",
    520: "BLACKLISTED: the destination is on the carrier's block list",
    530: "SUBSCRIBER_BUSY: the handset is busy",
    540: "NO_RESPONSE: the handset did not acknowledge",
    550: "CONTENT_REJECTED: the message was blocked by the carrier's content filter",
    560: "HANDSET_ERROR: message memory capacity exceeded",
    570: "ABSENT_SUBSCRIBER: the handset is out of coverage",
    580: "ABSENT_SUBSCRIBER: the handset is switched off",
    590: "SYSTEM_FAILURE: unspecified error at the carrier",
}
# How often each code turns up among random failures (roughly what carriers report).
RANDOM_FAILURE_WEIGHTS = [
    (580, 30), (570, 20), (530, 12), (540, 10), (500, 10), (560, 6), (590, 5), (510, 4), (520, 2), (550, 1)
]  # fmt: skip
NO_RECEIPT_SUFFIX = "000"


def _fraction(*parts) -> float:
    """A stable pseudo-random number in [0, 1) from the given values."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def outcome_for(*, code: str, ref: int, phone: str, failure_rate: float) -> int | None | str:
    """The return code a send to `phone` fails with, None for delivered, "silent" for no receipt."""
    suffix = phone[-3:]
    if suffix == NO_RECEIPT_SUFFIX:
        return "silent"
    if suffix.isdigit() and suffix[0] == "5" and suffix[2] == "0":
        return int(suffix)
    if failure_rate and _fraction(code, ref, "fail") < failure_rate:
        pick = _fraction(code, ref, "code") * sum(weight for _, weight in RANDOM_FAILURE_WEIGHTS)
        for return_code, weight in RANDOM_FAILURE_WEIGHTS:
            pick -= weight
            if pick < 0:
                return return_code
    return None


class SimulatorChannel:
    def __init__(self, *, code: str, failure_rate: float = 0.0):
        self.code = code
        self.failure_rate = failure_rate

    def send(self, batch: list[Outbound]) -> SendResult:
        return SendResult(
            accepted=[Accepted(ref=m.ref, channel_message_id=f"{self.code}-{m.ref}") for m in batch]
        )

    def receipts_payload(
        self, handed: list[tuple[Outbound, str]], *, handed_at: dt.datetime, latest: dt.datetime
    ):
        """The receipts webhook body for messages just handed over, one receipt per part.

        `latest` caps the handset times: a receipt never claims to come from the future."""
        receipts = []
        for outbound, channel_message_id in handed:
            outcome = outcome_for(
                code=self.code, ref=outbound.ref, phone=outbound.to, failure_rate=self.failure_rate
            )
            if outcome == "silent":
                continue
            parts = max(outbound.segments, 1)
            delay = dt.timedelta(seconds=1 + int(_fraction(self.code, outbound.ref, "delay") * 30))
            done_at = min(handed_at + delay, latest)
            for part in range(1, parts + 1):
                receipt = {"id": channel_message_id, "status": "delivered", "done_at": done_at.isoformat()}
                if parts > 1:
                    receipt.update(part=part, parts=parts)
                if outcome is not None and part == parts:
                    receipt.update(status="failed", code=outcome, detail=CARRIER_DETAIL.get(outcome, ""))
                receipts.append(receipt)
        return {"receipts": receipts}

    @staticmethod
    def replies_payload(replies: list[dict]) -> dict:
        """A replies webhook body; each reply has from, content, received_at (datetime) and carrier."""
        return {
            "replies": [
                {
                    "from": reply["from"],
                    "content": reply["content"],
                    "received_at": reply["received_at"].isoformat(),
                    "carrier": reply.get("carrier", ""),
                }
                for reply in replies
            ]
        }
