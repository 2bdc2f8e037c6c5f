"""The delivery dashboard page: charts (static/delivery/dashboard.js, data in a json_script element:
the Content-Security-Policy forbids inline script) over the same figures as plain HTML tables."""

from django.http import Http404
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from delivery.dashboard import Dashboard, LatencyFigures, dashboard_get
from delivery.models import LatencyStage, MessageStatus, Reason
from smsconsole import clock
from smsconsole.views import ConsoleMixin

SCOPE_PARAM = "scope"
PLATFORM_SCOPE = "platform"
STATUS_ORDER = [
    MessageStatus.DELIVERED,
    MessageStatus.AWAITING_RECEIPT,
    MessageStatus.REQUESTING,
    MessageStatus.SEND_FAILED,
    MessageStatus.PROCESSING_FAILED,
]


def duration_label(milliseconds: float | None) -> str:
    """A duration as people read it: 850 ms, 12.3 s, 4.5 min, 2.1 h."""
    if milliseconds is None:
        return "—"
    seconds = milliseconds / 1000
    if seconds < 1:
        return _("%(value)d ms") % {"value": round(milliseconds)}
    if seconds < 60:
        return _("%(value).1f s") % {"value": seconds}
    if seconds < 3600:
        return _("%(value).1f min") % {"value": seconds / 60}
    return _("%(value).1f h") % {"value": seconds / 3600}


def rate_label(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def reason_label(status: str, reason: str) -> str:
    return f"{MessageStatus(status).label}: {Reason(reason).label}"


def latency_rows(figures: list[LatencyFigures]) -> list[dict]:
    rows = []
    for entry in figures:
        row = {"label": entry.label}
        for stage in LatencyStage:
            row[stage.value] = {
                "count": entry.count(stage),
                "median": duration_label(entry.median_ms(stage)),
                "p95": duration_label(entry.p95_ms(stage)),
            }
        rows.append(row)
    return rows


def chart_data(dashboard: Dashboard) -> dict:
    """What the charts draw, labels in the request's language."""
    return {
        "days": [day.day.strftime("%m/%d") for day in dashboard.days],
        "statuses": [
            {
                "key": status.value,
                "label": str(status.label),
                "counts": [d.counts.get(status, 0) for d in dashboard.days],
            }
            for status in STATUS_ORDER
        ],
        "rate": {
            "label": _("Delivery rate (%)"),
            "values": [
                None if d.delivery_rate is None else round(d.delivery_rate * 100, 2) for d in dashboard.days
            ],
        },
        "reasons": [
            {"label": reason_label(*pair), "counts": [d.reasons.get(pair, 0) for d in dashboard.days]}
            for pair in dashboard.reasons
        ],
        "axes": {"messages": _("Messages"), "rate": _("Delivery rate (%)")},
    }


class DashboardView(ConsoleMixin, TemplateView):
    template_name = "delivery/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        is_platform = self.request.GET.get(SCOPE_PARAM) == PLATFORM_SCOPE
        if is_platform and not self.request.user.is_staff:
            raise Http404
        dashboard = dashboard_get(account=None if is_platform else self.account, now=clock.now())
        statuses = [(status.value, status.label) for status in STATUS_ORDER]
        context.update(
            dashboard=dashboard,
            is_platform=is_platform,
            zone_name=dashboard.period.zone.key,
            statuses=statuses,
            day_rows=[
                {
                    "day": day.day,
                    "counts": [day.counts.get(status, 0) for status, _label in statuses],
                    "total": day.total,
                    "rate": rate_label(day.delivery_rate),
                }
                for day in reversed(dashboard.days)
            ],
            totals=[dashboard.status_totals().get(status, 0) for status, _label in statuses],
            reason_columns=[reason_label(*pair) for pair in dashboard.reasons],
            reason_rows=[
                {"day": day.day, "counts": [day.reasons.get(pair, 0) for pair in dashboard.reasons]}
                for day in reversed(dashboard.days)
                if day.reasons
            ],
            latency_by_channel=latency_rows(dashboard.latency_by_channel),
            latency_by_template=latency_rows(dashboard.latency_by_template),
            chart_data=chart_data(dashboard),
            platform_param=f"{SCOPE_PARAM}={PLATFORM_SCOPE}",
        )
        return context
