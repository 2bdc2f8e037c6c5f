"""The console run for real beside a real Kannel: gunicorn serving the app (tasks eager, no broker)
and the ticker standing in for beat, both against a database of their own.

Kannel calls the console back over HTTP, so the console cannot run inside the test process. Its
data is set up through the management commands and read back through the public API, as an
operator and a customer would.
"""

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import requests

from tests.kannel.gateway import ROOT, _stop, free_port, wait_until

BIN = Path(sys.executable).parent


def database_for(directory: Path) -> tuple[str, callable]:
    """A database URL of the run's own, and how to drop it: PostgreSQL when DATABASE_URL names a
    PostgreSQL server (a database beside it), else an SQLite file in `directory`."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{directory / 'console.sqlite3'}", lambda: None
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'smsconsole'}_kannel_e2e_{os.getpid()}"
    admin = parts._replace(path="/postgres").geturl()

    def run(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{name}"')
    run(f'CREATE DATABASE "{name}"')
    return parts._replace(path=f"/{name}").geturl(), lambda: run(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


class Console:
    def __init__(self, directory: Path, *, database_url: str, channel_timeout: float = 2.0):
        self.directory = Path(directory)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "CELERY_", "SMS_", "DJANGO_SETTINGS", "API_"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="smsconsole.settings",
            DATABASE_URL=database_url,
            SMS_PUBLIC_BASE_URL=self.base_url,
            SMS_CHANNEL_TIMEOUT_SECONDS=str(channel_timeout),
            # A claim's lease is 2 × timeout + this + 15 s: a dead worker's batch comes back soon.
            SMS_DISPATCH_RECORD_RETRY_SECONDS="5",
            # The test polls the API; rate limits are tested elsewhere.
            API_KEY_REQUESTS_PER_MINUTE="0",
            API_IP_REQUESTS_PER_MINUTE="0",
            PYTHONUNBUFFERED="1",
        )
        self.web: subprocess.Popen | None = None
        self.ticker: subprocess.Popen | None = None

    def manage(self, *args: str) -> list[str]:
        """Run a management command; its output lines."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout.strip().splitlines()

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with open(self.directory / f"{name}.log", "ab") as log:
            return subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start(self) -> "Console":
        self.web = self._spawn(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "smsconsole.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "8",
                "--timeout",
                "120",
                "--graceful-timeout",
                "3",
            ],
        )
        self.ticker = self._spawn(
            "ticker", [sys.executable, "-m", "tests.kannel.ticker", "--interval", "0.5"]
        )

        def up():
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.directory / 'gunicorn.log'}")
            try:
                return requests.get(f"{self.base_url}/api/v1/schema", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout=60, interval=0.2, what="the console to serve")
        return self

    def stop(self) -> None:
        _stop(self.ticker, timeout=10)
        _stop(self.web, timeout=10)

    def api(self, key: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        return session

    def logs(self, lines: int = 30) -> str:
        out = []
        for name in ("gunicorn.log", "ticker.log"):
            path = self.directory / name
            if path.exists():
                out.append(
                    f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)
