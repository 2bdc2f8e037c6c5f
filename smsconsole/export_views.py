"""The background exports' pages: the account's jobs, one job's progress, its file."""

from django.conf import settings
from django.http import FileResponse, Http404
from django.views import View
from django.views.generic import TemplateView

from smsconsole.exports import export_job_download_name, export_job_path
from smsconsole.selectors import export_job_get, export_job_list
from smsconsole.views import ConsoleMixin

# How often a job's page reloads itself while the job is queued or running.
REFRESH_SECONDS = 3
# The exports page lists this many; jobs are purged after SMS_EXPORT_RETENTION_DAYS anyway.
LIST_LIMIT = 100


class ExportJobMixin(ConsoleMixin):
    """The account's job named in the URL; another account's (or a purged) job is a 404."""

    def get_job(self):
        job = export_job_get(account=self.account, job_id=self.kwargs["job_id"])
        if job is None:
            raise Http404
        return job


class ExportJobListView(ConsoleMixin, TemplateView):
    template_name = "console/export_job_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        jobs = list(export_job_list(account=self.account)[:LIST_LIMIT])
        context.update(
            jobs=jobs,
            retention_days=settings.SMS_EXPORT_RETENTION_DAYS,
            refresh_seconds=REFRESH_SECONDS if any(not job.is_finished for job in jobs) else None,
        )
        return context


class ExportJobDetailView(ExportJobMixin, TemplateView):
    template_name = "console/export_job_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = self.get_job()
        context.update(
            job=job,
            download_name=export_job_download_name(job),
            refresh_seconds=None if job.is_finished else REFRESH_SECONDS,
        )
        return context


class ExportJobDownloadView(ExportJobMixin, View):
    def get(self, request, *args, **kwargs):
        job = self.get_job()
        path = export_job_path(job) if job.is_downloadable else None
        if path is None:
            raise Http404
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=export_job_download_name(job),
            content_type="text/csv; charset=utf-8",
        )
        response["Cache-Control"] = "no-store"
        return response
