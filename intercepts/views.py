from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from intercepts.filters import InterceptFilter
from intercepts.models import InterceptEvent
from intercepts.selectors import (
    intercept_event_actor_label,
    intercept_get_for,
    intercept_history,
    intercept_is_customer_deletable,
    intercept_list_for,
    intercept_own_get,
    intercept_rules_by_code,
)
from intercepts.services import intercepts_delete
from intercepts.tables import InterceptTable, return_code_label
from smsconsole import clock
from smsconsole.csv_export import CsvColumn
from smsconsole.phone import phone_display
from smsconsole.views import ConsoleMixin, CsvExportView, KeysetListView


def annotate_for_display(intercepts, *, account) -> None:
    """Give each record its history (actors named only from the account's own activity) and whether
    the account may delete it. Two queries for the whole page."""
    history = intercept_history(intercept_ids=[intercept.pk for intercept in intercepts])
    rules = intercept_rules_by_code()
    for intercept in intercepts:
        events = history.get(intercept.pk, [])
        for event in events:
            event.actor_label = intercept_event_actor_label(event=event, account=account)
        intercept.history_events = events
        intercept.is_own = intercept.account_id == account.pk
        intercept.is_deletable = intercept_is_customer_deletable(
            intercept=intercept, account=account, rules=rules
        )


class InterceptListView(KeysetListView):
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
        return table


class InterceptExportView(CsvExportView):
    filterset_class = InterceptFilter
    time_field = "intercepted_at"
    export_name = "intercepts"
    list_url_name = "intercepts:intercept-list"

    def get_queryset(self):
        return intercept_list_for(account=self.account)

    def get_csv_columns(self):
        zone = self.account.time_zone
        account_id = self.account.pk
        return [
            CsvColumn(gettext_lazy("Phone number"), lambda i: i.phone),
            CsvColumn(gettext_lazy("Scope"), lambda i: i.get_scope_display()),
            CsvColumn(gettext_lazy("Return code"), lambda i: return_code_label(i.return_code)),
            CsvColumn(gettext_lazy("Reason"), lambda i: i.reason, is_untrusted_text=True),
            CsvColumn(f"{_('Intercept time')} ({zone})", lambda i: i.intercepted_at),
            CsvColumn(f"{_('Expiry')} ({zone})", lambda i: i.expires_at),
            CsvColumn(
                gettext_lazy("Origin"),
                lambda i: _("Your account") if i.account_id == account_id else _("Another account (global)"),
            ),
        ]


class InterceptDetailView(ConsoleMixin, TemplateView):
    template_name = "intercepts/intercept_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        intercept = intercept_get_for(account=self.account, intercept_id=kwargs["intercept_id"])
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
    """GET asks for confirmation; POST deletes (audited). Only records the account originated."""

    template_name = "intercepts/intercept_confirm_delete.html"

    def get_intercept(self):
        intercept = intercept_own_get(account=self.account, intercept_id=self.kwargs["intercept_id"])
        if intercept is None:
            raise Http404
        if not intercept_is_customer_deletable(intercept=intercept, account=self.account):
            raise Http404
        return intercept

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        intercept = self.get_intercept()
        context.update(
            intercept=intercept,
            phone_display=phone_display(intercept.phone),
            return_code_label=return_code_label(intercept.return_code),
        )
        return context

    def post(self, request, *args, **kwargs):
        intercept = self.get_intercept()
        deleted = intercepts_delete(
            intercepts=[intercept],
            source=InterceptEvent.Source.CONSOLE,
            actor_user=request.user,
            actor_account=self.account,
        )
        if deleted:
            messages.success(
                request,
                _("The intercept record for %(phone)s was deleted.")
                % {"phone": phone_display(intercept.phone)},
            )
        return redirect("intercepts:intercept-list")
