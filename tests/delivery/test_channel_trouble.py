"""The status page says so at the top when hand-overs of the account's messages failed lately."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.models import MessageEvent
from delivery.selectors import channel_trouble
from tests.factories import MessageEventFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = reverse("delivery:message-list")


def ago(**kwargs):
    return timezone.now() - dt.timedelta(**kwargs)


def failed_hand_over(account, *, at, final=False):
    """A message whose hand-over failed at `at`: still waiting to be retried, or failed for good."""
    fields = {"status": "processing_failed", "reason": "other"} if final else {"next_attempt_at": at}
    message = MessageFactory(
        account=account, requested_at=at - dt.timedelta(seconds=30), updated_at=at, **fields
    )
    MessageEventFactory(
        message=message,
        at=at,
        kind=MessageEvent.Kind.CHANNEL_ERROR,
        detail={"channel": "sim", "error": "timeout"},
    )
    return message


def handed_over(account, *, at):
    return MessageFactory(
        account=account, status="delivered", requested_at=at, channel_delivered_at=at, updated_at=at
    )


def test_failed_hand_overs_in_the_last_15_minutes_show_with_the_last_success(operator_client, account):
    success = handed_over(account, at=ago(minutes=40))
    failed_hand_over(account, at=ago(minutes=10))
    failed_hand_over(account, at=ago(minutes=2))
    failed_hand_over(account, at=ago(minutes=1), final=True)

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    trouble = response.context["channel_trouble"]
    assert (trouble.failed_count, trouble.is_capped, trouble.channels) == (3, False, ("sim",))
    assert trouble.last_success_at == success.channel_delivered_at and not trouble.has_recovered
    content = response.content.decode()
    assert 'data-testid="channel-trouble"' in content
    assert "3 hand-overs of your messages failed in the last 15 minutes" in content
    shown = timezone.localtime(success.channel_delivered_at, account.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Last successful hand-over: {shown}." in content
    assert content.index('data-testid="channel-trouble"') < content.index('class="facets"')  # at the top


def test_older_failures_show_nothing(operator_client, account):
    failed_hand_over(account, at=ago(minutes=16))

    response = operator_client.get(URL)

    assert response.context["channel_trouble"] is None
    assert 'data-testid="channel-trouble"' not in response.content.decode()


def test_another_accounts_trouble_is_not_ours(operator_client, account, other_account):
    failed_hand_over(other_account, at=ago(minutes=1))
    handed_over(account, at=ago(minutes=1))

    assert operator_client.get(URL).context["channel_trouble"] is None


def test_a_success_after_the_failures_reads_as_recovered(operator_client, account):
    failed_hand_over(account, at=ago(minutes=5))
    handed_over(account, at=ago(minutes=1))

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["channel_trouble"].has_recovered
    assert "had trouble in the last 15 minutes" in response.content.decode()


def test_the_banner_reads_a_bounded_number_of_messages(account, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr("delivery.selectors.CHANNEL_TROUBLE_SCAN", 3)
    for minutes in range(5):
        failed_hand_over(account, at=ago(minutes=minutes + 1))

    with django_assert_max_num_queries(5):
        trouble = channel_trouble(account=account, now=timezone.now())

    # Only the newest three were read: "at least 3", not a count of the whole backlog.
    assert (trouble.failed_count, trouble.is_capped) == (3, True)
