import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db.models import F, Q
from django.utils import timezone

from delivery.models import STATUS_REASONS, Message, MessageEvent, MessageStatus
from intercepts.models import Intercept
from replies.models import Reply
from smsconsole.demo import Progress
from smsconsole.models import Account


def load_small_demo(**options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_demo", messages=1500, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# Transactional: the pipeline runs after each commit, as it does in `make run`. One load, several
# checks: a demo load is the slowest thing in the suite.
@pytest.mark.django_db(transaction=True)
def test_demo_replays_traffic_through_the_pipeline_once():
    out, err = load_small_demo(host="127.0.0.1:8100")
    assert "demo / demo-password" in out
    assert "Console: http://127.0.0.1:8100/" in out and "8000" not in out
    assert Account.objects.count() == 3
    assert 1200 < Message.objects.count() < 2200
    assert Intercept.objects.exists() and Reply.objects.exists()
    # Every message went through the send log, from the request on.
    assert not Message.objects.exclude(events__kind="requested").exists()

    # The biggest account shows every status and every reason, however small the demo.
    acme = Account.objects.get(slug="acme-shop")
    present = set(Message.objects.filter(account=acme).values_list("status", "reason"))
    wanted = {(status, reason) for status in MessageStatus for reason in STATUS_REASONS.get(status, ("",))}
    assert wanted - present == set()

    # The update time is the latest time of a message, and its send log does not run past it.
    assert not Message.objects.filter(
        Q(updated_at__lt=F("requested_at"))
        | Q(updated_at__lt=F("channel_delivered_at"))
        | Q(updated_at__lt=F("receipt_at"))
    ).exists()
    about_the_message = MessageEvent.objects.exclude(kind__in=["reply", "receipt_ignored"])
    assert not about_the_message.filter(at__gt=F("message__updated_at")).exists()
    # A receipt is logged when it arrives, never before the handset got the message.
    for event in MessageEvent.objects.filter(kind="receipt").only("at", "detail"):
        assert dt.datetime.fromisoformat(event.detail["done_at"]) <= event.at

    # No account is left stuck: the outage is over, and what still waits is due again within the hour.
    assert set(Account.objects.values_list("default_channel__code", flat=True)) == {"sim"}
    waiting = Message.objects.filter(status=MessageStatus.REQUESTING)
    assert waiting.exists()
    assert not waiting.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__gt=timezone.now() + dt.timedelta(hours=1))
    ).exists()

    # Progress is a few plain lines when stderr is not a terminal, never one line per update.
    lines = [line for line in err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 5 and all("messages" in line for line in lines)
    assert "\x1b[" not in err  # no colour codes: not painted as an error

    out, _ = load_small_demo()
    assert "already present" in out
    assert Account.objects.count() == 3


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal():
    out = FakeTerminal()
    progress = Progress(1000, out=out)
    for _ in range(100):
        progress.advance(10)
    progress.finish()
    text = out.getvalue()
    assert "1000/1000" in text
    # Redrawn in place (carriage returns / cursor moves), not 100 lines.
    assert text.count("\n") <= 3


def test_progress_prints_a_line_a_quarter_elsewhere():
    out = io.StringIO()
    progress = Progress(1000, out=out)
    for _ in range(100):
        progress.advance(10)
    progress.finish()
    assert out.getvalue().splitlines() == [
        "  250 of about 1,000 messages",
        "  500 of about 1,000 messages",
        "  750 of about 1,000 messages",
        "  1,000 of about 1,000 messages",
    ]
