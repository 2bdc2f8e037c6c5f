"""The platform's processes as the harness runs them: start, wait until ready, kill, clean up.

Every process is started in a session (and so a process group) of its own, so that a SIGKILL of
"the worker" takes the Celery parent and its pool children at once, and so that cleanup reaches
every child even when the harness is interrupted. Only processes started here are ever signalled.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running the harness is the project's venv (make e2e uses .venv/bin/python).
BIN = Path(sys.executable).parent

# The product settings the harness pins. Plain HTTP on loopback, so no SSL redirect / HSTS /
# secure cookies; a short channel timeout so that "late" carrier answers happen quickly; a short
# record-retry window so that a killed worker's claim (its lease: 2 x timeout + record retry +
# margin, see delivery/services/dispatch/claim.py) lapses within about 40 s.
PRODUCT_ENV = {
    "DJANGO_SETTINGS_MODULE": "smsconsole.settings",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_COOKIES": "0",
    "SECURE_HSTS_SECONDS": "0",
    "SMS_CHANNEL_TIMEOUT_SECONDS": "2",
    "SMS_DISPATCH_RECORD_RETRY_SECONDS": "20",
    # The API's rate limits (per SMS_USER and per client IP, per minute) are not under test here:
    # the client and the carrier's webhooks all come from 127.0.0.1.
    "API_KEY_REQUESTS_PER_MINUTE": "1000000",
    "API_IP_REQUESTS_PER_MINUTE": "1000000",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}
# Variables from the caller's shell that would change what is tested are not passed on.
DROPPED_PREFIXES = ("DATABASE_", "CELERY_", "SMS_", "SECURE_", "API_", "DJANGO_")

# Application name of the harness's own database sessions: the database fault spares them.
HARNESS_APPLICATION_NAME = "e2e-harness"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def product_env(*, database_url: str, broker_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment of every platform process (and, with its own application name, the harness)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    env.update(PRODUCT_ENV)
    env["SECRET_KEY"] = secrets.token_urlsafe(48)
    env["DATABASE_URL"] = database_url
    env["CELERY_BROKER_URL"] = broker_url
    env.update(extra)
    return env


# Where util-linux's setpriv exists, each process is started through it with a parent-death signal:
# should the harness itself die (even by SIGKILL), what it started dies with it. (preexec_fn would
# do the same, but is not safe in a process with threads.) The signal follows the *thread* that
# started the process: the harness starts every process from its main thread.
SETPRIV = shutil.which("setpriv")


class ProcessExited(RuntimeError):
    """A process being waited for exited instead of becoming ready."""


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll `condition` until it holds; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except ProcessExited:
            raise
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(interval)


class Managed:
    """One process (group) the harness started; each start writes its own log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.stopped = False
        self.log_path: Path | None = None

    def start(self) -> None:
        if self.alive():
            raise RuntimeError(f"{self.name} is already running")
        self.starts += 1
        self.log_path = self.log_dir / f"{self.name}-{self.starts}.log"
        argv = [SETPRIV, "--pdeathsig", "KILL", "--", *self.argv] if SETPRIV else self.argv
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.stopped = False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> float:
        """SIGKILL the whole process group; returns the wall-clock time of the kill."""
        at = time.time()
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self.stopped = False
        return at

    def stop(self) -> float:
        """SIGSTOP the process group (it keeps its sockets, answers nothing)."""
        at = time.time()
        self._signal_group(signal.SIGSTOP)
        self.stopped = True
        return at

    def cont(self) -> float:
        at = time.time()
        self._signal_group(signal.SIGCONT)
        self.stopped = False
        return at

    def terminate(self, *, grace: float = 10.0) -> None:
        """Stop for good: SIGCONT (if stopped), SIGTERM, then SIGKILL the group after `grace` seconds."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGCONT)
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # Pool children may outlive their parent for a moment: the group goes in any case.
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class Redis(Managed):
    def __init__(self, *, port: int, env: dict[str, str], log_dir: Path):
        argv = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        super().__init__("redis", argv, env=env, log_dir=log_dir)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.settimeout(1)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if not self.alive():
                raise ProcessExited(f"redis exited; see {self.log_path}")
            return self.ping()

        wait_for(ready, timeout=timeout, what="redis")


class Gunicorn(Managed):
    def __init__(self, *, port: int, env: dict[str, str], log_dir: Path, workers: int = 2):
        argv = [
            str(BIN / "gunicorn"),
            "smsconsole.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(t)s "%(r)s" %(s)s %(L)ss',
        ]
        super().__init__("gunicorn", argv, env=env, log_dir=log_dir)
        self.base_url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 90) -> None:
        def answers() -> bool:
            if not self.alive():
                raise ProcessExited(f"gunicorn exited; see {self.log_path}")
            requests.get(f"{self.base_url}/api/v1/messages", timeout=2)
            return True

        wait_for(answers, timeout=timeout, what="gunicorn", interval=0.5)


class CeleryWorker(Managed):
    def __init__(self, *, env: dict[str, str], log_dir: Path, concurrency: int = 2):
        argv = [
            str(BIN / "celery"),
            "-A",
            "smsconsole",
            "worker",
            "--concurrency",
            str(concurrency),
            "-O",
            "fair",
            "--loglevel",
            "INFO",
            "--hostname",
            "e2e-worker@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        super().__init__("worker", argv, env=env, log_dir=log_dir)

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if not self.alive():
                raise ProcessExited(f"celery worker exited; see {self.log_path}")
            return " ready." in self.log_text()

        wait_for(ready, timeout=timeout, what="celery worker", interval=0.3)


class CeleryBeat(Managed):
    def __init__(self, *, env: dict[str, str], log_dir: Path):
        argv = [
            str(BIN / "celery"),
            "-A",
            "smsconsole",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(log_dir / "beat-schedule"),
            "--pidfile",
            str(log_dir / "beat.pid"),
        ]
        super().__init__("beat", argv, env=env, log_dir=log_dir)

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if not self.alive():
                raise ProcessExited(f"celery beat exited; see {self.log_path}")
            return "beat: Starting" in self.log_text()

        wait_for(ready, timeout=timeout, what="celery beat")


class Supervisor:
    """Owns every process the harness starts and ends them all, on success, failure or Ctrl-C."""

    def __init__(self):
        self.processes: list[Managed] = []
        self.cleanups: list[Callable[[], None]] = []
        self._previous_handlers: dict[int, object] = {}

    def add(self, process: Managed) -> Managed:
        self.processes.append(process)
        return process

    def on_cleanup(self, cleanup: Callable[[], None]) -> None:
        self.cleanups.append(cleanup)

    def __enter__(self) -> "Supervisor":
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[sig] = signal.signal(sig, self._exit_on_signal)
        return self

    @staticmethod
    def _exit_on_signal(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc) -> None:
        self.cleanup()
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)

    def cleanup(self) -> None:
        # A Ctrl-C or SIGTERM during cleanup must not leave processes behind: ignored until done.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for cleanup in reversed(self.cleanups):
                with contextlib.suppress(Exception):
                    cleanup()
            self.cleanups.clear()
            # Consumers first (beat, worker, web), the broker last.
            for process in reversed(self.processes):
                with contextlib.suppress(Exception):
                    process.terminate()
            self.processes.clear()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
