"""The periodic jobs without a broker: beat's schedule, run by a thread of the development server.

Without `CELERY_BROKER_URL` there is no beat, yet the pipeline counts on its jobs: a message whose
carrier was down waits in `requesting` for `dispatch_due`, an early receipt for
`early_receipts_retry`. `manage.py runserver` (what `make run` starts) therefore runs the same
schedule (`smsconsole.celery.app.conf.beat_schedule`, the one list of periodic jobs) in a
background thread, each task eagerly, as every task runs without a broker. With a broker this
stays off: beat runs the jobs, exactly once.
"""

import logging
import threading

from celery.schedules import crontab, maybe_schedule
from django.db import close_old_connections

from smsconsole.celery import app as celery_app

logger = logging.getLogger(__name__)

# How often the thread looks for a due job; the shortest job interval is 15 s.
POLL_SECONDS = 1.0


class EmbeddedBeat:
    """Runs each job of a beat schedule when it is due, in this process."""

    def __init__(self, schedule: dict | None = None, *, app=celery_app):
        self.app = app
        # Beat and workers import every app's tasks module at start; do the same, or the tasks
        # named in the schedule are not registered yet.
        app.loader.import_default_modules()
        now = app.now()
        self.entries = []
        for name, entry in (app.conf.beat_schedule if schedule is None else schedule).items():
            when = maybe_schedule(entry["schedule"], app=app)
            # Interval jobs run at once (whatever waited while the server was down), then at their
            # interval; a crontab job (the nightly purge) waits for its time.
            last_run_at = now if isinstance(when, crontab) else now - when.run_every
            self.entries.append({"name": name, "task": entry["task"], "schedule": when, "last": last_run_at})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_pending(self) -> list[str]:
        """Run every job that is due now; returns their names."""
        ran = []
        for entry in self.entries:
            is_due, _next_in = entry["schedule"].is_due(entry["last"])
            if not is_due:
                continue
            entry["last"] = self.app.now()
            try:
                self.app.tasks[entry["task"]].apply(throw=True)
            except Exception:
                logger.exception("periodic job %s failed; it runs again at its next time", entry["name"])
            finally:
                # A thread of its own keeps its own connection: let Django close it as it would
                # after a request, so a dropped database is reconnected next time.
                close_old_connections()
            ran.append(entry["name"])
        return ran

    def start(self) -> threading.Thread:
        """Run the schedule in a daemon thread until `stop()` (or the process ends)."""
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.run_pending()
