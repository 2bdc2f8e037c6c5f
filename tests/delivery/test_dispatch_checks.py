"""The eight platform checks: each alone, and the order in which they are applied."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import ApprovalStatus, Channel, Message, MessageStatus, Reason
from intercepts.models import Scope
from smsconsole.models import Account
from tests.factories import (
    FrequencyRuleFactory,
    InterceptFactory,
    KeywordFilterFactory,
    MessageFactory,
    TemplateFactory,
    UnsubscribeFactory,
)
from tests.pipeline.helpers import events, send

pytestmark = pytest.mark.django_db

PHONE = "+819011112222"


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Hello {{name}}, your code is {{code}}")


def failed_with(message, reason):
    return message.status == MessageStatus.PROCESSING_FAILED and message.reason == reason


def test_global_intercept_blocks_every_account(api, account, other_account, template):
    record = InterceptFactory(phone=PHONE, scope=Scope.GLOBAL, account=other_account)
    [message] = send(api, template, PHONE)
    assert failed_with(message, Reason.GLOBAL_INTERCEPT)
    assert message.blocking_intercept_id == record.pk
    log = message.events.get(kind="check_failed").detail
    assert log["intercept_id"] == record.pk and log["reason"] == "global_intercept"


def test_local_intercept_blocks_only_its_originator(api, other_api, account, other_account, template):
    record = InterceptFactory(phone=PHONE, scope=Scope.LOCAL, account=account)
    [blocked] = send(api, template, PHONE)
    assert failed_with(blocked, Reason.LOCAL_INTERCEPT)
    assert blocked.blocking_intercept_id == record.pk
    [sent] = send(other_api, TemplateFactory(account=other_account, body="hi"), PHONE)
    assert sent.status == MessageStatus.DELIVERED


def test_expired_intercept_does_not_block_even_before_it_is_tidied(api, template):
    now = timezone.now()
    InterceptFactory(
        phone=PHONE, intercepted_at=now - dt.timedelta(days=2), expires_at=now - dt.timedelta(seconds=1)
    )
    [message] = send(api, template, PHONE)
    assert message.status == MessageStatus.DELIVERED


def test_unsubscribed_number_is_not_sent(api, account, other_api, other_account, template):
    UnsubscribeFactory(account=account, phone=PHONE)
    [message] = send(api, template, PHONE)
    assert failed_with(message, Reason.UNSUBSCRIBED)
    [theirs] = send(other_api, TemplateFactory(account=other_account, body="hi"), PHONE)
    assert theirs.status == MessageStatus.DELIVERED


def test_keyword_filter_matches_after_nfkc_and_case_folding(api, account):
    KeywordFilterFactory(word="casino")
    KeywordFilterFactory(word="ＢＯＮＵＳ")  # full width, as staff typed it
    template = TemplateFactory(account=account, body="{{text}}")
    blocked_plain, blocked_wide, blocked_case, clean = send(
        api,
        template,
        {"to": "+819011110001", "vars": {"text": "Best CASINO in town"}},
        {"to": "+819011110002", "vars": {"text": "Ｃａｓｉｎｏ night"}},
        {"to": "+819011110003", "vars": {"text": "get your bonus"}},
        {"to": "+819011110004", "vars": {"text": "your parcel is here"}},
    )
    assert failed_with(blocked_plain, Reason.KEYWORD_FILTERED)
    assert blocked_plain.events.get(kind="check_failed").detail["keyword"] == "casino"
    assert failed_with(blocked_wide, Reason.KEYWORD_FILTERED)
    assert failed_with(blocked_case, Reason.KEYWORD_FILTERED)
    assert clean.status == MessageStatus.DELIVERED


def test_inactive_keywords_do_not_filter(api, account):
    KeywordFilterFactory(word="casino", is_active=False)
    [message] = send(api, TemplateFactory(account=account, body="casino"), PHONE)
    assert message.status == MessageStatus.DELIVERED


def test_many_keywords_still_match(api, account):
    for i in range(2000):
        KeywordFilterFactory(word=f"banned-word-{i}")
    [message] = send(api, TemplateFactory(account=account, body="x banned-word-1999 y"), PHONE)
    assert failed_with(message, Reason.KEYWORD_FILTERED)


def test_missing_variable_is_named_in_the_log(api, template):
    [message] = send(api, template, {"to": PHONE, "vars": {"name": "Sato", "code": ""}})
    assert failed_with(message, Reason.VARIABLE_ERROR)
    assert message.events.get(kind="check_failed").detail["missing"] == ["code"]


@pytest.mark.parametrize("approval", [ApprovalStatus.PENDING, ApprovalStatus.REJECTED])
def test_unapproved_template_is_noncompliant(api, account, approval):
    template = TemplateFactory(account=account, body="hi", approval_status=approval)
    [message] = send(api, template, PHONE)
    assert failed_with(message, Reason.CONTENT_NONCOMPLIANT)
    assert message.events.get(kind="check_failed").detail["problem"] == "template_not_approved"


def test_empty_rendered_content_is_noncompliant(api, account):
    template = TemplateFactory(account=account, body="{{text}}")
    [message] = send(api, template, {"to": PHONE, "vars": {"text": "   "}})
    assert failed_with(message, Reason.CONTENT_NONCOMPLIANT)
    assert message.events.get(kind="check_failed").detail["problem"] == "empty_content"


def test_more_than_ten_segments_is_noncompliant(api, account):
    template = TemplateFactory(account=account, body="{{text}}")
    ok, too_long = send(
        api,
        template,
        {"to": "+819011110001", "vars": {"text": "a" * 153 * 10}},
        {"to": "+819011110002", "vars": {"text": "a" * (153 * 10 + 1)}},
    )
    assert ok.status == MessageStatus.DELIVERED and ok.segments == 10
    assert failed_with(too_long, Reason.CONTENT_NONCOMPLIANT)
    assert too_long.segments == 11


def test_default_frequency_allows_one_per_minute(api, template):
    first, second = send(api, template, PHONE, PHONE)
    assert first.status == MessageStatus.DELIVERED
    assert failed_with(second, Reason.FREQUENCY_EXCEEDED)
    detail = second.events.get(kind="check_failed").detail
    assert detail == {
        "reason": "frequency_exceeded",
        "window_seconds": 60,
        "max_messages": 1,
        "sent_in_window": 1,
    }


def test_frequency_counts_only_messages_handed_to_a_channel(api, account, template):
    now = timezone.now()
    # Handed over 30 s ago: counts. Failed in processing: never reached a channel, does not count.
    MessageFactory(
        account=account, phone=PHONE, channel_delivered_at=None, status="processing_failed", reason="other"
    )
    [blocked] = send(api, template, PHONE)
    assert blocked.status == MessageStatus.DELIVERED
    MessageFactory(
        account=account,
        phone="+819011113333",
        requested_at=now,
        channel_delivered_at=now - dt.timedelta(seconds=30),
    )
    [second] = send(api, template, "+819011113333")
    assert failed_with(second, Reason.FREQUENCY_EXCEEDED)


def test_account_rules_replace_the_defaults(api, account, other_api, other_account, template):
    FrequencyRuleFactory(account=account, window_seconds=3600, max_messages=3)
    sent = send(api, template, PHONE, PHONE, PHONE, PHONE)
    assert [m.status for m in sent[:3]] == [MessageStatus.DELIVERED] * 3
    assert failed_with(sent[3], Reason.FREQUENCY_EXCEEDED)
    theirs = send(other_api, TemplateFactory(account=other_account, body="hi"), PHONE, PHONE)
    assert failed_with(theirs[1], Reason.FREQUENCY_EXCEEDED)  # defaults: 1 per minute


def test_frequency_is_per_account(api, other_api, other_account, template):
    [mine] = send(api, template, PHONE)
    [theirs] = send(other_api, TemplateFactory(account=other_account, body="hi"), PHONE)
    assert mine.status == theirs.status == MessageStatus.DELIVERED


def test_no_channel_is_other_with_the_cause(api, account, template):
    Account.objects.filter(pk=account.pk).update(default_channel=None)
    [message] = send(api, template, PHONE)
    assert failed_with(message, Reason.OTHER)
    assert "no channel" in message.events.get(kind="check_failed").detail["cause"]


def test_inactive_channel_is_other(api, account, template):
    Channel.objects.filter(pk=account.default_channel_id).update(is_active=False)
    [message] = send(api, template, PHONE)
    assert failed_with(message, Reason.OTHER)


def test_checks_run_in_design_order(api, account, other_account):
    """A message failing every check reports the first; removing causes one by one reveals the next."""
    Account.objects.filter(pk=account.pk).update(default_channel=None)
    KeywordFilterFactory(word="casino")
    template = TemplateFactory(
        account=account, body="casino {{code}}", approval_status=ApprovalStatus.PENDING
    )
    FrequencyRuleFactory(account=account, window_seconds=60, max_messages=1)
    now = timezone.now()
    MessageFactory(account=account, phone=PHONE, channel_delivered_at=now, requested_at=now)
    global_record = InterceptFactory(phone=PHONE, scope=Scope.GLOBAL, account=other_account)
    local_record = InterceptFactory(phone=PHONE, scope=Scope.LOCAL, account=account)
    unsubscribe = UnsubscribeFactory(account=account, phone=PHONE)

    def next_reason():
        [message] = send(api, template, {"to": PHONE, "vars": {}})
        assert events(message) == ["requested", "check_failed"]
        return message.reason

    assert next_reason() == Reason.GLOBAL_INTERCEPT
    global_record.delete()
    assert next_reason() == Reason.LOCAL_INTERCEPT
    local_record.delete()
    assert next_reason() == Reason.UNSUBSCRIBED
    unsubscribe.delete()
    assert next_reason() == Reason.KEYWORD_FILTERED
    template.body = "hello {{code}}"
    template.save()
    assert next_reason() == Reason.VARIABLE_ERROR
    template.body = "hello"
    template.save()
    assert next_reason() == Reason.CONTENT_NONCOMPLIANT
    template.approval_status = ApprovalStatus.APPROVED
    template.save()
    assert next_reason() == Reason.FREQUENCY_EXCEEDED
    account.frequency_rules.all().delete()
    FrequencyRuleFactory(account=account, window_seconds=1, max_messages=100)
    assert next_reason() == Reason.OTHER


@pytest.mark.postgresql  # advisory locks
def test_a_number_another_worker_is_dispatching_waits_for_it(api, account, template):
    # Another worker holds the number from its frequency check until its hand-over is recorded;
    # checking now would count that hand-over as not made. (PostgreSQL: SQLite has one writer.)
    import psycopg
    from django.db import connection

    from delivery.services.dispatch import due_messages_dispatch
    from smsconsole import clock
    from smsconsole.locks import _lock_id

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other_worker:
        lock = _lock_id(f"dispatch:{account.pk}:{PHONE}")
        other_worker.execute("SELECT pg_advisory_lock(%s)", [lock])
        [message] = send(api, template, PHONE)
        assert message.status == MessageStatus.REQUESTING
        assert events(message) == ["requested"]
        assert message.dispatch_attempts == 0
        other_worker.execute("SELECT pg_advisory_unlock(%s)", [lock])

    with clock.frozen(timezone.now() + dt.timedelta(seconds=10)):
        due_messages_dispatch()
    message.refresh_from_db()
    assert message.status in (MessageStatus.AWAITING_RECEIPT, MessageStatus.DELIVERED)
    assert events(message)[:3] == ["requested", "checks_passed", "handed_to_channel"]


def test_a_suspended_accounts_waiting_messages_fail_as_other_and_are_not_handed_over(account, other_account):
    """Accepted while the account was active, dispatched after staff suspended it (the API refuses
    new sends then; what is already queued must not go out either)."""
    from delivery.services.dispatch import due_messages_dispatch
    from tests.pipeline.helpers import pipeline

    now = timezone.now()
    mine = MessageFactory(
        account=account, phone=PHONE, template=TemplateFactory(account=account, body="hi"), content="hi"
    )
    theirs = MessageFactory(
        account=other_account,
        phone=PHONE,
        template=TemplateFactory(account=other_account, body="hi"),
        content="hi",
    )
    Message.objects.filter(pk__in=[mine.pk, theirs.pk]).update(next_attempt_at=now)
    Account.objects.filter(pk=account.pk).update(status=Account.Status.SUSPENDED)

    with pipeline():
        due_messages_dispatch()

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert failed_with(mine, Reason.OTHER)
    assert mine.failure_detail == "account suspended"
    assert mine.channel_delivered_at is None and events(mine) == ["check_failed"]
    assert mine.events.get(kind="check_failed").detail == {
        "reason": "other",
        "problem": "account_suspended",
        "cause": "account suspended",
    }
    assert theirs.status == MessageStatus.DELIVERED  # the same batch, another account: sent
