"""The console's filters as a customer meets them, in the console, the API and outside a view: the
rows a filter lists, never another account's, and a 400 that says what is wrong with a bad filter."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from delivery.filters import MessageFilter
from delivery.models import MessageStatus, Reason
from replies.filters import ReplyFilter, UnsubscribeFilter
from smsconsole import clock
from smsconsole.filters import period_preset_start
from tests.factories import (
    MessageFactory,
    ReplyFactory,
    SmsUserFactory,
    TemplateFactory,
    UnsubscribeFactory,
)

pytestmark = pytest.mark.django_db

PHONE = "+819012345678"
NEW_YORK = ZoneInfo("America/New_York")
# 15:42:17 in New York on 28 November, already the 29th in Tokyo (the server's zone).
NOW = dt.datetime(2026, 11, 28, 15, 42, 17, 123456, tzinfo=NEW_YORK)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def new_yorker(account):
    account.time_zone = "America/New_York"
    account.save()
    return account


# --- scoping -----------------------------------------------------------------------------------------


def test_a_filter_on_a_phone_both_accounts_texted_lists_only_the_callers_messages(
    api, other_api, account, other_account
):
    mine = MessageFactory(account=account, phone=PHONE, tag="sale")
    theirs = MessageFactory(account=other_account, phone=PHONE, tag="sale")

    assert ids(api.get("/api/v1/messages", {"phone": PHONE, "tag": "sale"})) == [mine.pk]
    assert ids(other_api.get("/api/v1/messages", {"phone": PHONE, "tag": "sale"})) == [theirs.pk]


def test_a_filter_on_a_phone_both_accounts_heard_from_lists_only_the_callers_replies(
    api, account, other_account
):
    mine = ReplyFactory(account=account, phone=PHONE, tag="sale")
    ReplyFactory(account=account, phone="+819000000001", tag="sale")
    ReplyFactory(account=other_account, phone=PHONE, tag="sale")

    assert ids(api.get("/api/v1/replies", {"phone": PHONE})) == [mine.pk]
    assert ids(api.get("/api/v1/replies", {"phone": "090-1234-5678", "tag": "sale"})) == [mine.pk]


def test_the_unsubscribe_filter_outside_a_view_lists_only_the_accounts_entries(account, other_account):
    mine = UnsubscribeFactory(account=account, phone=PHONE)
    UnsubscribeFactory(account=other_account, phone=PHONE)
    UnsubscribeFactory(account=other_account)

    everything = UnsubscribeFilter(None, account=account)
    by_phone = UnsubscribeFilter(QueryDict("phone=090-1234-5678"), account=account)

    assert everything.is_valid() and by_phone.is_valid()
    assert list(everything.qs) == [mine]
    assert list(by_phone.qs) == [mine]


def test_the_unsubscribe_list_is_not_a_log_an_old_entry_stays_listed(account):
    # Unlike the logs, no default 24 hours and no 30-day limit: a number unsubscribed long ago
    # is still on the list, and a period reaching back a year is allowed.
    long_ago = UnsubscribeFactory(account=account, created_at=NOW - dt.timedelta(days=400))

    with clock.frozen(NOW):
        everything = UnsubscribeFilter(None, account=account)
        a_year = UnsubscribeFilter(QueryDict("created_from=2025-11-01 00:00"), account=account)
        assert everything.is_valid() and a_year.is_valid(), a_year.form.errors
        assert list(everything.qs) == [long_ago]
        assert list(a_year.qs) == []


def test_the_reply_filter_outside_a_view_lists_only_the_accounts_replies(account, other_account):
    mine = ReplyFactory(account=account, phone=PHONE)
    ReplyFactory(account=other_account, phone=PHONE)

    filterset = ReplyFilter(QueryDict(f"phone={PHONE}"), account=account)

    assert filterset.is_valid()
    assert list(filterset.qs) == [mine]


def test_the_template_filter_offers_the_accounts_templates_by_name_and_refuses_another_accounts(
    api, account, other_account
):
    zebra = TemplateFactory(account=account, name="zebra")
    apple = TemplateFactory(account=account, name="apple")
    foreign = TemplateFactory(account=other_account, name="bob's")
    answered = ReplyFactory(account=account, template=zebra)
    ReplyFactory(account=account, template=apple)

    choices = ReplyFilter(None, account=account).form.fields["template"].queryset

    assert list(choices) == [apple, zebra]
    assert ids(api.get("/api/v1/replies", {"template": zebra.pk})) == [answered.pk]
    response = api.get("/api/v1/replies", {"template": foreign.pk})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["template"]


def test_the_sms_user_filter_offers_only_the_accounts_own(api, account, other_account):
    own = SmsUserFactory(account=account, name="shop-backend")
    foreign = SmsUserFactory(account=other_account, name="bank-backend")
    sent = MessageFactory(account=account, sms_user=own)
    MessageFactory(account=account)

    choices = MessageFilter(None, account=account).form.fields["sms_user"].queryset

    assert own in choices and foreign not in choices
    assert ids(api.get("/api/v1/messages", {"sms_user": own.pk})) == [sent.pk]
    assert api.get("/api/v1/messages", {"sms_user": foreign.pk}).status_code == 400


# --- status and reason -------------------------------------------------------------------------------


def test_a_reason_the_status_never_has_is_a_400_that_says_so(api):
    response = api.get(
        "/api/v1/messages", {"status": "delivered", "reason": "busy"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["Delivered messages do not have the reason Busy."]}


def test_a_reason_alone_or_with_its_status_lists_exactly_its_messages(api, account):
    busy = MessageFactory(
        account=account, status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530
    )
    processing_other = MessageFactory(
        account=account, status=MessageStatus.PROCESSING_FAILED, reason=Reason.OTHER
    )
    sending_other = MessageFactory(
        account=account, status=MessageStatus.SEND_FAILED, reason=Reason.OTHER, return_code=590
    )
    delivered = MessageFactory(account=account, status=MessageStatus.DELIVERED)

    assert set(ids(api.get("/api/v1/messages", {"reason": "other"}))) == {
        processing_other.pk,
        sending_other.pk,
    }
    assert ids(api.get("/api/v1/messages", {"reason": "other", "status": "processing_failed"})) == [
        processing_other.pk
    ]
    assert ids(api.get("/api/v1/messages", {"reason": "busy"})) == [busy.pk]
    assert ids(api.get("/api/v1/messages", {"status": "delivered"})) == [delivered.pk]
    assert set(ids(api.get("/api/v1/messages", {"status": "send_failed"}))) == {busy.pk, sending_other.pk}


def test_the_reason_dropdown_groups_reasons_by_status_and_names_each_return_code(account):
    form = MessageFilter(None, account=account).form

    choices = dict(form.fields["reason"].choices)
    send_failed = dict(choices["Send failed"])
    processing_failed = dict(choices["Processing failed"])
    assert send_failed["busy"] == "530 Busy"
    assert send_failed["other"] == "590 Other"
    assert processing_failed["unsubscribed"] == "Unsubscribed"


def test_the_counts_per_status_ignore_the_status_filter_but_keep_the_others(account):
    MessageFactory(account=account, tag="sale", status=MessageStatus.DELIVERED)
    MessageFactory(
        account=account, tag="sale", status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530
    )
    MessageFactory(account=account, tag="other", status=MessageStatus.DELIVERED)

    filterset = MessageFilter(QueryDict("tag=sale&status=delivered"), account=account)

    assert filterset.is_valid()
    assert filterset.qs.count() == 1
    assert sorted(filterset.facet_queryset().values_list("status", flat=True)) == ["delivered", "send_failed"]


# --- times in the account's zone, presets --------------------------------------------------------------


def test_a_typed_time_is_read_in_the_accounts_zone_not_the_servers(new_yorker):
    before = MessageFactory(
        account=new_yorker, requested_at=dt.datetime(2026, 11, 28, 9, 59, tzinfo=NEW_YORK)
    )
    after = MessageFactory(account=new_yorker, requested_at=dt.datetime(2026, 11, 28, 10, 1, tzinfo=NEW_YORK))

    with clock.frozen(NOW):
        filterset = MessageFilter(QueryDict("requested_from=2026-11-28 10:00"), account=new_yorker)
        assert filterset.is_valid(), filterset.form.errors
        listed = list(filterset.qs)

    assert listed == [after]
    assert before not in listed


def test_without_a_period_the_form_shows_the_default_start_in_the_accounts_zone(new_yorker):
    with clock.frozen(NOW):
        filterset = MessageFilter(None, account=new_yorker)
        assert filterset.is_valid()

    assert filterset.form.data["requested_from"] == "2026-11-27 15:42"  # 24 hours back, New York time


def test_today_starts_at_midnight_of_the_accounts_day_on_the_consoles_clock(new_yorker):
    yesterday_late = MessageFactory(
        account=new_yorker, requested_at=dt.datetime(2026, 11, 27, 23, 59, tzinfo=NEW_YORK)
    )
    just_after_midnight = MessageFactory(
        account=new_yorker, requested_at=dt.datetime(2026, 11, 28, 0, 1, tzinfo=NEW_YORK)
    )

    with clock.frozen(NOW):
        data = MessageFilter.with_period_preset(
            QueryDict("preset=today&requested_to=2026-11-28 12:00&tag="), account=new_yorker
        )
        filterset = MessageFilter(data, account=new_yorker)
        assert filterset.is_valid(), filterset.form.errors
        listed = list(filterset.qs)

    assert data["requested_from"] == "2026-11-28 00:00"
    assert data["requested_to"] == ""  # the preset runs to now
    assert listed == [just_after_midnight]
    assert yesterday_late not in listed


def test_today_starts_exactly_at_midnight_not_a_second_after(new_yorker):
    # The rule itself, to the microsecond (the console then shows the start to the minute).
    start = period_preset_start("today", now=NOW, zone=NEW_YORK)

    assert start == dt.datetime(2026, 11, 28, 0, 0, 0, 0, tzinfo=NEW_YORK)
    assert (start.second, start.microsecond) == (0, 0)


@pytest.mark.parametrize("preset, start", [("24h", "2026-11-27 15:42"), ("7d", "2026-11-21 15:42")])
def test_a_span_preset_reaches_back_from_now(new_yorker, preset, start):
    with clock.frozen(NOW):
        data = MessageFilter.with_period_preset(QueryDict(f"preset={preset}"), account=new_yorker)

    assert data["requested_from"] == start


def test_an_unknown_preset_or_none_leaves_the_typed_period_alone(new_yorker):
    typed = QueryDict("preset=forever&requested_from=2026-11-28 08:00")

    with clock.frozen(NOW):
        assert MessageFilter.with_period_preset(typed, account=new_yorker) is typed
        plain = QueryDict("requested_from=2026-11-28 08:00")
        assert MessageFilter.with_period_preset(plain, account=new_yorker) is plain
        assert MessageFilter.with_period_preset(None, account=new_yorker) is None


def test_the_preset_buttons_mark_the_one_in_use(account):
    filterset = MessageFilter(QueryDict("preset=7d"), account=account)

    presets = filterset.period_presets()

    assert [(p.value, p.label, p.is_active) for p in presets] == [
        ("today", "Today", False),
        ("24h", "24 hours", False),
        ("7d", "7 days", True),
        ("30d", "30 days", False),
    ]
    assert not any(p.is_active for p in MessageFilter(None, account=account).period_presets())
