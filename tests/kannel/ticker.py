"""Celery beat's periodic jobs for a console that runs its tasks eagerly (no broker), as the
Kannel end-to-end test and `make kannel-demo` run it: every `--interval` seconds, dispatch what
is due (retries after a channel was down), drain the webhook inbox, and apply early receipts.

Beat does the same with a broker (every 15, 30 and 60 s); here the intervals are short so that a
test does not wait for them. Runs until SIGTERM or Ctrl-C:

    DATABASE_URL=… .venv/bin/python -m tests.kannel.ticker --interval 0.5
"""

import argparse
import logging
import os
import signal
import threading

import django


def main() -> None:
    parser = argparse.ArgumentParser(description="beat's periodic pipeline jobs, in a loop")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsconsole.settings")
    django.setup()
    from django.db import close_old_connections

    from delivery import tasks

    logging.basicConfig(level=logging.INFO, format="%(asctime)s ticker %(levelname)s %(message)s")
    logger = logging.getLogger("tests.kannel.ticker")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.is_set():
        for job in (tasks.dispatch_due, tasks.inbox_ingest, tasks.early_receipts_retry):
            try:
                result = job()
                if any(value for key, value in result.items() if key != "next_attempt_at"):
                    logger.info("%s: %s", job.name, result)
            except Exception:
                logger.exception("%s failed", job.name)
                close_old_connections()
        stopping.wait(args.interval)


if __name__ == "__main__":
    main()
