"""What a message the platform's checks stopped says about why: its failure detail (as the API
returns it), its send-log facts and sentence, and what else the check recorded."""

import datetime as dt

import pytest

from delivery.models import ApprovalStatus, Channel, MessageStatus, Reason
from delivery.services import dispatch
from intercepts.models import Scope
from smsconsole import clock
from smsconsole.models import Account
from tests.factories import (
    FrequencyRuleFactory,
    InterceptFactory,
    KeywordFilterFactory,
    MessageFactory,
    TemplateFactory,
    UnsubscribeFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
PHONE = "+819011112222"


def due_message(account, *, body="Your parcel is on its way", variables=None, content=None, **fields):
    template = fields.pop("template", None) or TemplateFactory(account=account, body=body)
    return MessageFactory(
        account=account,
        template=template,
        phone=fields.pop("phone", PHONE),
        content=body if content is None else content,
        variables=variables or {},
        requested_at=T0 - dt.timedelta(minutes=1),
        updated_at=T0 - dt.timedelta(minutes=1),
        next_attempt_at=T0,
        **fields,
    )


def dispatched(api, message, *, then=None):
    """Dispatch at T0, then run `then`; (the message, its check_failed detail, the message as the API
    shows it)."""
    with clock.frozen(T0):
        dispatch.due_messages_dispatch()
    if then:
        then()
    message.refresh_from_db()
    failed = message.events.filter(kind="check_failed").order_by("id").last()
    response = api.get(f"/api/v1/messages/{message.pk}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return message, failed.detail if failed else None, response.json()


def assert_failed(message, reason):
    assert (message.status, message.reason) == (MessageStatus.PROCESSING_FAILED, reason)
    # Nothing is scheduled for it any more, and the change is dated when it happened.
    assert message.next_attempt_at is None and message.updated_at == T0
    assert message.channel_id is None and message.channel_delivered_at is None
    assert list(message.events.values_list("kind", "at")) == [("check_failed", T0)]


def test_a_global_intercept_names_the_record_and_its_code(api, account, other_account):
    record = InterceptFactory(phone=PHONE, scope=Scope.GLOBAL, account=other_account, return_code=500)
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.GLOBAL_INTERCEPT)
    assert message.blocking_intercept_id == record.pk
    assert detail == {
        "reason": "global_intercept",
        "intercept_id": record.pk,
        "scope": "global",
        "return_code": 500,
        "expires_at": record.expires_at.isoformat(),
    }
    assert shown["failure_detail"] == f"intercept #{record.pk} (code 500)"
    assert shown["send_log"][-1]["summary"].startswith(
        "Not sent: the number is on the global intercept list (return code 500"
    )


def test_a_local_intercept_blocks_its_own_account_as_local(api, account):
    record = InterceptFactory(phone=PHONE, scope=Scope.LOCAL, account=account, return_code=530)
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.LOCAL_INTERCEPT)
    assert message.blocking_intercept_id == record.pk
    assert detail["scope"] == "local" and detail["intercept_id"] == record.pk
    assert shown["failure_detail"] == f"intercept #{record.pk} (code 530)"
    assert shown["send_log"][-1]["summary"].startswith("Not sent: the number is on your intercept list")


def test_another_accounts_local_intercept_does_not_stop_the_message(api, account, other_account):
    InterceptFactory(phone=PHONE, scope=Scope.LOCAL, account=other_account)
    message, detail, shown = dispatched(api, due_message(account))

    assert detail is None and message.blocking_intercept_id is None
    assert message.status in (MessageStatus.AWAITING_RECEIPT, MessageStatus.DELIVERED)


def test_an_intercept_on_another_number_does_not_stop_the_message(api, account):
    InterceptFactory(phone="+819099990000", scope=Scope.GLOBAL, account=account)
    message, detail, _ = dispatched(api, due_message(account))

    assert detail is None and message.status != MessageStatus.PROCESSING_FAILED


def test_an_unsubscribed_number_has_no_failure_detail_but_its_sentence(api, account):
    UnsubscribeFactory(account=account, phone=PHONE)
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.UNSUBSCRIBED)
    assert message.blocking_intercept_id is None
    assert detail == {"reason": "unsubscribed", "phone": PHONE}
    assert shown["failure_detail"] == ""
    assert shown["send_log"][-1]["summary"] == "Not sent: the recipient unsubscribed from your messages."


def test_a_filtered_keyword_is_named(api, account):
    KeywordFilterFactory(word="casino")
    message, detail, shown = dispatched(api, due_message(account, body="Best casino in town"))

    assert_failed(message, Reason.KEYWORD_FILTERED)
    assert detail == {"reason": "keyword_filtered", "keyword": "casino"}
    assert shown["failure_detail"] == "keyword: casino"
    assert shown["send_log"][-1]["summary"] == "Not sent: the content contains the filtered keyword “casino”."


def test_every_missing_variable_is_named_in_order(api, account):
    template = TemplateFactory(account=account, body="Hello {{name}}, code {{code}}, order {{order}}")
    message = due_message(account, template=template, content="Hello", variables={"order": "A-1", "code": ""})
    message, detail, shown = dispatched(api, message)

    assert_failed(message, Reason.VARIABLE_ERROR)
    assert detail == {"reason": "variable_error", "missing": ["name", "code"]}
    assert shown["failure_detail"] == "missing variables: name, code"
    assert shown["send_log"][-1]["summary"] == "Not sent: template variables missing or empty: name, code."


def test_a_message_with_all_its_variables_passes(api, account):
    template = TemplateFactory(account=account, body="Hello {{name}}")
    message = due_message(account, template=template, content="Hello Sato", variables={"name": "Sato"})
    message, detail, _ = dispatched(api, message)

    assert detail is None and message.status != MessageStatus.PROCESSING_FAILED


@pytest.mark.parametrize("approval", [ApprovalStatus.PENDING, ApprovalStatus.REJECTED])
def test_an_unapproved_template_reads_as_not_approved(api, account, approval):
    template = TemplateFactory(account=account, body="hi", approval_status=approval)
    message, detail, shown = dispatched(api, due_message(account, template=template, content="hi"))

    assert_failed(message, Reason.CONTENT_NONCOMPLIANT)
    assert detail == {
        "reason": "content_noncompliant",
        "problem": "template_not_approved",
        "approval_status": approval,
    }
    assert shown["failure_detail"] == "template not approved"
    assert shown["send_log"][-1]["summary"] == "Not sent: the template is not approved for sending."


def test_empty_content_reads_as_empty_content(api, account):
    message, detail, shown = dispatched(
        api, due_message(account, body="{{text}}", content="  \n ", variables={"text": "  \n "})
    )

    assert_failed(message, Reason.CONTENT_NONCOMPLIANT)
    assert detail == {"reason": "content_noncompliant", "problem": "empty_content"}
    assert shown["failure_detail"] == "empty content"


def test_too_many_parts_reads_as_too_long_with_the_counts(api, account):
    message, detail, shown = dispatched(api, due_message(account, body="long", segments=11))

    assert_failed(message, Reason.CONTENT_NONCOMPLIANT)
    assert detail == {
        "reason": "content_noncompliant",
        "problem": "too_long",
        "segments": 11,
        "max_segments": 10,
    }
    assert shown["failure_detail"] == "too long"
    assert (
        shown["send_log"][-1]["summary"] == "Not sent: the message is 11 parts long; at most 10 are allowed."
    )


def test_ten_parts_are_allowed(api, account):
    message, detail, _ = dispatched(api, due_message(account, body="long", segments=10))

    assert detail is None and message.status != MessageStatus.PROCESSING_FAILED


def test_the_frequency_limit_says_how_many_went_in_which_window(api, account):
    FrequencyRuleFactory(account=account, window_seconds=600, max_messages=2)
    for seconds in (30, 300):
        MessageFactory(
            account=account,
            phone=PHONE,
            status=MessageStatus.DELIVERED,
            requested_at=T0 - dt.timedelta(seconds=seconds),
            channel_delivered_at=T0 - dt.timedelta(seconds=seconds),
        )
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.FREQUENCY_EXCEEDED)
    assert detail == {
        "reason": "frequency_exceeded",
        "window_seconds": 600,
        "max_messages": 2,
        "sent_in_window": 2,
    }
    assert shown["failure_detail"] == "2 sent in 600 s (max 2)"
    assert shown["send_log"][-1]["summary"] == (
        "Not sent: 2 messages already went to this number in the last 10 minutes (at most 2 allowed)."
    )


@pytest.mark.parametrize(
    ("limit", "ago"),
    [
        pytest.param(1, 600, id="handed over as the window opened"),
        pytest.param(1, 601, id="handed over before the window"),
        pytest.param(2, 30, id="under the limit"),
    ],
)
def test_hand_overs_under_the_limit_or_outside_the_window_let_the_message_through(api, account, limit, ago):
    FrequencyRuleFactory(account=account, window_seconds=600, max_messages=limit)
    MessageFactory(
        account=account,
        phone=PHONE,
        status=MessageStatus.DELIVERED,
        requested_at=T0 - dt.timedelta(seconds=ago),
        channel_delivered_at=T0 - dt.timedelta(seconds=ago),
    )
    message, detail, _ = dispatched(api, due_message(account))

    assert detail is None and message.status != MessageStatus.PROCESSING_FAILED


def test_the_shortest_window_broken_is_the_one_reported(api, account):
    FrequencyRuleFactory(account=account, window_seconds=3600, max_messages=1)
    FrequencyRuleFactory(account=account, window_seconds=60, max_messages=1)
    MessageFactory(
        account=account,
        phone=PHONE,
        status=MessageStatus.DELIVERED,
        requested_at=T0 - dt.timedelta(seconds=10),
        channel_delivered_at=T0 - dt.timedelta(seconds=10),
    )
    message, detail, shown = dispatched(api, due_message(account))

    assert shown["failure_detail"] == "1 sent in 60 s (max 1)"


def test_a_suspended_account_reads_as_suspended(api, account):
    message = due_message(account)
    Account.objects.filter(pk=account.pk).update(status=Account.Status.SUSPENDED)
    # Read once staff have lifted the suspension (a suspended account's API is closed).
    lifted = Account.objects.filter(pk=account.pk).update
    message, detail, shown = dispatched(api, message, then=lambda: lifted(status=Account.Status.ACTIVE))

    assert_failed(message, Reason.OTHER)
    assert detail == {"reason": "other", "problem": "account_suspended", "cause": "account suspended"}
    assert shown["failure_detail"] == "account suspended"
    assert shown["send_log"][-1]["summary"] == "Not sent: the account is suspended."


def test_an_account_without_a_channel_reads_as_such(api, account):
    Account.objects.filter(pk=account.pk).update(default_channel=None)
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.OTHER)
    assert detail == {
        "reason": "other",
        "problem": "no_channel",
        "cause": "no channel configured for the account",
    }
    assert shown["failure_detail"] == "no channel configured for the account"
    assert shown["send_log"][-1]["summary"] == "Not sent: no carrier is set up for the account."


def test_a_switched_off_channel_is_named(api, account):
    Channel.objects.filter(pk=account.default_channel_id).update(is_active=False)
    code = account.default_channel.code
    message, detail, shown = dispatched(api, due_message(account))

    assert_failed(message, Reason.OTHER)
    assert detail == {
        "reason": "other",
        "problem": "channel_inactive",
        "cause": f"channel {code} is inactive",
    }
    assert shown["failure_detail"] == f"channel {code} is inactive"
    assert shown["send_log"][-1]["summary"] == "Not sent: the account's carrier connection is switched off."


def test_a_stopped_message_and_a_sent_one_in_the_same_batch_each_get_their_own_outcome(api, account):
    KeywordFilterFactory(word="casino")
    stopped = due_message(account, body="casino night", phone="+819011110001")
    sent = due_message(account, phone="+819011110002")

    dispatched(api, stopped)
    sent.refresh_from_db()

    assert stopped.failure_detail == "keyword: casino"
    assert sent.status != MessageStatus.PROCESSING_FAILED and sent.failure_detail == ""
    assert "check_failed" not in set(sent.events.values_list("kind", flat=True))
