from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import TemplateView

from intercepts.filters import InterceptFilter
from intercepts.models import Scope
from intercepts.selectors import (
    BULK_DELETE_LIMIT,
    intercept_event_actor_label,
    intercept_get_for,
    intercept_history,
    intercept_is_deletable_now,
    intercept_list_for,
    intercept_rules_by_code,
    intercepts_deletable_now,
)
from intercepts.services import intercepts_delete_by_operator
from intercepts.tables import InterceptTable, return_code_label
from smsconsole import clock
from smsconsole.csv_export import field_column, time_column
from smsconsole.labels import choice_labels
from smsconsole.phone import InvalidPhoneNumber, phone_display, phone_to_e164
from smsconsole.views import ConsoleMixin, CsvExportView, KeysetListView

# The console's list opens on the records that block something now; `?state=` (All) shows every one.
DEFAULT_STATE = "live"
SELECTION_PARAM = "intercept"


def annotate_for_display(intercepts, *, account) -> None:
    """Give each record its history (actors named only from the account's own activity), whether
    it is the account's own, and whether the console offers Delete. Two queries for the whole page."""
    history = intercept_history(intercept_ids=[intercept.pk for intercept in intercepts])
    rules = intercept_rules_by_code()
    now = clock.now()
    for intercept in intercepts:
        events = history.get(intercept.pk, [])
        for event in events:
            event.actor_label = intercept_event_actor_label(event=event, account=account)
        intercept.history_events = events
        intercept.is_own = intercept.account_id == account.pk
        intercept.is_deletable = intercept_is_deletable_now(
            intercept=intercept, account=account, at=now, rules=rules
        )


def looked_up_phone(request, account) -> str:
    """The exact number the operator looked up on the way to a record (`?phone=`), as E.164, or ""."""
    raw = request.GET.get("phone", "")
    if not raw:
        return ""
    try:
        return phone_to_e164(raw, default_region=account.default_region)
    except InvalidPhoneNumber:
        return ""


class InterceptFilterMixin:
    """The console's intercept filter: live records unless the query string names a state."""

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        if "state" not in kwargs["data"]:
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"]["state"] = DEFAULT_STATE
        return kwargs


class InterceptListView(InterceptFilterMixin, KeysetListView):
    template_name = "intercepts/intercept_list.html"
    filterset_class = InterceptFilter
    table_class = InterceptTable
    time_field = "intercepted_at"
    export_url_name = "intercepts:intercept-export"

    def get_queryset(self):
        return intercept_list_for(account=self.account)

    def get_table(self, **kwargs):
        annotate_for_display(self.object_list, account=self.account)
        table = super().get_table(**kwargs)
        table.now = clock.now()
        table.account_id = self.account.pk
        if self.filterset.is_valid():
            table.looked_up_phone = self.filterset.form.cleaned_data.get("phone") or ""
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["has_selectable"] = any(record.is_deletable for record in self.object_list)
        context["selection_param"] = SELECTION_PARAM
        return context


class InterceptExportView(InterceptFilterMixin, CsvExportView):
    filterset_class = InterceptFilter
    time_field = "intercepted_at"
    export_name = "intercepts"
    list_url_name = "intercepts:intercept-list"

    def get_queryset(self):
        return intercept_list_for(account=self.account)

    def get_csv_columns(self):
        zone = self.account.time_zone
        account_id = self.account.pk
        scopes = choice_labels(Scope)
        origins = {True: _("Your account"), False: _("Another account (global)")}
        return [
            field_column(gettext_lazy("Phone number"), "phone"),
            field_column(gettext_lazy("Scope"), "scope", format=lambda scope: scopes.get(scope, scope)),
            field_column(gettext_lazy("Return code"), "return_code", format=return_code_label),
            field_column(gettext_lazy("Reason"), "reason", is_untrusted_text=True),
            time_column(f"{_('Intercept time')} ({zone})", "intercepted_at", zone=self.account.zone),
            time_column(f"{_('Expiry')} ({zone})", "expires_at", zone=self.account.zone),
            field_column(
                gettext_lazy("Origin"), "account_id", format=lambda owner: origins[owner == account_id]
            ),
        ]


class InterceptDetailView(ConsoleMixin, TemplateView):
    template_name = "intercepts/intercept_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        intercept = intercept_get_for(
            account=self.account,
            intercept_id=kwargs["intercept_id"],
            looked_up_phone=looked_up_phone(self.request, self.account),
        )
        if intercept is None:
            raise Http404
        annotate_for_display([intercept], account=self.account)
        context.update(
            intercept=intercept,
            phone_display=phone_display(intercept.phone),
            return_code_label=return_code_label(intercept.return_code),
            is_live=intercept.is_live(clock.now()),
        )
        return context


class InterceptDeleteView(ConsoleMixin, TemplateView):
    """GET asks for confirmation; POST deletes (audited). Only live records the account originated."""

    template_name = "intercepts/intercept_confirm_delete.html"

    def get_intercept(self):
        intercept = intercept_get_for(account=self.account, intercept_id=self.kwargs["intercept_id"])
        if intercept is None or intercept.account_id != self.account.pk:
            raise Http404
        annotate_for_display([intercept], account=self.account)
        return intercept

    def get(self, request, *args, **kwargs):
        intercept = self.get_intercept()
        if not intercept.is_deletable:
            return self.refuse(intercept)
        return self.render_to_response(
            self.get_context_data(
                intercept=intercept,
                phone_display=phone_display(intercept.phone),
                return_code_label=return_code_label(intercept.return_code),
            )
        )

    def post(self, request, *args, **kwargs):
        intercept = self.get_intercept()
        if not intercept.is_deletable:
            return self.refuse(intercept)
        if intercepts_delete_by_operator(
            account=self.account, intercept_ids=[intercept.pk], actor_user=request.user
        ):
            messages.success(
                request,
                _("The intercept record for %(phone)s was deleted.")
                % {"phone": phone_display(intercept.phone)},
            )
        return redirect("intercepts:intercept-list")

    def refuse(self, intercept):
        if intercept.is_live(clock.now()):
            # The rule of this return code leaves clearing to support: as absent as another account's.
            raise Http404
        messages.info(
            self.request,
            _("The intercept record for %(phone)s has expired: it no longer blocks anything.")
            % {"phone": phone_display(intercept.phone)},
        )
        return redirect("intercepts:intercept-list")


class InterceptBulkDeleteView(ConsoleMixin, TemplateView):
    """Several of the account's records at once: GET (the list's selection) asks, POST deletes.

    Each deletion is audited on its own, as if deleted one by one. Records that cannot be deleted
    (another account's, expired, or cleared only by support) are left alone and counted."""

    template_name = "intercepts/intercept_confirm_bulk_delete.html"

    def selected_ids(self, data) -> list[int]:
        ids = []
        for raw in data.getlist(SELECTION_PARAM)[:BULK_DELETE_LIMIT]:
            if raw.isdigit() and 0 < int(raw) < 2**63:
                ids.append(int(raw))
        return list(dict.fromkeys(ids))

    def get(self, request, *args, **kwargs):
        ids = self.selected_ids(request.GET)
        records = intercepts_deletable_now(account=self.account, intercept_ids=ids, at=clock.now())
        if not records:
            messages.error(request, _("Select at least one record your account may delete."))
            return redirect("intercepts:intercept-list")
        for record in records:
            record.phone_display = phone_display(record.phone)
            record.return_code_label = return_code_label(record.return_code)
        return self.render_to_response(
            self.get_context_data(
                records=records, skipped=len(ids) - len(records), selection_param=SELECTION_PARAM
            )
        )

    def post(self, request, *args, **kwargs):
        ids = self.selected_ids(request.POST)
        deleted = intercepts_delete_by_operator(
            account=self.account, intercept_ids=ids, actor_user=request.user
        )
        if deleted:
            messages.success(
                request,
                ngettext(
                    "%(count)d intercept record was deleted.",
                    "%(count)d intercept records were deleted.",
                    deleted,
                )
                % {"count": deleted},
            )
        if deleted < len(ids):
            messages.info(
                request,
                ngettext(
                    "%(count)d selected record was not deleted: it had expired, been deleted already, "
                    "or can only be cleared by support.",
                    "%(count)d selected records were not deleted: they had expired, been deleted already, "
                    "or can only be cleared by support.",
                    len(ids) - deleted,
                )
                % {"count": len(ids) - deleted},
            )
        return redirect("intercepts:intercept-list")
