"""The harness database: created fresh per run, set up, watched, and hit by the database fault.

The harness itself uses Django (with the same settings as the platform) for setup and for the
checks, under its own application name, so that the database fault can spare its sessions.
"""

import io
import re
from urllib.parse import urlsplit

import psycopg

from e2e.processes import HARNESS_APPLICATION_NAME

SAFE_NAME = re.compile(r"^[a-z0-9_]*e2e[a-z0-9_]*$")


def django_setup() -> None:
    import django

    django.setup()


class Database:
    def __init__(self, *, url: str):
        parts = urlsplit(url)
        self.url = url
        self.name = parts.path.lstrip("/")
        if not SAFE_NAME.match(self.name):
            # It is dropped and recreated: never anything but a harness database.
            raise SystemExit(f"refusing to use database {self.name!r}: its name must contain 'e2e'")
        self.server_url = parts._replace(path="/postgres").geturl()
        self._fault_connection: psycopg.Connection | None = None

    def recreate(self) -> None:
        with psycopg.connect(
            self.server_url, autocommit=True, application_name=HARNESS_APPLICATION_NAME
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self.close()
        with psycopg.connect(
            self.server_url, autocommit=True, application_name=HARNESS_APPLICATION_NAME
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def close(self) -> None:
        from django.db import connections

        connections.close_all()
        if self._fault_connection is not None:
            self._fault_connection.close()
            self._fault_connection = None

    @staticmethod
    def migrate() -> None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)

    @staticmethod
    def command(*args: str) -> str:
        """Run a management command in-process; return the last line it printed."""
        from django.core.management import call_command

        out = io.StringIO()
        call_command(*args, stdout=out)
        return out.getvalue().strip().splitlines()[-1].strip()

    # --- the database fault ---------------------------------------------------------------------
    def _fault_cursor(self):
        if self._fault_connection is None or self._fault_connection.closed:
            self._fault_connection = psycopg.connect(
                self.url, autocommit=True, application_name=f"{HARNESS_APPLICATION_NAME}-fault"
            )
        return self._fault_connection.cursor()

    def terminate_backends(self) -> int:
        """Terminate every backend of the harness database but the harness's own; how many."""
        with self._fault_cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND application_name NOT LIKE %s",
                [self.name, f"{HARNESS_APPLICATION_NAME}%"],
            )
            return sum(1 for (done,) in cursor.fetchall() if done)

    def busy_backends(self) -> int:
        """Platform sessions running a statement or inside a transaction right now."""
        with self._fault_cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name NOT LIKE %s "
                "AND state IN ('active', 'idle in transaction')",
                [self.name, f"{HARNESS_APPLICATION_NAME}%"],
            )
            return cursor.fetchone()[0]

    def inbox_items_being_ingested(self) -> list[tuple[int, int]]:
        """(id, items) of unprocessed webhook bodies whose row lock a live transaction holds.

        Ingestion locks the bodies it works on (FOR UPDATE); a locked row carries the locker's
        transaction id in `xmax`, which pg_stat_activity shows as that session's `backend_xid`.
        Reading this takes no lock, so it never delays the worker it watches."""
        with self._fault_cursor() as cursor:
            cursor.execute(
                "SELECT i.id, i.item_count FROM delivery_inboxitem i "
                "WHERE i.processed_at IS NULL AND i.xmax <> '0'::xid AND EXISTS ("
                "  SELECT 1 FROM pg_stat_activity a WHERE a.datname = current_database() "
                "  AND a.backend_xid = i.xmax)"
            )
            return cursor.fetchall()

    def inbox_item_processed(self, item_id: int) -> bool:
        with self._fault_cursor() as cursor:
            cursor.execute("SELECT processed_at IS NOT NULL FROM delivery_inboxitem WHERE id = %s", [item_id])
            row = cursor.fetchone()
            return bool(row and row[0])
