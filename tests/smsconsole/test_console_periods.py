"""Period presets beside the date fields, and date inputs in the account's zone and the page's format."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from smsconsole import clock
from tests.factories import MessageFactory, ReplyFactory

pytestmark = pytest.mark.django_db

STATUS = reverse("delivery:message-list")
REPLIES = reverse("replies:reply-list")


def listed_ids(response) -> list[int]:
    return [row.pk for row in response.context["table"].data.data]


def ago(**kwargs):
    return timezone.now() - dt.timedelta(**kwargs)


@pytest.mark.parametrize("preset, days_in, days_out", [("24h", 0.5, 1.5), ("7d", 6, 8), ("30d", 29, 31)])
def test_a_preset_lists_its_period_and_keeps_the_other_filters(
    operator_client, account, preset, days_in, days_out
):
    inside = MessageFactory(account=account, tag="sale", requested_at=ago(days=days_in))
    MessageFactory(account=account, tag="sale", requested_at=ago(days=days_out))
    MessageFactory(account=account, tag="other", requested_at=ago(hours=1))

    response = operator_client.get(STATUS, {"preset": preset, "tag": "sale"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["filter"].form.errors == {}
    assert listed_ids(response) == [inside.pk]
    assert [p.value for p in response.context["period_presets"] if p.is_active] == [preset]
    assert f'name="preset" value="{preset}" class="button preset active" aria-pressed="true"' in (
        response.content.decode()
    )


def test_today_starts_at_midnight_in_the_accounts_zone(operator_client, account):
    account.time_zone = "America/New_York"
    account.save()
    now = timezone.now()
    midnight = timezone.localtime(now, account.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = MessageFactory(account=account, requested_at=midnight + dt.timedelta(seconds=1))
    MessageFactory(account=account, requested_at=midnight - dt.timedelta(seconds=1))

    with clock.frozen(now):
        response = operator_client.get(STATUS, {"preset": "today"}, HTTP_ACCEPT_LANGUAGE="en")

    assert listed_ids(response) == [today.pk]
    assert f'value="{midnight.strftime("%Y-%m-%d")} 00:00"' in response.content.decode()


def test_a_preset_replaces_a_typed_period_and_an_unknown_one_is_ignored(operator_client, account):
    week_old = MessageFactory(account=account, requested_at=ago(days=6))

    replaced = operator_client.get(
        STATUS, {"preset": "7d", "requested_from": "2000-01-01 00:00", "requested_to": "2000-01-02 00:00"}
    )
    unknown = operator_client.get(STATUS, {"preset": "forever"})

    assert listed_ids(replaced) == [week_old.pk]
    assert listed_ids(unknown) == []  # the default 24 hours


def test_the_replies_list_has_the_presets_too(operator_client, account):
    reply = ReplyFactory(account=account, received_at=ago(days=3))

    assert listed_ids(operator_client.get(REPLIES, {"preset": "7d"})) == [reply.pk]
    assert listed_ids(operator_client.get(REPLIES)) == []


def test_the_csv_export_link_carries_the_preset(operator_client, account):
    MessageFactory(account=account, phone="+819011112222", requested_at=ago(days=3))

    response = operator_client.get(STATUS, {"preset": "7d"})
    body = b"".join(operator_client.get(response.context["export_url"]).streaming_content).decode()

    assert "preset=7d" in response.context["export_url"]
    assert "+819011112222" in body


@pytest.mark.parametrize(
    "typed",
    ["2026/11/28 14:05", "2026-11-28 14:05", "2026-11-28T14:05", "2026/11/28 14:05:30", "2026-11-28"],
)
def test_times_are_read_in_the_usual_spellings_in_the_accounts_zone(operator_client, account, typed):
    at = dt.datetime(2026, 11, 28, 15, 0, tzinfo=account.zone)
    with clock.frozen(at + dt.timedelta(hours=1)):
        inside = MessageFactory(account=account, requested_at=at)
        response = operator_client.get(STATUS, {"requested_from": typed})

    assert response.context["filter"].form.errors == {}
    assert listed_ids(response) == [inside.pk]


def test_the_inputs_show_the_format_of_the_pages_language(operator_client):
    japanese = operator_client.get(STATUS, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    english = operator_client.get(STATUS, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'placeholder="YYYY/MM/DD hh:mm"' in japanese and 'placeholder="YYYY-MM-DD hh:mm"' in english
    assert 'type="datetime-local"' not in japanese  # the browser's locale would decide its format
    assert "今日" in japanese and "7日間" in japanese
