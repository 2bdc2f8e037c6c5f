"""The API client: submits a phase's messages, as a careful customer's script would.

Each request carries an `Idempotency-Key`; a timeout, a connection error or a 5xx is retried with
the same key and the same body (a 5xx other than 503 is still recorded as a failure of the run).
Requests are spread over the phase's flow time so that faults land while messages flow.
Every attempt is recorded: its start, duration and HTTP status (or the error).

One request in `REPLAY_EVERY` is sent again after its 202, as if that answer had been lost: the
platform must answer it with the same ids and store nothing (the checks count what was stored).
"""

import itertools
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

SUBMIT_TIMEOUT_SECONDS = 10.0
GIVE_UP_AFTER_SECONDS = 300.0
RETRY_STATUSES = {429, 500, 502, 503, 504}
REPLAY_EVERY = 10


@dataclass(frozen=True)
class Account:
    slug: str
    channel: str
    api_key: str
    template_id: int


@dataclass(frozen=True)
class Intended:
    """One message the client means to send: the phone is unique in the whole run."""

    phase: str
    account: str
    phone: str
    code: str


@dataclass
class Attempt:
    phase: str
    key: str
    account: str
    recipients: int
    started_at: float
    seconds: float
    status: int | None  # None: no answer
    error: str = ""
    replay: bool = False  # sent again after a 202, with the same key


@dataclass
class Submission:
    """A phase's submissions running in background threads."""

    phase: str
    intended: list[Intended]
    attempts: list[Attempt] = field(default_factory=list)
    accepted_ids: dict[str, list[int]] = field(default_factory=dict)  # idempotency key -> ids
    gave_up: list[str] = field(default_factory=list)  # keys never answered 202
    replayed: int = 0  # requests sent again after their 202
    replay_mismatches: list[str] = field(default_factory=list)  # replays answered with other ids
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # (key, status, body) 4xx
    done: threading.Event = field(default_factory=threading.Event)
    planned: int = 0  # requests
    starts: list[float] = field(default_factory=list)  # every attempt's start, as it starts
    started_at: float = 0.0
    finished_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_sent(self) -> int:
        with self.lock:
            return len({a.key for a in self.attempts})

    def started_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for at in self.starts if start <= at <= end)

    def answered(self) -> int:
        with self.lock:
            return len(self.accepted_ids)

    def snapshot(self) -> list[Attempt]:
        with self.lock:
            return list(self.attempts)


class Client:
    def __init__(self, *, base_url: str, accounts: list[Account], threads: int = 3):
        self.base_url = base_url
        self.accounts = {a.slug: a for a in accounts}
        self.threads = threads
        self.phone_counter = 0

    def plan(self, phase: str, count: int) -> list[Intended]:
        """`count` messages split across the accounts, each to a number never used before in the run."""
        slugs = sorted(self.accounts)
        intended = []
        for index in range(count):
            self.phone_counter += 1
            number = 10_000_000 + self.phone_counter
            intended.append(
                Intended(
                    phase=phase,
                    account=slugs[index % len(slugs)],
                    phone=f"+8190{number:08d}",
                    code=f"{self.phone_counter % 10_000:04d}",
                )
            )
        return intended

    def submit(self, phase: str, intended: list[Intended], *, flow_seconds: float, batch: int) -> Submission:
        """Start submitting in the background; requests are spaced evenly over `flow_seconds`."""
        submission = Submission(phase=phase, intended=intended)
        per_account = []
        for slug in sorted(self.accounts):
            mine = [i for i in intended if i.account == slug]
            per_account.append([(slug, mine[s : s + batch]) for s in range(0, len(mine), batch)])
        # Interleave the accounts' requests (a, b, a, b, ...) and give each its start time.
        requests_plan = [item for group in itertools.zip_longest(*per_account) for item in group if item]
        work: queue.Queue = queue.Queue()
        submission.planned = len(requests_plan)
        submission.started_at = time.time()
        spacing = flow_seconds / max(len(requests_plan), 1)
        for position, (slug, chunk) in enumerate(requests_plan):
            work.put((submission.started_at + position * spacing, slug, chunk))

        def run():
            session = requests.Session()
            while True:
                try:
                    start_at, slug, chunk = work.get_nowait()
                except queue.Empty:
                    return
                delay = start_at - time.time()
                if delay > 0:
                    time.sleep(delay)
                self._send(submission, session, slug, chunk)

        threads = [threading.Thread(target=run, name=f"client-{i}", daemon=True) for i in range(self.threads)]
        for thread in threads:
            thread.start()

        def finish():
            for thread in threads:
                thread.join()
            submission.finished_at = time.time()
            submission.done.set()

        threading.Thread(target=finish, name="client-finish", daemon=True).start()
        return submission

    def _send(self, submission: Submission, session, slug: str, chunk: list[Intended]) -> None:
        account = self.accounts[slug]
        key = str(uuid.uuid4())
        body = json.dumps(
            {
                "template": account.template_id,
                "tag": submission.phase,
                "messages": [{"to": i.phone, "vars": {"code": i.code}} for i in chunk],
            }
        )
        headers = {
            "Authorization": f"Bearer {account.api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "Accept-Language": "en",
        }
        ids = self._post_until_answered(submission, session, key, slug, len(chunk), body, headers)
        if ids is None:
            return
        with submission.lock:
            submission.accepted_ids[key] = ids
            replay = len(submission.accepted_ids) % REPLAY_EVERY == 0
        if replay:
            again = self._post_until_answered(
                submission, session, key, slug, len(chunk), body, headers, replay=True
            )
            with submission.lock:
                submission.replayed += 1
                if again is not None and again != ids:
                    submission.replay_mismatches.append(key)

    def _post_until_answered(
        self,
        submission: Submission,
        session,
        key: str,
        slug: str,
        count: int,
        body: str,
        headers: dict,
        *,
        replay: bool = False,
    ) -> list[int] | None:
        """POST until a 202 (its ids), a refusal or the deadline (None); every attempt is recorded."""
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        backoff = 0.5
        while True:
            started = time.time()
            with submission.lock:
                submission.starts.append(started)
            status, error, answer = None, "", None
            try:
                response = session.post(
                    f"{self.base_url}/api/v1/messages",
                    data=body,
                    headers=headers,
                    timeout=SUBMIT_TIMEOUT_SECONDS,
                )
                status = response.status_code
                answer = response.text
            except requests.RequestException as exc:
                error = type(exc).__name__
                session = requests.Session()  # a broken keep-alive connection is not reused
            seconds = time.time() - started
            with submission.lock:
                submission.attempts.append(
                    Attempt(submission.phase, key, slug, count, started, seconds, status, error, replay)
                )
            if status == 202:
                return [m["id"] for m in json.loads(answer)["messages"]]
            if status is not None and status not in RETRY_STATUSES:
                with submission.lock:
                    submission.refused.append((key, status, (answer or "")[:300]))
                return None
            if time.monotonic() > deadline:
                with submission.lock:
                    submission.gave_up.append(key)
                return None
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
