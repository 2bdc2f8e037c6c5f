"""The console's shared view machinery: the account scope, keyset-paged filtered lists, CSV export."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import empty
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_filters.views import FilterView
from django_tables2.views import SingleTableMixin

from smsconsole import csv_export
from smsconsole.csv_export import csv_expressions, csv_fields, csv_streaming_response, export_filename
from smsconsole.exports import export_job_create, export_list_name_for
from smsconsole.pagination import InvalidCursor, KeysetPaginator
from smsconsole.selectors import (
    STAFF_ACCOUNT_SESSION_KEY,
    account_list_for_staff,
    list_column_choice_get,
    row_count_capped,
)
from smsconsole.services import list_column_choice_save

CURSOR_PARAM = "cursor"
SORT_PARAM = "sort"
PER_PAGE = 50
# `?background=1` on an export: write it as a background job whatever its size.
BACKGROUND_PARAM = "background"


def console_account(request):
    """The request's console account as a plain model instance (or None)."""
    lazy = request.console_account
    if getattr(lazy, "_wrapped", None) is empty:
        bool(lazy)  # evaluate the lazy object
    return getattr(lazy, "_wrapped", lazy)


class ConsoleMixin(AccessMixin):
    """Requires a login and an account to look at; sets `self.account`. Everything is scoped to it."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.account = console_account(request)
        if self.account is None:
            return render(request, "console/no_account.html", status=403)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["account"] = self.account
        context["time_zone_name"] = self.account.time_zone
        return context


class FilteredListMixin(ConsoleMixin):
    """Binds the list's FilterSet to the query string and the account."""

    filterset_class = None
    time_field = ""

    def get_filterset_kwargs(self, filterset_class):
        data = filterset_class.with_period_preset(self.request.GET, account=self.account)
        return {"data": data, "account": self.account, "request": self.request}

    def is_descending(self) -> bool:
        return self.request.GET.get(SORT_PARAM, f"-{self.time_field}") != self.time_field


class KeysetListView(FilteredListMixin, SingleTableMixin, FilterView):
    """A filtered table paged by keyset: next / previous, no counting, no OFFSET.

    An invalid filter or cursor renders the page with the error and an empty table, never a 500.
    """

    table_pagination = False
    export_url_name = ""

    def get(self, request, *args, **kwargs):
        self.filterset = self.get_filterset(self.get_filterset_class())
        self.page = None
        self.cursor_error = ""
        if self.filterset.is_valid():
            paginator = KeysetPaginator(
                self.filterset.qs,
                time_field=self.time_field,
                per_page=PER_PAGE,
                descending=self.is_descending(),
            )
            try:
                self.page = paginator.page(request.GET.get(CURSOR_PARAM))
            except InvalidCursor:
                self.cursor_error = _("This page link is no longer valid. Showing the list from its start.")
                self.page = paginator.page(None)
        self.object_list = self.page.object_list if self.page else []
        context = self.get_context_data(filter=self.filterset, object_list=self.object_list)
        return self.render_to_response(context)

    def post(self, request, *args, **kwargs):
        """The column chooser: remember which optional columns this user shows, then the list again."""
        table_class = self.get_table_class()
        if request.POST.get("reset"):
            columns = None
        else:
            chosen = set(request.POST.getlist("column"))
            columns = {name: name in chosen for name in table_class.choosable_columns}
        list_column_choice_save(user=request.user, list_name=table_class.list_name, columns=columns)
        return HttpResponseRedirect(request.get_full_path())

    def column_choice(self) -> dict[str, bool]:
        if not hasattr(self, "_column_choice"):
            list_name = self.get_table_class().list_name
            self._column_choice = list_column_choice_get(user=self.request.user, list_name=list_name)
        return self._column_choice

    def get_table_kwargs(self):
        kwargs = super().get_table_kwargs()
        hidden = self.get_table_class().hidden_columns(self.column_choice())
        kwargs["exclude"] = [*kwargs.get("exclude", ()), *hidden]
        return kwargs

    def get_table(self, **kwargs):
        table = self.get_table_class()(data=self.object_list, request=self.request, **self.get_table_kwargs())
        table.sort_field = self.time_field
        table.sort_descending = self.is_descending()
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop(CURSOR_PARAM, None)
        export = reverse(self.export_url_name)
        context.update(
            page=self.page,
            cursor_error=self.cursor_error,
            is_filter_valid=self.filterset.is_valid(),
            export_url=f"{export}?{query.urlencode()}",
            export_bom_url=f"{export}?{_with(query, bom='1').urlencode()}",
            clear_url=self.request.path,
            column_choices=self.get_table_class().column_choices(self.column_choice()),
            period_presets=self.filterset.period_presets(),
        )
        return context


def _with(query, **values):
    query = query.copy()
    for key, value in values.items():
        query[key] = value
    return query


class CsvExportView(FilteredListMixin, FilterView):
    """The list's current filter and order as a streamed CSV; `bom=1` for Excel.

    A filter of more than SMS_EXPORT_STREAM_MAX_ROWS rows (or `background=1`) becomes a background
    export job instead (smsconsole.exports): the answer is a redirect to the job's page."""

    csv_columns = ()
    export_name = "export"
    list_url_name = ""

    def get(self, request, *args, **kwargs):
        self.filterset = self.get_filterset(self.get_filterset_class())
        if not self.filterset.is_valid():
            query = request.GET.copy()
            query.pop("bom", None)
            query.pop(BACKGROUND_PARAM, None)
            return HttpResponseRedirect(f"{reverse(self.list_url_name)}?{query.urlencode()}")
        with_bom = request.GET.get("bom") == "1"
        list_name = export_list_name_for(url_name=getattr(request.resolver_match, "view_name", ""))
        if list_name and (request.GET.get(BACKGROUND_PARAM) == "1" or self.is_too_big_to_stream()):
            query = request.GET.copy()
            query.pop(BACKGROUND_PARAM, None)
            job = export_job_create(
                account=self.account,
                requested_by=request.user,
                list_name=list_name,
                query=query.urlencode(),
                with_bom=with_bom,
                language=get_language(),
            )
            return redirect("exports:export-detail", job_id=job.pk)
        # Read when the client takes the lines, not here: the answer starts before the first row.
        return csv_streaming_response(
            self.export_rows(),
            columns=self.get_csv_columns(),
            zone=self.account.zone,
            filename=export_filename(
                export_name=self.export_name,
                account_slug=self.account.slug,
                at=timezone.now(),
                zone=self.account.zone,
            ),
            with_bom=with_bom,
        )

    def is_too_big_to_stream(self) -> bool:
        limit = settings.SMS_EXPORT_STREAM_MAX_ROWS
        return row_count_capped(queryset=self.filterset.qs, limit=limit) > limit

    def export_rows(self):
        """The bound filter's rows in the list's order, as the CSV columns read them (lazily, in chunks)."""
        columns = self.get_csv_columns()
        paginator = KeysetPaginator(
            self.filterset.qs, time_field=self.time_field, descending=self.is_descending()
        )
        return paginator.values_in_chunks(
            csv_fields(columns), expressions=csv_expressions(columns), chunk_size=csv_export.EXPORT_CHUNK_SIZE
        )

    def get_csv_columns(self):
        return self.csv_columns

    @classmethod
    def for_export_job(cls, *, account, user, query: str) -> "CsvExportView":
        """This export bound to a stored query string rather than a request (a background job's).

        The filter, the order and the columns then come from the same methods as in a request, so
        the job's file is the CSV the request would have streamed."""
        request = HttpRequest()
        request.method = "GET"
        request.GET = QueryDict(query)
        request.user = user if user is not None else AnonymousUser()
        view = cls()
        view.setup(request)
        view.account = account
        view.filterset = view.get_filterset(view.get_filterset_class())
        return view


@login_required
def home(request):
    return redirect("delivery:message-list")


@require_POST
@login_required
def account_switch(request):
    """Staff choose which account the console shows; kept in the session, checked on every use."""
    if not request.user.is_staff:
        return render(request, "console/no_account.html", status=403)
    try:
        account_id = int(request.POST.get("account", ""))
    except ValueError:
        return redirect("delivery:message-list")
    account = account_list_for_staff().filter(pk=account_id).first()
    if account is None:
        return redirect("delivery:message-list")
    request.session[STAFF_ACCOUNT_SESSION_KEY] = account.pk
    return redirect("delivery:message-list")
