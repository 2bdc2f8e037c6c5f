"""Background CSV exports: a filter too big to stream becomes a job whose file is the streamed CSV."""

import datetime as dt
import os
import re

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from smsconsole import csv_export
from smsconsole.celery import app as celery_app
from smsconsole.exports import ERROR_FAILED, export_jobs_purge
from smsconsole.models import ExportJob
from smsconsole.views import CsvExportView
from tests.factories import InterceptFactory, MessageFactory, ReplyFactory

PHONE = "+819012345678"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.SMS_EXPORT_DIR = tmp_path / "exports"
    return settings.SMS_EXPORT_DIR


@pytest.fixture
def small_threshold(settings):
    settings.SMS_EXPORT_STREAM_MAX_ROWS = 2


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what is queued on commit (the job's task, eagerly: no broker in the tests)."""

    def run(callable_):
        with django_capture_on_commit_callbacks(execute=True):
            return callable_()

    return run


def messages(account, count, **kwargs):
    now = timezone.now()
    return [
        MessageFactory(account=account, requested_at=now - dt.timedelta(minutes=n + 1), **kwargs)
        for n in range(count)
    ]


def make_job(account, **kwargs) -> ExportJob:
    defaults = {
        "list_name": ExportJob.ListName.MESSAGES,
        "language": "en",
        "created_at": timezone.now(),
    }
    return ExportJob.objects.create(account=account, **{**defaults, **kwargs})


def download(client, job: ExportJob, **extra) -> bytes:
    response = client.get(reverse("exports:export-download", kwargs={"job_id": job.pk}), **extra)
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_a_filter_over_the_threshold_becomes_a_job_and_its_page_offers_the_download(
    operator_client, operator, account, small_threshold, run_on_commit
):
    messages(account, 3, tag="big")

    response = run_on_commit(
        lambda: operator_client.get(
            reverse("delivery:message-export"), {"tag": "big"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    )

    job = ExportJob.objects.get(account=account)
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:export-detail", kwargs={"job_id": job.pk})
    assert (job.list_name, job.query, job.with_bom, job.requested_by) == (
        "messages",
        "tag=big",
        False,
        operator,
    )
    page = operator_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Done" in page
    assert reverse("exports:export-download", kwargs={"job_id": job.pk}) in page
    assert 'http-equiv="refresh"' not in page  # finished: the page stops reloading


@pytest.mark.django_db
def test_a_small_export_still_streams(operator_client, account, small_threshold):
    messages(account, 2)

    response = operator_client.get(reverse("delivery:message-export"), HTTP_ACCEPT_LANGUAGE="en")

    assert isinstance(response, StreamingHttpResponse)
    assert len(b"".join(response.streaming_content).decode().splitlines()) == 3
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_background_1_makes_a_job_of_a_small_export(operator_client, account, run_on_commit):
    messages(account, 1)

    response = run_on_commit(
        lambda: operator_client.get(reverse("delivery:message-export"), {"background": "1"})
    )

    job = ExportJob.objects.get(account=account)
    assert response.status_code == 302
    assert job.status == ExportJob.Status.DONE and job.rows_written == 1
    assert "background" not in job.query


@pytest.mark.django_db
def test_an_invalid_filter_makes_no_job_but_returns_to_the_list(operator_client, small_threshold):
    response = operator_client.get(
        reverse("delivery:message-export"), {"requested_from": "garbage", "background": "1"}
    )

    assert response["Location"] == reverse("delivery:message-list") + "?requested_from=garbage"
    assert not ExportJob.objects.exists()


def _make_rows(account):
    """Rows of every list with what an export must get right: formulas, Japanese, several chunks."""
    now = timezone.now()
    for n in range(7):
        at = now - dt.timedelta(minutes=n + 1, microseconds=n)
        MessageFactory(account=account, tag="=SUM(A1)" if n == 0 else "配信", phone=PHONE, requested_at=at)
        ReplyFactory(
            account=account,
            phone=PHONE,
            content='=HYPERLINK("x")' if n == 0 else "はい、停止",
            received_at=at,
        )
        InterceptFactory(
            account=account, scope="local", reason="@ARGH" if n == 0 else "番号なし", intercepted_at=at
        )


@pytest.mark.django_db
@pytest.mark.parametrize("bom", [None, "1"])
@pytest.mark.parametrize(
    "url_name", ["delivery:message-export", "intercepts:intercept-export", "replies:reply-export"]
)
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_jobs_file_is_byte_for_byte_the_streamed_export(
    operator_client, account, settings, run_on_commit, monkeypatch, bom, url_name, language
):
    account.time_zone = "America/New_York"
    account.save()
    _make_rows(account)
    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_SIZE", 3)  # the chunk seam, without 2,000 rows
    time_field = {"delivery": "requested_at", "intercepts": "intercepted_at", "replies": "received_at"}
    query = {"sort": time_field[url_name.split(":")[0]]}  # oldest first: the order is kept
    if bom:
        query["bom"] = bom
    url = reverse(url_name)

    streamed = operator_client.get(url, query, HTTP_ACCEPT_LANGUAGE=language)
    settings.SMS_EXPORT_STREAM_MAX_ROWS = 6
    redirect = run_on_commit(lambda: operator_client.get(url, query, HTTP_ACCEPT_LANGUAGE=language))

    assert isinstance(streamed, StreamingHttpResponse)
    expected = b"".join(streamed.streaming_content)
    assert redirect.status_code == 302
    job = ExportJob.objects.get(account=account)
    assert job.status == ExportJob.Status.DONE, job.error
    assert download(operator_client, job) == expected
    assert expected.startswith(b"\xef\xbb\xbf") == bool(bom)
    assert job.rows_written == job.rows_expected == 7
    assert job.file_size == len(expected)


@pytest.mark.django_db
def test_the_download_is_an_attachment_named_like_the_streamed_export(
    operator_client, account, run_on_commit
):
    messages(account, 1)
    run_on_commit(lambda: operator_client.get(reverse("delivery:message-export"), {"background": "1"}))
    job = ExportJob.objects.get(account=account)

    response = operator_client.get(reverse("exports:export-download", kwargs={"job_id": job.pk}))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    stamp = timezone.localtime(job.created_at, account.zone).strftime("%Y%m%d-%H%M%S")
    assert response["Content-Disposition"] == f'attachment; filename="sms-status-alice-shop-{stamp}.csv"'
    assert re.fullmatch(
        r'attachment; filename="sms-status-alice-shop-\d{8}-\d{6}\.csv"', response["Content-Disposition"]
    )


@pytest.mark.django_db
def test_progress_is_stored_every_chunk_while_the_file_is_written(
    operator_client, account, run_on_commit, monkeypatch
):
    messages(account, 5)
    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_SIZE", 2)
    seen = []
    export_rows = CsvExportView.export_rows

    def watched(view):
        for row in export_rows(view):
            job = ExportJob.objects.get()
            seen.append((job.status, job.rows_written, job.rows_expected))
            yield row

    monkeypatch.setattr(CsvExportView, "export_rows", watched)

    run_on_commit(lambda: operator_client.get(reverse("delivery:message-export"), {"background": "1"}))

    assert seen == [
        ("running", 0, 5),
        ("running", 0, 5),
        ("running", 2, 5),
        ("running", 2, 5),
        ("running", 4, 5),
    ]
    job = ExportJob.objects.get()
    assert (job.status, job.rows_written, job.progress_percent) == ("done", 5, 100)
    assert job.started_at <= job.finished_at


@pytest.mark.django_db
def test_a_running_jobs_page_shows_its_progress_and_reloads_itself(operator_client, account):
    job = make_job(
        account, status="running", rows_written=2000, rows_expected=8000, started_at=timezone.now()
    )

    page = operator_client.get(
        reverse("exports:export-detail", kwargs={"job_id": job.pk}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "2000 of about 8000 rows written" in page
    assert '<progress max="8000" value="2000">25%</progress>' in page
    assert '<meta http-equiv="refresh" content="3">' in page
    assert reverse("exports:export-download", kwargs={"job_id": job.pk}) not in page
    assert (
        operator_client.get(reverse("exports:export-download", kwargs={"job_id": job.pk})).status_code == 404
    )


@pytest.mark.django_db
def test_the_exports_page_lists_the_accounts_jobs_newest_first(operator_client, account, other_account):
    now = timezone.now()
    older = make_job(
        account,
        created_at=now - dt.timedelta(hours=2),
        status="done",
        rows_written=12,
        file_size=2048,
        file_name="x.csv",
    )
    newer = make_job(account, created_at=now - dt.timedelta(hours=1), list_name="replies", status="queued")
    make_job(other_account, created_at=now, list_name="intercepts")

    response = operator_client.get(reverse("exports:export-list"), HTTP_ACCEPT_LANGUAGE="en")

    assert [job.pk for job in response.context["jobs"]] == [newer.pk, older.pk]
    page = response.content.decode()
    assert "Intercept list" not in page.split("<tbody>")[1]
    assert "2.0\xa0KB" in page and "Queued" in page
    assert reverse("exports:export-download", kwargs={"job_id": older.pk}) in page
    assert 'http-equiv="refresh"' in page  # one job is still queued


@pytest.mark.django_db
def test_another_accounts_job_is_404_for_its_page_and_its_download(
    operator_client, other_operator_client, account, run_on_commit
):
    messages(account, 1)
    run_on_commit(lambda: operator_client.get(reverse("delivery:message-export"), {"background": "1"}))
    job = ExportJob.objects.get(account=account)

    for name in ("exports:export-detail", "exports:export-download"):
        url = reverse(name, kwargs={"job_id": job.pk})
        assert operator_client.get(url).status_code == 200, name
        assert other_operator_client.get(url).status_code == 404, name
    assert other_operator_client.get(reverse("exports:export-list")).context["jobs"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "sentence"),
    [("en", ERROR_FAILED), ("ja", "エクスポートは完了前に失敗しました。")],
)
def test_a_failing_job_shows_a_clear_error_and_leaves_no_file(
    operator_client, account, run_on_commit, monkeypatch, export_dir, language, sentence
):
    messages(account, 3)

    def broken(view):
        yield from []
        raise RuntimeError("database went away")

    monkeypatch.setattr(CsvExportView, "export_rows", broken)

    response = run_on_commit(
        lambda: operator_client.get(
            reverse("delivery:message-export"), {"background": "1"}, HTTP_ACCEPT_LANGUAGE=language
        )
    )

    job = ExportJob.objects.get()
    assert (job.status, job.file_name) == ("failed", "")
    page = operator_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert sentence in page
    assert "database went away" not in page
    assert list(export_dir.iterdir()) == []
    assert (
        operator_client.get(reverse("exports:export-download", kwargs={"job_id": job.pk})).status_code == 404
    )


@pytest.mark.django_db
def test_a_job_is_run_once_however_often_its_task_is_delivered(
    operator_client, account, run_on_commit, export_dir
):
    from smsconsole.tasks import export_job_run

    messages(account, 1)
    run_on_commit(lambda: operator_client.get(reverse("delivery:message-export"), {"background": "1"}))
    job = ExportJob.objects.get()

    export_job_run.delay(account.pk, job.pk)  # delivered again (acks_late, a worker restart)

    refreshed = ExportJob.objects.get()
    assert (refreshed.status, refreshed.file_name, refreshed.finished_at) == (
        "done",
        job.file_name,
        job.finished_at,
    )
    assert [path.name for path in export_dir.iterdir()] == [job.file_name]


@pytest.mark.django_db
def test_purge_removes_old_jobs_and_their_files_and_keeps_recent_ones(account, export_dir, settings):
    settings.SMS_EXPORT_RETENTION_DAYS = 7
    export_dir.mkdir(parents=True)
    now = timezone.now()
    old = make_job(account, created_at=now - dt.timedelta(days=8), status="done", file_name="old.csv")
    recent = make_job(account, created_at=now - dt.timedelta(days=6), status="done", file_name="recent.csv")
    (export_dir / "old.csv").write_text("old")
    (export_dir / "recent.csv").write_text("recent")
    stray = export_dir / "9-9-dead.csv.part"  # a worker killed mid-write, long ago
    stray.write_text("half")
    eight_days_ago = (now - dt.timedelta(days=8)).timestamp()
    os.utime(stray, (eight_days_ago, eight_days_ago))

    assert export_jobs_purge(now=now) == 1

    assert list(ExportJob.objects.values_list("pk", flat=True)) == [recent.pk]
    assert sorted(path.name for path in export_dir.iterdir()) == ["recent.csv"]
    assert not ExportJob.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_purge_fails_jobs_that_stalled_so_their_pages_stop_waiting(operator_client, account):
    now = timezone.now()
    lost_worker = make_job(account, status="running", started_at=now - dt.timedelta(hours=2))
    lost_task = make_job(account, status="queued", created_at=now - dt.timedelta(hours=2))
    busy = make_job(account, status="running", started_at=now - dt.timedelta(minutes=5))

    export_jobs_purge(now=now)

    statuses = dict(ExportJob.objects.values_list("pk", "status"))
    assert statuses == {lost_worker.pk: "failed", lost_task.pk: "failed", busy.pk: "running"}
    page = operator_client.get(
        reverse("exports:export-detail", kwargs={"job_id": lost_task.pk}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "The export could not be started. Please try again in a few minutes." in page


def test_the_purge_runs_from_the_beat_schedule():
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "smsconsole.tasks.export_jobs_purge" in tasks


@pytest.mark.django_db
def test_the_job_keeps_the_period_it_was_asked_for_however_long_it_waits(
    operator_client, account, small_threshold
):
    """The default period is the last 24 hours when the operator clicked, not when a worker starts."""
    from smsconsole.exports import export_job_run

    asked_at = timezone.now()
    messages(account, 3)  # within the minutes before asked_at
    operator_client.get(reverse("delivery:message-export"))  # queued; its task is not run yet
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(created_at=asked_at)

    from smsconsole import clock

    # A worker: its own clock, a day later but for 30 s, and its own language.
    with clock.frozen(asked_at + dt.timedelta(hours=23, minutes=59, seconds=30)), translation.override("en"):
        export_job_run(account_id=account.pk, job_id=job.pk)

    job.refresh_from_db()
    assert job.rows_written == 3
    # Run outside any request, yet in the language the operator asked in (Japanese, the default).
    with translation.override("ja"):
        status_header = gettext("Status")
    header = download(operator_client, job).decode().splitlines()[0].split(",")
    assert status_header in header and status_header != "Status"


@pytest.mark.parametrize(
    "query, is_job",
    [
        ({}, True),  # 4 messages: more than 2
        ({"status": "delivered"}, True),  # 3
        ({"status": "send_failed"}, False),  # 1: streamed
        ({"reason": "busy"}, False),  # 1, its status named by the reason
        ({"status": "delivered", "tag": "b"}, False),  # 1
    ],
)
def test_the_status_export_is_sized_by_the_filter_it_lists(
    operator_client, account, small_threshold, query, is_job
):
    messages(account, 2, status="delivered", tag="a")
    messages(account, 1, status="delivered", tag="b")
    messages(account, 1, status="send_failed", reason="busy", return_code=530)

    response = operator_client.get(reverse("delivery:message-export"), query)

    assert isinstance(response, StreamingHttpResponse) is not is_job
    assert ExportJob.objects.filter(account=account).exists() is is_job
