"""Waiting until a phase has settled, then checking it against the carrier's own records.

Definitions (docs/reliability.md says the same in prose):

- expected status of a message: what the carrier decided for its ref: delivered; send_failed with
  the code of a failed receipt; send_failed 520 when rejected at hand-over; awaiting_receipt
  when the carrier never sends a receipt ("legitimately waiting").
- lost: a message the client sent whose final status differs from that (including one the
  platform marked "outcome unknown", one still requesting or awaiting a receipt the carrier has
  already had answered with a 2xx, and one never stored or never handed over).
- duplicated: (a) a hand-over of a ref the carrier already had that is not the documented
  at-least-once case (the platform could not have had the previous answer: it came late, the
  worker was killed in between, or the platform logged a timeout / connection error for it); and
  (b) a second message stored for one the client sent once (an API retry stored again); when the
  carrier got it too, under its own ref, its dedup cannot help: the handset gets it twice.
- at-least-once: the explained repeats of (a); the carrier answered them with the same id.
"""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from e2e.carrier import FakeCarrier, Fate, RefRecord, SendRequest, webhook_statuses
from e2e.client import Submission

TIMEOUT_ERROR_WORDS = ("Timeout", "timed out", "ConnectionError", "Connection aborted", "RemoteDisconnected")


@dataclass
class FaultReport:
    """What a fault did, for the table and the duplicate explanations."""

    landed: bool = True
    notes: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None  # when it was in force (wall clock)
    # Submissions started inside the window must be answered 202 within this many seconds.
    submit_limit: float | None = None
    # Processes that died by themselves during the phase (restarted, as a supervisor would).
    unexpected: list[str] = field(default_factory=list)
    # Exits the deployment's supervisor restarts (see the phase): reported, not a failure.
    supervised_restarts: list[str] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)  # worker SIGKILL times


@dataclass
class Settle:
    settled: bool
    seconds: float
    waiting: dict[str, int]


@dataclass
class PhaseResult:
    phase: str
    messages: int  # the client's messages
    stored: int = 0
    lost: int = 0
    unknown: int = 0  # "outcome unknown" (part of lost)
    stuck: int = 0  # still in flight at the settle timeout (part of lost)
    duplicated: int = 0  # unexplained repeats + recipients sent twice
    stored_twice: int = 0  # extra messages stored for one the client sent (part of duplicated)
    sent_twice: int = 0  # ... of which the carrier got under their own ref: the handset gets two
    at_least_once: int = 0  # explained repeats, deduplicated by ref at the carrier
    carrier_batches: int = 0
    carrier_503: int = 0  # batches the carrier answered 503 on purpose
    carrier_late: int = 0  # batches it took and answered after the channel timeout, on purpose
    replayed: int = 0  # requests sent again after their 202, with the same Idempotency-Key
    receipts_acked: int = 0
    receipts_unapplied: int = 0
    effects_wrong: int = 0
    http_5xx: int = 0
    http_503: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    submit_p50: float | None = None
    submit_p95: float | None = None
    submit_max_in_fault: float | None = None
    settle_seconds: float = 0.0
    phase_seconds: float = 0.0
    settled: bool = True
    fault: FaultReport = field(default_factory=FaultReport)
    problems: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def expected_status(fate: Fate) -> tuple[str, int | None]:
    if fate.outcome == "delivered":
        return "delivered", None
    if fate.outcome in ("failed", "rejected"):
        return "send_failed", fate.code
    return "awaiting_receipt", None


def _ingest_attempt_limit() -> int:
    try:
        from delivery.services.receipts import MAX_INGEST_ATTEMPTS
    except ImportError:
        return 5
    return MAX_INGEST_ATTEMPTS


def wait_settled(
    phase: str, carrier: FakeCarrier, submission: Submission, *, timeout: float, log, watch
) -> Settle:
    """Wait until nothing of the phase can still change: no message requesting, none awaiting a
    receipt the carrier will send or has sent, no receipt left at the carrier, the inbox drained."""
    from delivery.models import InboxItem, Message

    started = time.monotonic()
    limit = _ingest_attempt_limit()
    last_report = 0.0
    waiting: dict[str, int] = {}
    while True:
        watch()
        if submission.done.is_set():
            rows = list(Message.objects.filter(tag=phase).values_list("id", "status"))
            refs, _, _ = carrier.snapshot()
            ids = {pk for pk, _ in rows}
            requesting = sum(1 for _, status in rows if status == "requesting")
            awaiting = [pk for pk, status in rows if status == "awaiting_receipt"]
            receipt_due = sum(1 for pk in awaiting if pk not in refs or refs[pk].fate.outcome != "silent")
            waiting = {
                "requesting": requesting,
                "awaiting a receipt": receipt_due,
                "receipts at the carrier": carrier.pending_receipts(ids),
                "inbox bodies": InboxItem.objects.filter(
                    processed_at__isnull=True, attempts__lt=limit
                ).count(),
            }
            if not any(waiting.values()):
                return Settle(True, time.monotonic() - started, waiting)
        else:
            waiting = {"client still submitting": 1}
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            return Settle(False, elapsed, waiting)
        if elapsed - last_report > 15:
            last_report = elapsed
            log(f"  settling ({elapsed:.0f} s): " + ", ".join(f"{k} {v}" for k, v in waiting.items()))
        time.sleep(1.0)


def _explanation(
    previous: SendRequest,
    following: SendRequest,
    *,
    kills: list[float],
    channel_errors: list[tuple[float, str]],
    channel_timeout: float,
) -> str | None:
    """Why the platform could not have had `previous`'s answer when it sent `following`, if it could not."""
    if previous.outcome == "late":
        return "answered late"
    if previous.outcome == "held" and any(previous.arrived_at <= k <= following.arrived_at for k in kills):
        return "worker killed during the hand-over"
    if previous.write_failed:
        return "answer could not be delivered"
    if previous.answered_at and previous.answered_at - previous.arrived_at >= channel_timeout:
        return "answered after the timeout"
    if any(previous.arrived_at <= k <= following.arrived_at for k in kills):
        return "worker killed before recording the answer"
    for at, error in channel_errors:
        if previous.arrived_at - 1 <= at <= following.arrived_at + 1 and any(
            word in error for word in TIMEOUT_ERROR_WORDS
        ):
            return "platform logged a timeout"
    return None


def _is_outcome_unknown(row: dict, kinds: set[str]) -> bool:
    detail = (row["failure_detail"] or "").lower()
    return "outcome_unknown" in kinds or "outcome unknown" in detail or "could not be recorded" in detail


def check_phase(
    phase: str,
    *,
    carrier: FakeCarrier,
    submission: Submission,
    settle: Settle,
    fault: FaultReport,
    all_kills: list[float],
    window: tuple[float, float],
    channel_timeout: float,
) -> PhaseResult:
    from delivery.models import Message, MessageEvent
    from intercepts.models import Intercept, InterceptRule

    result = PhaseResult(phase=phase, messages=len(submission.intended), fault=fault)
    result.settled, result.settle_seconds = settle.settled, settle.seconds
    rows = list(
        Message.objects.filter(tag=phase).values(
            "id",
            "account__slug",
            "phone",
            "status",
            "return_code",
            "failure_detail",
            "channel_message_id",
            "requested_at",
            "updated_at",
        )
    )
    result.stored = len(rows)
    ids = [row["id"] for row in rows]
    events: dict[int, list[dict]] = defaultdict(list)
    for event in (
        MessageEvent.objects.filter(message_id__in=ids)
        .order_by("id")
        .values("message_id", "kind", "at", "detail")
    ):
        events[event["message_id"]].append(event)
    refs, send_requests, posts = carrier.snapshot()
    phase_ids = set(ids)
    batches = [r for r in send_requests.values() if phase_ids.intersection(r.refs)]
    result.carrier_batches = len(batches)
    result.carrier_503 = sum(1 for r in batches if r.outcome == "unavailable")
    result.carrier_late = sum(1 for r in batches if r.outcome == "late")

    shown: Counter = Counter()

    def example(kind: str, text: str) -> None:
        # A few of each kind, so that one kind of failure does not hide the others.
        shown[kind] += 1
        if shown[kind] <= 4:
            result.examples.append(text)

    # --- every message the client sent: stored once, final as the carrier decided ------------------
    # Each number was sent to once. Should the platform have stored it more than once, the copy
    # the carrier took first is the message; the others are duplicates (below), not losses.
    by_phone: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_phone[row["phone"]].append(row)
    primaries, extras = [], []
    for copies in by_phone.values():
        copies.sort(key=lambda row: (row["id"] not in refs, row["id"]))
        primaries.append(copies[0])
        extras += copies[1:]
    for intended in submission.intended:
        if not by_phone.get(intended.phone):
            result.lost += 1
            example("never stored", f"{intended.phone}: never stored")
    lost_ids = set()
    for row in primaries:
        kinds = {e["kind"] for e in events[row["id"]]}
        record: RefRecord | None = refs.get(row["id"])
        actual = (row["status"], row["return_code"] if row["status"] == "send_failed" else None)
        if record is None:
            expected = None
        else:
            expected = expected_status(record.fate)
        if actual == expected:
            if (
                record
                and record.fate.outcome in ("delivered", "failed")
                and (row["channel_message_id"] != record.carrier_id)
            ):
                result.lost += 1
                example(
                    "carrier id",
                    f"message {row['id']}: carrier id {row['channel_message_id']} != {record.carrier_id}",
                )
            continue
        lost_ids.add(row["id"])
        result.lost += 1
        if _is_outcome_unknown(row, kinds):
            result.unknown += 1
            why = "outcome unknown"
        elif row["status"] in ("requesting", "awaiting_receipt"):
            result.stuck += 1
            why = "stuck"
        else:
            why = "wrong status"
        example(
            why,
            f"message {row['id']}: {why}: {actual[0]}{'/' + str(actual[1]) if actual[1] else ''}, carrier: "
            + (f"{expected[0]}{'/' + str(expected[1]) if expected[1] else ''}" if expected else "never taken")
            + (f" ({row['failure_detail'][:120]})" if row["failure_detail"] else ""),
        )

    # --- hand-overs: a repeat is the at-least-once case only when the platform lacked the answer ----
    for row in rows:
        record = refs.get(row["id"])
        if record is None or len(record.request_ids) < 2:
            continue
        taken = sorted((send_requests[i] for i in record.request_ids), key=lambda r: r.arrived_at)
        channel_errors = [
            (e["at"].timestamp(), str(e["detail"].get("error", "")))
            for e in events[row["id"]]
            if e["kind"] == "channel_error"
        ]
        for previous, following in zip(taken, taken[1:], strict=False):
            why = _explanation(
                previous,
                following,
                kills=all_kills,
                channel_errors=channel_errors,
                channel_timeout=channel_timeout,
            )
            if why:
                result.at_least_once += 1
            else:
                result.duplicated += 1
                example(
                    "handed over again",
                    f"message {row['id']}: handed over again "
                    f"{following.arrived_at - previous.arrived_at:.1f} s after an answer written in "
                    f"{(previous.answered_at or 0) - previous.arrived_at:.2f} s",
                )
    for row in extras:
        result.duplicated += 1
        result.stored_twice += 1
        sent = row["id"] in refs
        result.sent_twice += sent
        example(
            "stored again",
            f"{row['phone']}: stored again as message {row['id']} ({row['status']}"
            + (f", {row['failure_detail'][:60]}" if row["failure_detail"] else "")
            + (", handed to the carrier: sent twice)" if sent else ")"),
        )

    # --- receipts: every one the carrier got a 2xx for is applied, exactly once -----------------
    rules = {
        r["return_code"]: r for r in InterceptRule.objects.values("return_code", "duration_seconds", "scope")
    }
    intercepts = Counter(
        (i["phone"], i["scope"], i["account__slug"] if i["scope"] == "local" else None)
        for i in Intercept.objects.filter(phone__in=list(by_phone)).values("phone", "scope", "account__slug")
    )
    for row in rows:
        record = refs.get(row["id"])
        if record is None:
            continue
        if record.acked_copies:
            result.receipts_acked += 1
            if row["id"] in lost_ids:
                result.receipts_unapplied += 1
        kinds = Counter(e["kind"] for e in events[row["id"]])
        if kinds["receipt"] > 1 or kinds["intercepted"] > 1 or kinds["handed_to_channel"] > 1:
            result.effects_wrong += 1
            example("applied twice", f"message {row['id']}: applied more than once: {dict(kinds)}")
        if row["status"] == "send_failed" and row["return_code"] in rules:
            rule = rules[row["return_code"]]
            if rule["duration_seconds"] > 0:
                key = (
                    row["phone"],
                    rule["scope"],
                    row["account__slug"] if rule["scope"] == "local" else None,
                )
                if intercepts[key] != 1:
                    result.effects_wrong += 1
                    example(
                        "intercepts",
                        f"message {row['id']}: {intercepts[key]} intercept records "
                        f"for code {row['return_code']}",
                    )

    # --- HTTP: no 5xx but a documented 503, from the API or the webhooks ------------------------
    attempts = submission.snapshot()
    statuses = Counter(a.status for a in attempts)
    in_phase = [p for p in posts if window[0] <= p.at <= window[1]]
    hooks = webhook_statuses(in_phase)
    for status, count in list(statuses.items()) + [(int(k), v) for k, v in hooks.items() if k.isdigit()]:
        if status is not None and status >= 500:
            if status == 503:
                result.http_503 += count
            else:
                result.http_5xx += count
    if result.http_5xx:
        result.problems.append(
            f"{result.http_5xx} answers 5xx (API {dict(statuses)}, receipt webhook {dict(hooks)})"
        )
    if submission.refused:
        key, status, body = submission.refused[0]
        result.problems.append(f"{len(submission.refused)} submissions refused, first {status}: {body[:120]}")
    result.replayed = submission.replayed
    if submission.replay_mismatches:
        result.problems.append(
            f"{len(submission.replay_mismatches)} of {submission.replayed} requests sent again with the same "
            "Idempotency-Key were answered with other ids"
        )
    if submission.gave_up:
        result.problems.append(f"{len(submission.gave_up)} submissions never answered 202")

    # --- latency ---------------------------------------------------------------------------------
    finals = [
        (row["updated_at"] - row["requested_at"]).total_seconds()
        for row in rows
        if row["status"] in ("delivered", "send_failed", "processing_failed")
    ]
    result.latency_p50, result.latency_p95 = percentile(finals, 50), percentile(finals, 95)
    accepted = [a.seconds for a in attempts if a.status == 202]
    result.submit_p50, result.submit_p95 = percentile(accepted, 50), percentile(accepted, 95)
    if fault.window:
        during = [a for a in attempts if fault.window[0] <= a.started_at <= fault.window[1]]
        result.submit_max_in_fault = max((a.seconds for a in during), default=None)
        if fault.submit_limit is not None:
            slow = [a for a in during if a.status != 202 or a.seconds > fault.submit_limit]
            if slow:
                result.problems.append(
                    f"{len(slow)} of {len(during)} submissions during the fault not answered 202 within "
                    f"{fault.submit_limit:g} s (slowest {max(a.seconds for a in slow):.1f} s, "
                    f"{Counter(a.status or a.error for a in slow)})"
                )

    if not settle.settled:
        result.problems.append(
            "not settled after {:.0f} s: {}".format(
                settle.seconds, ", ".join(f"{k} {v}" for k, v in settle.waiting.items())
            )
        )
    if result.lost:
        result.problems.append(f"{result.lost} lost ({result.unknown} outcome unknown, {result.stuck} stuck)")
    if result.duplicated:
        result.problems.append(
            f"{result.duplicated} duplicated ({result.stored_twice} messages stored twice, "
            f"{result.sent_twice} of them sent twice)"
        )
    if result.effects_wrong:
        result.problems.append(f"{result.effects_wrong} messages whose receipt effects are not exactly once")
    for what in fault.unexpected:
        result.problems.append(what)
    if not fault.landed:
        result.problems.append("the fault did not land: " + "; ".join(fault.notes))
    return result
