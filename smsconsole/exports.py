"""Background CSV exports: a filter too big to stream within a request, written to a file by a worker.

A streamed export has to end within the web server's timeout; a 30-day export of a big account
(a million rows and more) does not. Above SMS_EXPORT_STREAM_MAX_ROWS rows, the export view stores
an `ExportJob` (the list, the query string as submitted, BOM, language) and a worker runs it:

    export_job_create   queued, its run queued once the transaction commits
    export_job_run      running: the same export view, bound to the stored query string, writes
                        its CSV to SMS_EXPORT_DIR (rows_written every chunk), then done or failed
    export_jobs_purge   (beat, hourly) jobs that stalled are failed; jobs and files older than
                        SMS_EXPORT_RETENTION_DAYS are deleted

The file is byte for byte what the streamed export would have sent for that filter when the job
was asked for: the view's own filterset, order and columns, the csv_export writer, the request's
language, and the clock frozen at `created_at` (so "the last 24 hours" or a preset means the same
period however long the job waited in the queue).
"""

import datetime as dt
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.urls import resolve, reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from smsconsole import clock, csv_export
from smsconsole.csv_export import csv_rows, export_filename
from smsconsole.exceptions import ServiceError
from smsconsole.models import Account, ExportJob
from smsconsole.queueing import task_queue

logger = logging.getLogger(__name__)

# Each list that can be exported in the background, by the URL of its (streamed) export view.
EXPORT_URL_NAMES = {
    ExportJob.ListName.MESSAGES: "delivery:message-export",
    ExportJob.ListName.INTERCEPTS: "intercepts:intercept-export",
    ExportJob.ListName.REPLIES: "replies:reply-export",
    ExportJob.ListName.UNSUBSCRIBES: "unsubscribes:unsubscribe-export",
}

# The run's Celery time limits (smsconsole.tasks). At ~37,000 rows/s, an hour is 100 M rows, far
# past a 30-day export of the biggest account; the soft limit leaves time to record the failure.
EXPORT_TIME_LIMIT_SECONDS = 3600
EXPORT_SOFT_TIME_LIMIT_SECONDS = 3500
# A job running longer than its time limit lost its worker (killed, machine gone); one still queued
# after this lost its task (a broker outage). Both are failed, so their pages stop waiting.
RUNNING_STALLED_AFTER = dt.timedelta(seconds=EXPORT_TIME_LIMIT_SECONDS + 300)
QUEUED_STALLED_AFTER = dt.timedelta(hours=1)

# The sentences a customer reads on a failed job, translated when it fails, in the job's language
# (the technical detail goes to the log).
ERROR_FAILED = gettext_noop(
    "The export failed before it finished. Please start it again; if it fails again, contact support."
)
ERROR_TOO_LONG = gettext_noop(
    "The export took too long and was stopped. Choose a shorter period or a narrower filter and export again."
)
ERROR_FILTER_INVALID = gettext_noop(
    "The filter of this export is no longer valid. Go back to the list, check the filter and export again."
)
ERROR_STALLED = gettext_noop("The export stopped unexpectedly. Please start it again.")
ERROR_NOT_STARTED = gettext_noop("The export could not be started. Please try again in a few minutes.")


class _FilterInvalid(Exception):
    """The stored query string no longer passes the list's filter validation."""


def export_list_name_for(*, url_name: str) -> str | None:
    """The list whose export view is named `url_name` ("delivery:message-export"), or None."""
    for list_name, export_url_name in EXPORT_URL_NAMES.items():
        if export_url_name == url_name:
            return list_name
    return None


def export_dir() -> Path:
    """Where export files are written (SMS_EXPORT_DIR)."""
    return Path(settings.SMS_EXPORT_DIR)


def export_job_path(job: ExportJob) -> Path | None:
    """The job's file on disk, or None when it has none (yet, or any more)."""
    if not job.file_name or Path(job.file_name).name != job.file_name:
        return None
    path = export_dir() / job.file_name
    return path if path.is_file() else None


def _export_view_class(list_name: str):
    # Found through the URL configuration: the apps' views import this module, not the other way.
    return resolve(reverse(EXPORT_URL_NAMES[list_name])).func.view_class


def export_job_download_name(job: ExportJob) -> str:
    """The name the job's file downloads as: the streamed export's pattern, stamped with `created_at`."""
    return export_filename(
        export_name=_export_view_class(job.list_name).export_name,
        account_slug=job.account.slug,
        at=job.created_at,
        zone=job.account.zone,
    )


@transaction.atomic
def export_job_create(
    *, account: Account, requested_by, list_name: str, query: str, with_bom: bool, language: str
) -> ExportJob:
    """Store a queued export job of `list_name` for the query string `query`; its run is queued on commit."""
    if list_name not in EXPORT_URL_NAMES:
        raise ServiceError(
            f"{list_name!r} is not a list that can be exported.", errors={"list_name": ["invalid"]}
        )
    job = ExportJob.objects.create(
        account=account,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
        list_name=list_name,
        query=query,
        with_bom=with_bom,
        language=language or settings.LANGUAGE_CODE,
        created_at=clock.now(),
    )
    account_id, job_id = account.pk, job.pk
    # Robust: the job is stored either way; with no broker the run happens here, eagerly, and a
    # failure inside it is already recorded on the job (it must not turn the redirect into a 500).
    transaction.on_commit(lambda: _queue_run(account_id=account_id, job_id=job_id), robust=True)
    return job


def _queue_run(*, account_id: int, job_id: int) -> None:
    # Imported here: tasks wrap services, so services reach tasks only at call time.
    from smsconsole.tasks import export_job_run

    task_queue(export_job_run, account_id, job_id)


def export_job_run(*, account_id: int, job_id: int) -> ExportJob | None:
    """Write the job's CSV file, counting rows as they go; done, or failed with a sentence for the customer.

    Claims the job first (queued → running): a task delivered twice writes the file once. Returns
    the job, or None when there was nothing to claim."""
    claimed = ExportJob.objects.filter(
        account_id=account_id, pk=job_id, status=ExportJob.Status.QUEUED
    ).update(status=ExportJob.Status.RUNNING, started_at=clock.now())
    if not claimed:
        return None
    job = (
        ExportJob.objects.select_related("account", "requested_by")
        .filter(account_id=account_id, pk=job_id)
        .get()
    )
    with translation.override(job.language):
        try:
            _export_job_write(job)
        except _FilterInvalid:
            export_job_fail(account_id=account_id, job_id=job_id, error=gettext(ERROR_FILTER_INVALID))
        except SoftTimeLimitExceeded:
            logger.warning("export job %s stopped at its time limit", job_id)
            export_job_fail(account_id=account_id, job_id=job_id, error=gettext(ERROR_TOO_LONG))
        except Exception:
            logger.exception("export job %s failed", job_id)
            export_job_fail(account_id=account_id, job_id=job_id, error=gettext(ERROR_FAILED))
    job.refresh_from_db()
    return job


def _export_job_write(job: ExportJob) -> None:
    directory = export_dir()
    directory.mkdir(parents=True, exist_ok=True)
    file_name = f"{job.account_id}-{job.pk}-{secrets.token_hex(8)}.csv"
    path = directory / file_name
    partial = path.with_name(f"{file_name}.part")
    progress = _Progress(job_id=job.pk)
    try:
        with clock.frozen(job.created_at):
            view = _export_view_class(job.list_name).for_export_job(
                account=job.account, user=job.requested_by, query=job.query
            )
            if not view.filterset.is_valid():
                raise _FilterInvalid
            # Only for the progress bar: a worker can afford the one full count a request could not.
            ExportJob.objects.filter(pk=job.pk).update(rows_expected=view.filterset.qs.order_by().count())
            lines = csv_rows(
                progress.counted(view.export_rows()),
                columns=view.get_csv_columns(),
                zone=job.account.zone,
                with_bom=job.with_bom,
            )
            # newline="": the csv writer ends lines with \r\n itself, as in the streamed response.
            with open(partial, "w", encoding="utf-8", newline="") as out:
                out.writelines(lines)
        os.replace(partial, path)  # a file under its final name is always complete
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finished = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.DONE,
        finished_at=clock.now(),
        rows_written=progress.written,
        file_name=file_name,
        file_size=path.stat().st_size,
    )
    if not finished:  # failed or purged meanwhile: nobody will download it
        path.unlink(missing_ok=True)


class _Progress:
    """Counts the rows as the writer takes them; stores the count every chunk for the progress bar."""

    def __init__(self, *, job_id: int):
        self.job_id = job_id
        self.every = csv_export.EXPORT_CHUNK_SIZE  # the chunk the rows are read in
        self.written = 0

    def counted(self, rows: Iterable) -> Iterator:
        for row in rows:
            yield row
            self.written += 1
            if self.written % self.every == 0:
                ExportJob.objects.filter(pk=self.job_id).update(rows_written=self.written)


def export_job_fail(*, account_id: int, job_id: int, error: str) -> bool:
    """Mark a queued or running job failed with `error` (a sentence for the customer); whether it was."""
    return bool(
        ExportJob.objects.filter(
            account_id=account_id,
            pk=job_id,
            status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING],
        ).update(status=ExportJob.Status.FAILED, finished_at=clock.now(), error=error)
    )


def export_jobs_fail_stalled(*, now: dt.datetime) -> int:
    """Fail jobs whose worker went away (running past the time limit) or whose task was lost; how many."""
    stalled = ExportJob.objects.filter(
        status=ExportJob.Status.RUNNING, started_at__lt=now - RUNNING_STALLED_AFTER
    ) | ExportJob.objects.filter(status=ExportJob.Status.QUEUED, created_at__lt=now - QUEUED_STALLED_AFTER)
    failed = 0
    for job in stalled.only("pk", "account_id", "status", "language"):
        with translation.override(job.language):
            error = gettext(ERROR_STALLED if job.status == ExportJob.Status.RUNNING else ERROR_NOT_STARTED)
        failed += export_job_fail(account_id=job.account_id, job_id=job.pk, error=error)
    return failed


def export_jobs_purge(*, now: dt.datetime | None = None) -> int:
    """Fail stalled jobs; delete jobs and files older than SMS_EXPORT_RETENTION_DAYS; how many jobs went.

    Files of no job that are as old go too: a worker killed mid-write leaves a `.part` file."""
    now = now or clock.now()
    export_jobs_fail_stalled(now=now)
    before = now - dt.timedelta(days=settings.SMS_EXPORT_RETENTION_DAYS)
    old = ExportJob.objects.filter(created_at__lt=before)
    file_names = list(old.exclude(file_name="").values_list("file_name", flat=True))
    # Rows first: a purge that dies between the two leaves stray files, which the next one finds.
    deleted = old.delete()[0]
    directory = export_dir()
    for file_name in file_names:
        if Path(file_name).name == file_name:
            (directory / file_name).unlink(missing_ok=True)
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_file() and path.stat().st_mtime < before.timestamp():
                path.unlink(missing_ok=True)
    return deleted


def export_job_delete(*, account: Account, job_id: int) -> bool:
    """Delete the account's job `job_id` and its file; whether there was one."""
    job = ExportJob.objects.filter(account=account, pk=job_id).first()
    if job is None:
        return False
    path = export_job_path(job)
    job.delete()
    if path is not None:
        path.unlink(missing_ok=True)
    return True
