import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from callbacks.models import AttemptOutcome
from smsconsole.tables import ConsoleTable, TimeColumn

OUTCOME_BADGES = {
    AttemptOutcome.OK: "status-delivered",
    AttemptOutcome.FAILED: "status-failed",
    AttemptOutcome.GIVEN_UP: "status-failed",
    AttemptOutcome.REPLAY: "status-warn",
}


class CallbackAttemptTable(ConsoleTable):
    attempted_at = TimeColumn(verbose_name=_("Time"), orderable=True)
    outcome = tables.Column(verbose_name=_("Outcome"))
    event_count = tables.Column(verbose_name=_("Events"))
    response_code = tables.Column(verbose_name=_("Response code"))
    latency_ms = tables.Column(verbose_name=_("Latency (ms)"))
    response_excerpt = tables.Column(verbose_name=_("Response"), attrs={"td": {"class": "wrap"}})
    error = tables.Column(verbose_name=_("Error"), attrs={"td": {"class": "wrap"}})
    url = tables.Column(verbose_name=_("Callback URL"), attrs={"td": {"class": "wrap narrow"}})
    actions = tables.Column(
        verbose_name="", accessor="pk", empty_values=(), attrs={"td": {"class": "actions"}}
    )

    list_name = "callback-attempts"
    choosable_columns = ("response_excerpt", "url")

    class Meta(ConsoleTable.Meta):
        empty_text = _("No callback was attempted in this period.")

    def render_outcome(self, record):
        label = record.get_outcome_display()
        badge = format_html('<span class="badge {}">{}</span>', OUTCOME_BADGES.get(record.outcome, ""), label)
        if record.is_test:
            return format_html("{} {}", badge, _("(test event)"))
        if record.is_replay and record.outcome != AttemptOutcome.REPLAY:
            return format_html("{} {}", badge, _("(replay)"))
        return badge

    def render_actions(self, record):
        # One event: a button that sends it again (a POST with the page's CSRF token).
        if record.event_count != 1 or not record.event_ids or record.is_test:
            return ""
        url = reverse("callbacks:event-replay", kwargs={"event_id": record.event_ids[0]})
        return format_html(
            '<form method="post" action="{}" class="inline"><input type="hidden" name="csrfmiddlewaretoken" '
            'value="{}"><button type="submit" class="button">{}</button></form>',
            url,
            get_token(self.request),
            _("Replay"),
        )
