"""The fake carrier: speaks the `http` channel protocol, decides every message's fate, misbehaves.

It is a threaded HTTP server in the harness process (not the product's simulator):

- `POST /send/<channel code>` takes `{"messages": [{"ref", "to", "content"}]}` signed with the
  channel's secret and answers `{"accepted": [{"ref", "id"}], "rejected": [{"ref", "code", "detail"}]}`.
  It deduplicates by `ref`: a ref it has taken before is answered with the same carrier id (or the
  same rejection) and counted as a duplicate hand-over, but not sent again.
- Each ref's fate is decided by a hash of the ref: most are delivered, some fail with each of the
  codes 500-590, a few are rejected at hand-over (520), a few never get a receipt.
- On purpose, and only for a batch of refs it has never seen (so a ref meets at most one of these):
  one such batch in `misbehave_every` is answered 503 without taking anything, another is taken
  but answered late, after the platform's channel timeout (the at-least-once case: the platform's
  retry brings the same refs back). Counting, not chance, so every phase of a few dozen batches
  meets both. Some receipts (by the ref's hash) are posted twice; some before the send answer.
- Receipts go to `POST /api/v1/channels/<code>/receipts` signed the same way; a POST that does
  not get a 2xx is retried with the same receipts, as a real carrier would. The carrier records
  which receipts got a 2xx: those must end up applied.

Everything it did is recorded with wall-clock times, for the checks.
"""

import datetime as dt
import hashlib
import heapq
import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from delivery.channels.base import signature_problem, signed_headers

FAILURE_CODES = (500, 510, 520, 530, 540, 550, 560, 570, 580, 590)
REJECTED_CODE = 520
# The API takes up to 10,000 receipts per body; normal batches are smaller, like a real carrier's.
MAX_RECEIPTS_PER_BODY = 10_000
NORMAL_RECEIPTS_PER_BODY = 2_000
RECEIPT_POST_TIMEOUT_SECONDS = 10.0
# A receipt posted before the send answer must not make that answer late itself.
EARLY_RECEIPT_TIMEOUT_SECONDS = 0.8


def _hash(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Fate:
    outcome: str  # "delivered" | "failed" | "rejected" (at hand-over) | "silent" (never a receipt)
    code: int | None = None
    twice: bool = False  # the receipt is posted twice
    early: bool = False  # the receipt is posted before the send answer is returned

    @property
    def has_receipt(self) -> bool:
        return self.outcome in ("delivered", "failed")


def fate_for(ref: int, seed: str) -> Fate:
    """What the carrier decides for `ref`: 2% rejected, 3% silent, 10% failed (1% per code), 85% delivered."""
    h = _hash(seed, "fate", ref)
    roll = h % 10_000
    twice = (h >> 20) % 100 < 5
    early = (h >> 28) % 100 < 4
    if roll < 200:
        return Fate("rejected", REJECTED_CODE)
    if roll < 500:
        return Fate("silent")
    if roll < 1500:
        return Fate("failed", FAILURE_CODES[(h >> 36) % len(FAILURE_CODES)], twice=twice, early=early)
    return Fate("delivered", twice=twice, early=early)


@dataclass
class SendRequest:
    """One POST of a batch, as the carrier saw it."""

    id: int
    channel: str
    refs: list[int]
    arrived_at: float
    outcome: str  # "answered" | "unavailable" (503) | "late" (taken, answered after the timeout) | "held"
    answered_at: float | None = None
    write_failed: bool = False

    @property
    def took(self) -> bool:
        return self.outcome != "unavailable"


@dataclass
class RefRecord:
    ref: int
    channel: str
    to: str
    fate: Fate
    carrier_id: str
    first_taken_at: float
    request_ids: list[int] = field(default_factory=list)  # every request that took it
    done_at: str = ""  # the receipt's time, fixed so that both copies are identical
    receipt_copies: int = 0  # copies scheduled
    acked_copies: int = 0  # copies that got a 2xx
    acked_at: float | None = None


@dataclass
class ReceiptPost:
    at: float
    channel: str
    items: int
    status: int | None  # None: no answer (timeout, connection refused or reset)
    seconds: float


class Hold:
    """The next batch that would be taken is held before it is answered, until `release()`."""

    def __init__(self):
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.request: SendRequest | None = None

    def release(self) -> None:
        self.released.set()


class FakeCarrier:
    def __init__(
        self,
        *,
        seed: str,
        channel_timeout: float,
        misbehave_every: int = 16,
    ):
        self.seed = seed
        self.channel_timeout = channel_timeout
        self.misbehave_every = misbehave_every
        self.new_batches = 0  # batches of refs never seen before
        self.late_seconds = channel_timeout + 1.5
        self.secrets: dict[str, str] = {}
        self.webhook_base = ""
        self.lock = threading.Lock()
        self.answer_written = threading.Condition(self.lock)
        self.answers = 0
        self.requests: list[SendRequest] = []
        self.refs: dict[int, RefRecord] = {}
        self.seen: set[int] = set()  # every ref in any request, taken or not
        self.bad_signatures = 0
        self.receipt_posts: list[ReceiptPost] = []
        self.outbox: dict[str, list] = {}
        self.receipts_held = False
        self.big_batch_pending: set[str] = set()
        self.hold: Hold | None = None
        self.stopping = threading.Event()
        self.sequence = itertools.count()
        self.threads: list[threading.Thread] = []

        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                carrier._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.port = self.server.server_port

    # --- setup ---------------------------------------------------------------------------------
    def send_url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/send/{channel}"

    def add_channel(self, channel: str, secret: str) -> None:
        with self.lock:
            self.secrets[channel] = secret
            self.outbox[channel] = []
        thread = threading.Thread(
            target=self._sender, args=(channel,), name=f"receipts-{channel}", daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def start(self, *, webhook_base: str) -> None:
        self.webhook_base = webhook_base
        thread = threading.Thread(target=self.server.serve_forever, name="carrier", daemon=True)
        self.threads.append(thread)
        thread.start()

    def close(self) -> None:
        self.stopping.set()
        if self.hold:
            self.hold.release()
        self.server.shutdown()
        self.server.server_close()

    # --- controls for the faults ----------------------------------------------------------------
    def arm_hold(self) -> Hold:
        with self.lock:
            self.hold = Hold()
            return self.hold

    def disarm_hold(self) -> None:
        with self.lock:
            self.hold = None

    def answers_written(self) -> int:
        with self.lock:
            return self.answers

    def wait_answer_after(self, count: int, *, timeout: float) -> bool:
        """Wait until more than `count` answers have been written; True if one was."""
        with self.answer_written:
            return self.answer_written.wait_for(lambda: self.answers > count, timeout=timeout)

    def hold_receipts(self) -> None:
        with self.lock:
            self.receipts_held = True

    def release_receipts_in_big_batches(self) -> None:
        """Post everything held, per channel in one body (up to 10,000 receipts), then carry on."""
        with self.lock:
            self.receipts_held = False
            self.big_batch_pending = set(self.outbox)

    def held_receipt_count(self) -> int:
        now = time.time()
        with self.lock:
            return sum(1 for heap in self.outbox.values() for due, *_ in heap if due <= now)

    # --- what it did ----------------------------------------------------------------------------
    def pending_receipts(self, refs: set[int]) -> int:
        """Receipt copies for these refs still to be posted (or re-posted)."""
        with self.lock:
            return sum(1 for heap in self.outbox.values() for _, _, ref, _ in heap if ref in refs)

    def requests_between(self, start: float, end: float) -> list[SendRequest]:
        with self.lock:
            return [r for r in self.requests if start <= r.arrived_at <= end]

    def snapshot(self) -> tuple[dict[int, RefRecord], dict[int, SendRequest], list[ReceiptPost]]:
        with self.lock:
            return dict(self.refs), {r.id: r for r in self.requests}, list(self.receipt_posts)

    # --- the send API ---------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        channel = handler.path.rstrip("/").rsplit("/", 1)[-1]
        secret = self.secrets.get(channel)
        if secret is None or not handler.path.startswith("/send/"):
            return self._answer(handler, 404, {"error": "no such channel"})
        if signature_problem(
            body,
            secret,
            signature=handler.headers.get("X-Signature"),
            timestamp=handler.headers.get("X-Signature-Timestamp"),
            accepts_legacy=False,
        ):
            with self.lock:
                self.bad_signatures += 1
            return self._answer(handler, 401, {"error": "bad signature"})
        try:
            messages = json.loads(body)["messages"]
            refs = [int(m["ref"]) for m in messages]
        except (ValueError, KeyError, TypeError):
            return self._answer(handler, 400, {"error": "unreadable batch"})

        now = time.time()
        early: list[RefRecord] = []
        with self.lock:
            first_sight = not any(ref in self.seen for ref in refs)
            self.seen.update(refs)
            turn = -1
            if first_sight:
                self.new_batches += 1
                turn = self.new_batches % self.misbehave_every
            hold, self.hold = self.hold, None  # a hold takes one batch: the first to come
            if hold is not None:
                outcome = "held"
            elif turn == 3:
                outcome = "unavailable"
            elif turn == 11:
                outcome = "late"
            else:
                outcome = "answered"
            request = SendRequest(
                id=len(self.requests), channel=channel, refs=refs, arrived_at=now, outcome=outcome
            )
            self.requests.append(request)
            answer = {"accepted": [], "rejected": []}
            if request.took:
                for message in messages:
                    record, new = self._take(request, channel, message, now)
                    if record.fate.outcome == "rejected":
                        answer["rejected"].append(
                            {"ref": record.ref, "code": record.fate.code, "detail": "BLACKLISTED (e2e)"}
                        )
                        continue
                    answer["accepted"].append({"ref": record.ref, "id": record.carrier_id})
                    if new and record.fate.has_receipt:
                        if record.fate.early and outcome == "answered":
                            early.append(record)
                        else:
                            delay = 0.3 + (_hash(self.seed, "delay", record.ref) % 2200) / 1000
                            self._schedule_receipt(record, now + delay)

        if outcome == "unavailable":
            return self._finish(handler, request, 503, {"error": "temporarily unavailable (e2e)"})
        if hold is not None:
            hold.request = request
            hold.arrived.set()
            hold.released.wait(timeout=120)
        if early:
            self._post_early(channel, early)
        if outcome == "late":
            time.sleep(self.late_seconds)
        self._finish(handler, request, 200, answer)

    def _take(self, request: SendRequest, channel: str, message: dict, now: float) -> tuple[RefRecord, bool]:
        ref = int(message["ref"])
        record = self.refs.get(ref)
        new = record is None
        if new:
            record = RefRecord(
                ref=ref,
                channel=channel,
                to=str(message.get("to", "")),
                fate=fate_for(ref, self.seed),
                carrier_id=f"e2e-{channel}-{ref}",
                first_taken_at=now,
            )
            self.refs[ref] = record
        record.request_ids.append(request.id)
        return record, new

    def _finish(self, handler, request: SendRequest, status: int, payload: dict) -> None:
        failed = not self._answer(handler, status, payload)
        with self.answer_written:
            request.answered_at = time.time()
            request.write_failed = failed
            if status == 200:
                self.answers += 1
                self.answer_written.notify_all()

    @staticmethod
    def _answer(handler, status: int, payload: dict) -> bool:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
            return True
        except OSError:
            return False  # the platform is gone (killed, or it timed out)

    # --- receipts -------------------------------------------------------------------------------
    def _receipt(self, record: RefRecord) -> dict:
        item = {"id": record.carrier_id, "status": record.fate.outcome, "done_at": record.done_at}
        if record.fate.outcome == "failed":
            item["code"] = record.fate.code
            item["detail"] = f"e2e failure {record.fate.code}"
        return item

    def _schedule_receipt(self, record: RefRecord, due: float) -> None:
        """Queue the receipt (and its second copy, for some). Caller holds the lock."""
        # Done when taken (the receipt itself comes a little later); both copies carry the same.
        record.done_at = dt.datetime.fromtimestamp(time.time(), dt.UTC).isoformat()
        copies = [due]
        if record.fate.twice:
            copies.append(due + 3 + (_hash(self.seed, "twice", record.ref) % 5000) / 1000)
        for when in copies:
            record.receipt_copies += 1
            heapq.heappush(self.outbox[record.channel], (when, next(self.sequence), record.ref, 0))

    def _post_early(self, channel: str, records: list[RefRecord]) -> None:
        """Post a batch's receipts before its send answer (the platform does not know the ids yet).

        One POST with a short timeout, so that this never makes the answer itself late; what does
        not get a 2xx goes to the outbox and is posted again later."""
        with self.lock:
            for record in records:
                record.done_at = dt.datetime.fromtimestamp(time.time(), dt.UTC).isoformat()
                record.receipt_copies += 1
            items = [self._receipt(record) for record in records]
        status = self._post(channel, items, timeout=EARLY_RECEIPT_TIMEOUT_SECONDS)
        now = time.time()
        with self.lock:
            for record in records:
                if status is not None and 200 <= status < 300:
                    record.acked_copies += 1
                    record.acked_at = record.acked_at or now
                else:
                    heapq.heappush(self.outbox[channel], (now + 1, next(self.sequence), record.ref, 1))
                if record.fate.twice:
                    record.receipt_copies += 1
                    due = now + 3 + (_hash(self.seed, "twice", record.ref) % 5000) / 1000
                    heapq.heappush(self.outbox[channel], (due, next(self.sequence), record.ref, 0))

    def _post(self, channel: str, items: list[dict], *, timeout: float, session=None) -> int | None:
        body = json.dumps({"receipts": items}).encode()
        url = f"{self.webhook_base}/api/v1/channels/{channel}/receipts"
        headers = {"Content-Type": "application/json", **signed_headers(body, self.secrets[channel])}
        started = time.time()
        try:
            status = (session or requests).post(url, data=body, headers=headers, timeout=timeout).status_code
        except requests.RequestException:
            status = None
        with self.lock:
            self.receipt_posts.append(
                ReceiptPost(started, channel, len(items), status, time.time() - started)
            )
        return status

    def _take_due(self, channel: str) -> list[tuple[int, int]]:
        now = time.time()
        with self.lock:
            if self.receipts_held:
                return []
            heap = self.outbox[channel]
            limit = NORMAL_RECEIPTS_PER_BODY
            if channel in self.big_batch_pending:
                self.big_batch_pending.discard(channel)
                limit = MAX_RECEIPTS_PER_BODY
            taken = []
            while heap and heap[0][0] <= now and len(taken) < limit:
                _, _, ref, attempts = heapq.heappop(heap)
                taken.append((ref, attempts))
            return taken

    def _sender(self, channel: str) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            taken = self._take_due(channel)
            if not taken:
                time.sleep(0.2)
                continue
            with self.lock:
                items = [self._receipt(self.refs[ref]) for ref, _ in taken]
            status = self._post(channel, items, timeout=RECEIPT_POST_TIMEOUT_SECONDS, session=session)
            now = time.time()
            with self.lock:
                for ref, attempts in taken:
                    record = self.refs[ref]
                    if status is not None and 200 <= status < 300:
                        record.acked_copies += 1
                        record.acked_at = record.acked_at or now
                    else:
                        retry_at = now + min(2**attempts, 8)
                        heapq.heappush(
                            self.outbox[channel], (retry_at, next(self.sequence), ref, attempts + 1)
                        )
            if status is None or status >= 400:
                time.sleep(0.5)


def webhook_statuses(posts: list[ReceiptPost]) -> Counter:
    return Counter("no answer" if p.status is None else str(p.status) for p in posts)
