"""A real Kannel (Debian's bearerbox and smsbox) for the tests, the demo and the benchmark.

It runs with the project's own config, deploy/kannel/kannel.conf, rendered into a directory of
its own with free ports, and is stopped the way KANNEL.md says: SIGTERM, then SIGKILL after a
timeout (a bearerbox whose SMSC is gone can hang in its graceful shutdown). Only the processes
started here are ever signalled.
"""

import os
import signal
import socket
import sqlite3
import string
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE = ROOT / "deploy" / "kannel" / "kannel.conf"
DLR_TABLE_SQL = ROOT / "deploy" / "kannel" / "dlr.sql"
BEARERBOX = Path(os.environ.get("KANNEL_BEARERBOX", "/usr/sbin/bearerbox"))
SMSBOX = Path(os.environ.get("KANNEL_SMSBOX", "/usr/sbin/smsbox"))


def is_installed() -> bool:
    return BEARERBOX.exists() and SMSBOX.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.1, what: str = "a condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def render_config(values: dict[str, str]) -> str:
    """deploy/kannel/kannel.conf with every ${NAME} filled in; a missing value is an error."""
    return string.Template(CONFIG_TEMPLATE.read_text()).substitute(values)


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _stop(process: subprocess.Popen | None, *, timeout: float) -> None:
    """SIGTERM the process's group, then SIGKILL what is left of it after `timeout`.

    Each box runs in a session (and so a process group) of its own, started here; smsbox restarts
    itself when bearerbox goes away, so the group, not the pid, is what has to go."""
    if process is None:
        return
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(10)


class KannelGateway:
    """bearerbox + smsbox bound to one SMSC; `sendsms_url` is what a kannel channel sends to."""

    def __init__(
        self,
        directory: Path,
        *,
        smsc_port: int,
        replies_url: str = "",
        username: str = "console",
        password: str = "console-password",
        smsc_id: str = "test-smsc",
        throughput: float = 0,
        ports: tuple[int, int, int] | None = None,
    ):
        """`ports`: admin, smsbox and sendsms ports (Kannel's usual are 13000, 13001, 13013); free
        ones by default, so that runs never collide."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.username, self.password, self.smsc_id = username, password, smsc_id
        self.admin_port, self.smsbox_port, self.sendsms_port = ports or (
            free_port(),
            free_port(),
            free_port(),
        )
        self.admin_password = "admin-" + os.urandom(6).hex()
        self.values = {
            "KANNEL_DIR": str(self.directory),
            "KANNEL_ADMIN_PORT": str(self.admin_port),
            "KANNEL_ADMIN_PASSWORD": self.admin_password,
            "KANNEL_SMSBOX_PORT": str(self.smsbox_port),
            "KANNEL_SENDSMS_PORT": str(self.sendsms_port),
            "KANNEL_SENDER": "12345",
            "KANNEL_USERNAME": username,
            "KANNEL_PASSWORD": password,
            "SMSC_ID": smsc_id,
            "SMSC_HOST": "127.0.0.1",
            "SMSC_PORT": str(smsc_port),
            "SMSC_USERNAME": "kannel",
            "SMSC_PASSWORD": "smscpass",
            "SMSC_THROUGHPUT": str(throughput),
        }
        # The replies URL (create_channel prints it) may be known only once `sendsms_url` was
        # given to the channel: it can be set until the first start.
        self.replies_url = replies_url
        self.config = self.directory / "kannel.conf"
        with sqlite3.connect(self.directory / "dlr.sqlite3") as db:
            db.executescript(DLR_TABLE_SQL.read_text())
        self.bearerbox: subprocess.Popen | None = None
        self.smsbox: subprocess.Popen | None = None
        self.starts = 0

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def status(self) -> str:
        try:
            answer = requests.get(
                f"http://127.0.0.1:{self.admin_port}/status.txt",
                params={"password": self.admin_password},
                timeout=2,
            )
        except requests.RequestException:
            return ""
        return answer.text if answer.status_code == 200 else ""

    def is_bound(self) -> bool:
        """The SMSC connection is online (bound), as bearerbox's status page says."""
        return any(
            line.strip().startswith(f"{self.smsc_id}[") and "(online" in line
            for line in self.status().splitlines()
        )

    def _sendsms_up(self) -> bool:
        try:
            # Without credentials smsbox answers 403 at once: it is serving.
            return requests.get(self.sendsms_url, timeout=2).status_code in (400, 403)
        except requests.RequestException:
            return False

    def _log(self, name: str):
        return open(self.directory / f"{name}.out", "ab")

    def _spawn(self, binary: Path, name: str) -> subprocess.Popen:
        with self._log(name) as log:
            return subprocess.Popen(
                [str(binary), str(self.config)],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start(self, *, timeout: float = 40) -> "KannelGateway":
        """Start bearerbox, then smsbox; return once sendsms answers. The SMSC binds on its own."""
        deadline = time.monotonic() + timeout
        self.config.write_text(render_config({**self.values, "CONSOLE_REPLIES_URL": self.replies_url}))
        # A bearerbox that just stopped may still hold its ports for a moment: start again until
        # one stays up (KANNEL.md).
        while True:
            self.bearerbox = self._spawn(BEARERBOX, "bearerbox")
            try:
                wait_until(
                    lambda: self.bearerbox.poll() is not None or self.status(),
                    timeout=max(deadline - time.monotonic(), 1),
                    what="bearerbox's admin port",
                )
            except TimeoutError:
                self.stop()
                raise
            if self.bearerbox.poll() is None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"bearerbox does not start; see {self.directory / 'bearerbox.out'}")
            time.sleep(0.5)
        self.smsbox = self._spawn(SMSBOX, "smsbox")
        try:
            wait_until(
                self._sendsms_up, timeout=max(deadline - time.monotonic(), 1), what="smsbox's sendsms port"
            )
        except TimeoutError:
            self.stop()
            raise
        self.starts += 1
        return self

    def wait_bound(self, *, timeout: float = 30) -> None:
        wait_until(self.is_bound, timeout=timeout, interval=0.2, what="Kannel's bind to the SMSC")

    def stop(self, *, timeout: float = 5) -> None:
        """bearerbox first: it shuts smsbox down with it (SIGTERM to smsbox first leaves bearerbox
        hanging in its shutdown). bearerbox also waits for the SMSC's unbind_resp, which the test
        SMSC does not always send: whatever outstays `timeout` is killed."""
        _stop(self.bearerbox, timeout=timeout)
        _stop(self.smsbox, timeout=timeout)

    def restart(self, *, timeout: float = 40) -> None:
        self.stop()
        self.start(timeout=timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def logs(self, lines: int = 40) -> str:
        """The end of bearerbox's and smsbox's logs, for a failing test's message."""
        out = []
        for name in ("bearerbox.log", "smsbox.log"):
            path = self.directory / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {name}\n" + "\n".join(tail))
        return "\n".join(out)
