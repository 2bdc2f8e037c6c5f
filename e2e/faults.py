"""The phases: one fault each, injected while the phase's messages flow, then recovered.

Every fault waits on a condition that shows it lands where it should (a batch in flight at the
carrier, a webhook body locked by a worker's ingestion, submissions under way), with generous
timeouts, never on a fixed sleep alone; and it says whether it landed.
"""

import time
from dataclasses import dataclass, field

from e2e.carrier import FakeCarrier
from e2e.checks import FaultReport
from e2e.client import Submission
from e2e.db import Database
from e2e.processes import CeleryBeat, CeleryWorker, Gunicorn, Managed, Redis

BROKER_DOWN_SECONDS = 4.0
BROKER_STOP_SECONDS = 20.0
DB_SHOT_INTERVAL_SECONDS = 2.0
DB_MIN_SHOTS = 6
# The API must keep answering while the broker is stopped: no submission slower than this.
SUBMIT_LIMIT_SECONDS = 3.0


@dataclass
class Context:
    carrier: FakeCarrier
    worker: CeleryWorker
    redis: Redis
    web: Gunicorn
    beat: CeleryBeat
    db: Database
    log: object
    kills: list[float] = field(default_factory=list)

    def watch(self, report: FaultReport, *, supervised: tuple[str, ...] = ()) -> None:
        """Restart any process that exited on its own, as a process supervisor would; say which.

        The fault code restarts what it kills itself; anything found dead here died by itself. An
        exit of a process named in `supervised` is one the deployment expects its supervisor to
        restart (deploy/systemd): noted, not a failure; any other exit fails the phase."""
        for process in (self.redis, self.web, self.worker, self.beat):
            if process.alive():
                continue
            why = _last_error(process)
            self.log(f"  {process.name} exited on its own ({why}); restarting it")
            if process.name in supervised:
                report.supervised_restarts.append(f"{process.name}: {why}")
            else:
                report.unexpected.append(f"{process.name} exited on its own: {why}")
            process.start()
            process.wait_ready()

    def kill_worker(self) -> float:
        at = self.worker.kill()
        self.kills.append(at)
        return at

    def restart_worker(self) -> float:
        started = time.monotonic()
        self.worker.start()
        self.worker.wait_ready()
        return time.monotonic() - started


def _last_error(process: Managed) -> str:
    lines = process.log_text().splitlines()
    for line in reversed(lines):
        if "CRITICAL" in line or "Unrecoverable" in line:
            return line.split("]", 1)[-1].strip()[:200]
    for line in reversed(lines):
        if "Error" in line:
            return line.strip()[:200]
    return f"exit status {process.proc.returncode if process.proc else '?'}"


def _wait(condition, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _flowing(ctx: Context, submission: Submission, *, share: float = 0.0, timeout: float = 120) -> bool:
    """Messages of the phase reach the carrier, and at least `share` of its requests were answered."""

    def ready() -> bool:
        at_carrier = ctx.carrier.requests_between(submission.started_at, time.time())
        return bool(at_carrier) and submission.answered() >= share * submission.planned

    return _wait(ready, timeout=timeout)


class Phase:
    name = ""
    title = ""

    def flow_seconds(self, messages: int) -> float:
        """How long the client spreads its submissions over."""
        return max(10.0, messages / 150)

    def prepare(self, ctx: Context) -> None:
        """Before the first submission."""

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        return FaultReport(notes=["no fault"])

    # Processes this fault may make exit, restarted by the deployment's supervisor.
    supervised: tuple[str, ...] = ()


class NoFault(Phase):
    name = "none"
    title = "none (baseline)"


class WorkerKillDispatch(Phase):
    name = "worker-kill-dispatch"
    title = "worker SIGKILL mid-dispatch"

    def flow_seconds(self, messages: int) -> float:
        return max(20.0, messages / 120)

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        report = FaultReport(landed=False)
        if not _flowing(ctx, submission):
            report.notes.append("no batch reached the carrier")
            return report
        # 1: a batch is at the carrier, its answer not yet returned: the worker never learns it.
        hold = ctx.carrier.arm_hold()
        if not hold.arrived.wait(timeout=120):
            ctx.carrier.disarm_hold()
            report.notes.append("no batch arrived to hold")
            return report
        report.kills.append(ctx.kill_worker())
        hold.release()
        report.landed = True
        report.notes.append(f"killed with a batch of {len(hold.request.refs)} in flight")
        ctx.log(f"  SIGKILL worker with a batch of {len(hold.request.refs)} held at the carrier")
        ctx.log(f"  worker restarted in {ctx.restart_worker():.1f} s")
        # 2: just after the carrier answered: the worker is reading or recording the answer.
        answers = ctx.carrier.answers_written()
        if ctx.carrier.wait_answer_after(answers, timeout=120):
            time.sleep(0.01)
            report.kills.append(ctx.kill_worker())
            report.notes.append("killed 10 ms after an answer")
            ctx.log("  SIGKILL worker 10 ms after the carrier answered a batch")
            ctx.log(f"  worker restarted in {ctx.restart_worker():.1f} s")
        else:
            report.notes.append("no answer for the second kill")
        report.window = (report.kills[0], time.time())
        return report


class WorkerKillIngest(Phase):
    name = "worker-kill-ingest"
    title = "worker SIGKILL mid-ingestion"

    def prepare(self, ctx: Context) -> None:
        ctx.carrier.hold_receipts()

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        from delivery.models import Message

        report = FaultReport(landed=False)
        # Receipts pile up at the carrier while the phase is handed over, then go as one big body.
        submission.done.wait(timeout=600)
        _wait(
            lambda: (
                not Message.objects.filter(
                    tag=submission.phase, status="requesting", dispatch_attempts=0
                ).exists()
            ),
            timeout=180,
            interval=0.5,
        )
        # ... and until the pile stops growing (the last answers' receipts are due).
        sizes = [ctx.carrier.held_receipt_count()]

        def pile_stable() -> bool:
            sizes.append(ctx.carrier.held_receipt_count())
            return len(sizes) > 4 and sizes[-1] == sizes[-5]

        _wait(pile_stable, timeout=30, interval=0.5)
        ctx.carrier.release_receipts_in_big_batches()
        ctx.log(f"  released {sizes[-1]} held receipts as one body per channel")
        found: list = []

        def ingesting() -> bool:
            found[:] = ctx.db.inbox_items_being_ingested()
            return bool(found)

        if not _wait(ingesting, timeout=120, interval=0.01):
            report.notes.append("no ingestion seen in progress")
            return report
        item_id, items = max(found, key=lambda f: f[1])
        at = ctx.kill_worker()
        report.kills.append(at)
        report.window = (at, at)
        processed = ctx.db.inbox_item_processed(item_id)
        report.landed = not processed
        report.notes.append(f"killed while ingesting a body of {items} receipts")
        ctx.log(
            f"  SIGKILL worker while it ingested inbox body {item_id} ({items} receipts); "
            f"processed: {processed}"
        )
        ctx.log(f"  worker restarted in {ctx.restart_worker():.1f} s")
        return report


class BrokerKill(Phase):
    name = "broker-kill"
    title = "broker SIGKILL"
    # kombu 5.7's redis transport: a worker acknowledging a task (acks_late) on a connection the
    # dead broker took with it fails with "AttributeError: 'NoneType' object has no attribute
    # 'hostname'" and exits (celery/kombu#582, #970 in other guises). Production runs workers under
    # a supervisor that restarts them (deploy/systemd); the task is redelivered or found by beat.
    supervised = ("worker",)

    def flow_seconds(self, messages: int) -> float:
        return max(15.0, messages / 150)

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        report = FaultReport(landed=False)
        if not _flowing(ctx, submission, share=0.25):
            report.notes.append("submissions did not start")
            return report
        # While a dispatch task runs (a batch is held at the carrier): the worker holds an
        # unacknowledged task when its broker goes.
        hold = ctx.carrier.arm_hold()
        in_flight = hold.arrived.wait(timeout=60)
        ctx.carrier.disarm_hold()
        down_at = ctx.redis.kill()
        hold.release()
        ctx.log(
            "  SIGKILL redis (it keeps nothing: every queued task is lost)"
            + (" with a batch in flight at the carrier" if in_flight else "")
        )
        time.sleep(BROKER_DOWN_SECONDS)
        ctx.redis.start()
        ctx.redis.wait_ready()
        up_at = time.time()
        ctx.log(f"  redis restarted after {up_at - down_at:.1f} s")
        report.window = (down_at, up_at)
        during = submission.started_between(down_at, up_at)
        report.landed = during > 0
        report.notes.append(
            f"{during} submissions started while the broker was down"
            + (", a batch in flight at the carrier" if in_flight else "")
        )
        return report


class BrokerStop(Phase):
    name = "broker-stop"
    title = "broker SIGSTOP"

    def flow_seconds(self, messages: int) -> float:
        return max(BROKER_STOP_SECONDS + 10, messages / 150)

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        report = FaultReport(landed=False)
        if not _flowing(ctx, submission, share=0.15):
            report.notes.append("submissions did not start")
            return report
        stopped_at = ctx.redis.stop()
        ctx.log(f"  SIGSTOP redis for {BROKER_STOP_SECONDS:.0f} s")
        time.sleep(BROKER_STOP_SECONDS)
        cont_at = ctx.redis.cont()
        ctx.log("  SIGCONT redis")
        report.window = (stopped_at, cont_at)
        during = submission.started_between(stopped_at, cont_at)
        report.landed = during > 0
        report.submit_limit = SUBMIT_LIMIT_SECONDS
        report.notes.append(f"{during} submissions started during the stop")
        return report


class DatabaseTerminate(Phase):
    name = "db-terminate"
    title = "database backends terminated"

    def flow_seconds(self, messages: int) -> float:
        return max(15.0, messages / 150)

    def inject(self, ctx: Context, submission: Submission) -> FaultReport:
        report = FaultReport(landed=False)
        if not _flowing(ctx, submission):
            report.notes.append("no batch reached the carrier")
            return report
        started = time.time()
        shots, terminated, busy_total, after_answer = 0, 0, 0, 0
        # Several times while dispatch and ingestion run, until the client is done and a few more.
        # Every other round right after the carrier answered a batch: the worker is about to
        # record that answer, the one write that cannot simply be done again later.
        while shots < DB_MIN_SHOTS or not submission.done.is_set():
            if shots % 2 and ctx.carrier.wait_answer_after(ctx.carrier.answers_written(), timeout=5):
                after_answer += 1
            busy = ctx.db.busy_backends()
            killed = ctx.db.terminate_backends()
            shots += 1
            terminated += killed
            busy_total += busy
            time.sleep(DB_SHOT_INTERVAL_SECONDS)
            if shots > 200:
                break
        report.window = (started, time.time())
        report.landed = terminated > 0
        report.notes.append(
            f"{shots} rounds ({after_answer} right after a carrier answer) terminated {terminated} backends "
            f"({busy_total} busy when hit)"
        )
        ctx.log(
            f"  {shots} rounds of pg_terminate_backend: {terminated} backends terminated, "
            f"{busy_total} were busy"
        )
        return report


PHASES = [
    NoFault(),
    WorkerKillDispatch(),
    WorkerKillIngest(),
    BrokerKill(),
    BrokerStop(),
    DatabaseTerminate(),
]
PHASES_BY_NAME = {phase.name: phase for phase in PHASES}
