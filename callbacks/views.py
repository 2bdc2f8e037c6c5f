"""The callback settings page, its actions (secret, test event, replay, removal) and the delivery log."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import TemplateView, View

from callbacks.filters import CallbackAttemptFilter
from callbacks.forms import CallbackEndpointForm, ReplayRangeForm
from callbacks.selectors import attempt_list, endpoint_get, pending_event_count
from callbacks.services import (
    endpoint_delete,
    endpoint_save,
    endpoint_secret_rotate,
    event_replay,
    events_replay_range,
    test_event_send,
)
from callbacks.tables import CallbackAttemptTable
from smsconsole import clock
from smsconsole.csv_export import field_column, time_column
from smsconsole.exceptions import NotFound, ServiceError
from smsconsole.views import ConsoleMixin, CsvExportView, KeysetListView


class CallbackSettingsView(ConsoleMixin, TemplateView):
    """GET shows the endpoint and its health; POST saves the URL and events (a new secret is shown once)."""

    template_name = "callbacks/endpoint_settings.html"

    def get(self, request, *args, **kwargs):
        endpoint = endpoint_get(account=self.account)
        initial = {"url": endpoint.url, "events": endpoint.events} if endpoint else None
        return self.render_page(endpoint, CallbackEndpointForm(initial=initial))

    def post(self, request, *args, **kwargs):
        form = CallbackEndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, is_created = endpoint_save(
                    account=self.account, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
                )
            except ServiceError as exc:
                for field, errors in exc.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                if is_created:
                    # Shown here once, never stored in a message cookie or shown again.
                    return self.render_page(
                        endpoint, CallbackEndpointForm(initial=form.cleaned_data), secret=endpoint.secret
                    )
                messages.success(request, _("The callback settings were saved."))
                return redirect("callbacks:endpoint-settings")
        return self.render_page(endpoint_get(account=self.account), form, status=400)

    def render_page(self, endpoint, form, *, secret: str = "", status: int = 200, replay_form=None):
        context = self.get_context_data(
            endpoint=endpoint,
            form=form,
            secret=secret,
            replay_form=replay_form or ReplayRangeForm(zone=self.account.zone),
            is_unhealthy=bool(endpoint and endpoint.is_unhealthy_at(clock.now())),
            pending_count=pending_event_count(account=self.account) if endpoint else 0,
        )
        return self.render_to_response(context, status=status)


class CallbackSecretRotateView(CallbackSettingsView):
    def get(self, request, *args, **kwargs):
        return redirect("callbacks:endpoint-settings")

    def post(self, request, *args, **kwargs):
        try:
            endpoint = endpoint_secret_rotate(account=self.account)
        except NotFound:
            raise Http404 from None
        return self.render_page(
            endpoint,
            CallbackEndpointForm(initial={"url": endpoint.url, "events": endpoint.events}),
            secret=endpoint.secret,
        )


class CallbackActionView(ConsoleMixin, View):
    """A POST-only action on the account's endpoint; GET goes back to the settings page."""

    def get(self, request, *args, **kwargs):
        return redirect("callbacks:endpoint-settings")


class CallbackDeleteView(CallbackActionView):
    def post(self, request, *args, **kwargs):
        try:
            endpoint_delete(account=self.account)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("The callback URL was removed."))
        return redirect("callbacks:endpoint-settings")


class CallbackTestEventView(CallbackActionView):
    def post(self, request, *args, **kwargs):
        try:
            test_event_send(account=self.account)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("A test event is on its way; its delivery shows in the log."))
        return redirect("callbacks:attempt-list")


class CallbackEventReplayView(CallbackActionView):
    def post(self, request, *args, **kwargs):
        try:
            event_replay(account=self.account, event_id=kwargs["event_id"], user=request.user)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("The event will be sent again."))
        return redirect("callbacks:attempt-list")


class CallbackRangeReplayView(CallbackSettingsView):
    def get(self, request, *args, **kwargs):
        return redirect("callbacks:endpoint-settings")

    def post(self, request, *args, **kwargs):
        endpoint = endpoint_get(account=self.account)
        if endpoint is None:
            raise Http404
        form = ReplayRangeForm(request.POST, zone=self.account.zone)
        if not form.is_valid():
            context_form = CallbackEndpointForm(initial={"url": endpoint.url, "events": endpoint.events})
            return self.render_page(endpoint, context_form, status=400, replay_form=form)
        count = events_replay_range(
            account=self.account,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            user=request.user,
        )
        messages.success(
            request,
            ngettext("%(count)d event will be sent again.", "%(count)d events will be sent again.", count)
            % {"count": count},
        )
        return redirect("callbacks:attempt-list")


class CallbackAttemptListView(KeysetListView):
    template_name = "callbacks/attempt_list.html"
    filterset_class = CallbackAttemptFilter
    table_class = CallbackAttemptTable
    time_field = "attempted_at"
    export_url_name = "callbacks:attempt-export"

    def get_queryset(self):
        return attempt_list(account=self.account)


class CallbackAttemptExportView(CsvExportView):
    filterset_class = CallbackAttemptFilter
    time_field = "attempted_at"
    export_name = "callbacks"
    list_url_name = "callbacks:attempt-list"

    def get_queryset(self):
        return attempt_list(account=self.account)

    def get_csv_columns(self):
        return [
            time_column(f"{_('Time')} ({self.account.time_zone})", "attempted_at", zone=self.account.zone),
            field_column(gettext_lazy("Outcome"), "outcome"),
            field_column(gettext_lazy("Events"), "event_count"),
            field_column(gettext_lazy("Response code"), "response_code"),
            field_column(gettext_lazy("Latency (ms)"), "latency_ms"),
            field_column(gettext_lazy("Response"), "response_excerpt", is_untrusted_text=True),
            field_column(gettext_lazy("Error"), "error", is_untrusted_text=True),
            field_column(gettext_lazy("Callback URL"), "url", is_untrusted_text=True),
        ]
