"""The status list: every filter alone and combined, the period rule, counts, sorting, scoping."""

import datetime as dt

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from delivery.filters import MessageFilter
from delivery.models import Message
from tests.factories import MessageFactory, SmsUserFactory, TemplateFactory

URL = reverse("delivery:message-list")
PHONE = "+819012345678"


def listed_ids(response) -> list[int]:
    return [message.pk for message in response.context["table"].data.data]


def minutes_ago(minutes: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def local_input(at: dt.datetime) -> str:
    """How a person types a time into the filter (the account's zone, minutes)."""
    return timezone.localtime(at, timezone.get_fixed_timezone(9 * 60)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def failed_busy(account, sms_user):
    return MessageFactory(
        account=account,
        sms_user=sms_user,
        status="send_failed",
        reason="busy",
        return_code=530,
        requested_at=minutes_ago(10),
    )


@pytest.mark.django_db
def test_default_list_shows_the_last_24_hours_newest_first(operator_client, account):
    old = MessageFactory(account=account, requested_at=minutes_ago(60 * 25))
    older_recent = MessageFactory(account=account, requested_at=minutes_ago(30))
    newest = MessageFactory(account=account, requested_at=minutes_ago(5))

    response = operator_client.get(URL)

    assert response.status_code == 200
    assert listed_ids(response) == [newest.pk, older_recent.pk]
    assert old.pk not in listed_ids(response)


@pytest.mark.django_db
def test_every_field_is_a_column_the_less_used_ones_behind_the_column_chooser(operator_client, account):
    MessageFactory(account=account, tag="spring-sale", phone=PHONE, requested_at=minutes_ago(1))
    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    content = response.content.decode()
    shown = [str(column.header) for column in response.context["table"].columns]
    assert shown == [
        "ID",
        "Status",
        "SMS_USER",
        "Recipient",
        "Template",
        "Tag",
        "Request time",
        "Receipt time",
        "Update time",
    ]
    assert "spring-sale" in content
    assert "+81 90-1234-5678" in content
    offered = {choice.label: choice.is_shown for choice in response.context["column_choices"]}
    assert {"Message count": False, "Template type": False, "Channel delivery time": False}.items() <= (
        offered.items()
    )

    operator_client.post(URL, {"column": [choice.name for choice in response.context["column_choices"]]})

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert [str(column.header) for column in response.context["table"].columns] == [
        "ID",
        "Status",
        "SMS_USER",
        "Message count",
        "Recipient",
        "Template",
        "Template type",
        "Tag",
        "Request time",
        "Channel delivery time",
        "Receipt time",
        "Update time",
    ]


@pytest.mark.django_db
def test_phone_filter_accepts_national_format(operator_client, account):
    wanted = MessageFactory(account=account, phone=PHONE, requested_at=minutes_ago(3))
    MessageFactory(account=account, phone="+819087654321", requested_at=minutes_ago(2))

    response = operator_client.get(URL, {"phone": "090-1234-5678"})

    assert listed_ids(response) == [wanted.pk]


@pytest.mark.django_db
def test_template_type_filter(operator_client, account):
    otp = MessageFactory(account=account, template=TemplateFactory(account=account, type="verification"))
    MessageFactory(account=account, template=TemplateFactory(account=account, type="marketing"))

    response = operator_client.get(URL, {"template_type": "verification"})

    assert listed_ids(response) == [otp.pk]


@pytest.mark.django_db
def test_tag_filter_is_exact(operator_client, account):
    tagged = MessageFactory(account=account, tag="spring-sale")
    MessageFactory(account=account, tag="spring-sale-2")
    MessageFactory(account=account, tag="")

    response = operator_client.get(URL, {"tag": "spring-sale"})

    assert listed_ids(response) == [tagged.pk]


@pytest.mark.django_db
def test_sms_user_filter(operator_client, account, sms_user):
    mine = MessageFactory(account=account, sms_user=sms_user)
    MessageFactory(account=account, sms_user=SmsUserFactory(account=account))

    response = operator_client.get(URL, {"sms_user": sms_user.pk})

    assert listed_ids(response) == [mine.pk]


@pytest.mark.django_db
def test_sms_user_of_another_account_is_a_form_error(operator_client, other_sms_user):
    response = operator_client.get(URL, {"sms_user": other_sms_user.pk})

    assert response.status_code == 200
    assert "sms_user" in response.context["filter"].form.errors
    assert listed_ids(response) == []


@pytest.mark.django_db
def test_status_filter(operator_client, account, failed_busy):
    MessageFactory(account=account, status="delivered")

    response = operator_client.get(URL, {"status": "send_failed"})

    assert listed_ids(response) == [failed_busy.pk]


@pytest.mark.django_db
def test_reason_filter_alone_finds_its_status(operator_client, account, failed_busy):
    MessageFactory(account=account, status="send_failed", reason="powered_off", return_code=580)
    MessageFactory(account=account, status="processing_failed", reason="unsubscribed")

    response = operator_client.get(URL, {"reason": "busy"})

    assert listed_ids(response) == [failed_busy.pk]


@pytest.mark.django_db
def test_reason_other_exists_under_both_failure_statuses(operator_client, account):
    processing = MessageFactory(account=account, status="processing_failed", reason="other")
    sending = MessageFactory(account=account, status="send_failed", reason="other", return_code=590)

    both = operator_client.get(URL, {"reason": "other"})
    only_sending = operator_client.get(URL, {"reason": "other", "status": "send_failed"})

    assert set(listed_ids(both)) == {processing.pk, sending.pk}
    assert listed_ids(only_sending) == [sending.pk]


@pytest.mark.django_db
def test_reason_that_does_not_belong_to_the_status_is_a_form_error(operator_client):
    response = operator_client.get(URL, {"status": "delivered", "reason": "busy"})

    assert "reason" in response.context["filter"].form.errors


@pytest.mark.django_db
def test_filters_combine(operator_client, account, sms_user, failed_busy):
    failed_busy.phone = PHONE
    failed_busy.tag = "orders"
    failed_busy.save()
    MessageFactory(account=account, sms_user=sms_user, phone=PHONE, tag="orders", status="delivered")
    MessageFactory(
        account=account,
        sms_user=sms_user,
        phone=PHONE,
        tag="other",
        status="send_failed",
        reason="busy",
        return_code=530,
    )
    MessageFactory(
        account=account, phone=PHONE, tag="orders", status="send_failed", reason="busy", return_code=530
    )

    response = operator_client.get(
        URL,
        {
            "phone": PHONE,
            "tag": "orders",
            "sms_user": sms_user.pk,
            "status": "send_failed",
            "reason": "busy",
            "template_type": failed_busy.template_type,
            "requested_from": local_input(minutes_ago(60)),
            "requested_to": local_input(minutes_ago(-1)),
        },
    )

    assert listed_ids(response) == [failed_busy.pk]


@pytest.mark.django_db
def test_period_filter_bounds(operator_client, account):
    inside = MessageFactory(account=account, requested_at=minutes_ago(60 * 24 * 3))
    MessageFactory(account=account, requested_at=minutes_ago(60 * 24 * 5))
    MessageFactory(account=account, requested_at=minutes_ago(60))

    response = operator_client.get(
        URL,
        {
            "requested_from": local_input(minutes_ago(60 * 24 * 4)),
            "requested_to": local_input(minutes_ago(60 * 24 * 2)),
        },
    )

    assert listed_ids(response) == [inside.pk]


@pytest.mark.django_db
def test_period_of_30_days_is_allowed(operator_client, account):
    old = MessageFactory(account=account, requested_at=minutes_ago(60 * 24 * 29))

    response = operator_client.get(URL, {"requested_from": local_input(minutes_ago(60 * 24 * 30 - 1))})

    assert response.context["filter"].form.errors == {}
    assert listed_ids(response) == [old.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"requested_from": "31 days"}, "requested_from"),
        ({"requested_from": "2026-13-45T99:00"}, "requested_from"),
        ({"requested_to": "yesterday-ish"}, "requested_to"),
        ({"requested_to": "0001-01-01T00:00"}, "requested_to"),
        ({"requested_from": "9999-12-31T23:59"}, "requested_from"),
        ({"phone": "not a phone"}, "phone"),
        ({"status": "lost"}, "status"),
        ({"reason": "bad_luck"}, "reason"),
        ({"template_type": "spam"}, "template_type"),
        ({"sms_user": "abc"}, "sms_user"),
    ],
)
def test_garbage_is_a_form_error_on_the_page_never_a_500(operator_client, account, params, field):
    MessageFactory(account=account)

    response = operator_client.get(URL, params)

    assert response.status_code == 200
    assert field in response.context["filter"].form.errors
    assert listed_ids(response) == []
    assert 'class="errorlist"' in response.content.decode()


@pytest.mark.django_db
def test_period_reaching_back_31_days_is_an_error_not_clipped(operator_client, account):
    MessageFactory(account=account, requested_at=minutes_ago(60))

    response = operator_client.get(
        URL, {"requested_from": local_input(minutes_ago(60 * 24 * 31))}, HTTP_ACCEPT_LANGUAGE="en"
    )

    errors = response.context["filter"].form.errors
    assert "requested_from" in errors
    assert "at most 30 days" in errors["requested_from"][0]
    assert "at most 30 days" in response.content.decode()
    assert listed_ids(response) == []


@pytest.mark.django_db
def test_end_before_start_is_an_error(operator_client):
    response = operator_client.get(
        URL,
        {"requested_from": local_input(minutes_ago(60)), "requested_to": local_input(minutes_ago(120))},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "requested_to" in response.context["filter"].form.errors
    assert "before its start" in response.content.decode()


@pytest.mark.django_db
def test_only_an_end_means_the_24_hours_before_it(operator_client, account):
    inside = MessageFactory(account=account, requested_at=minutes_ago(60 * 24 * 2 + 60))
    MessageFactory(account=account, requested_at=minutes_ago(60 * 24 * 3 + 60))

    response = operator_client.get(URL, {"requested_to": local_input(minutes_ago(60 * 24 * 2))})

    assert listed_ids(response) == [inside.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("language, shown_format", [("en", "%Y-%m-%d %H:%M"), ("ja", "%Y/%m/%d %H:%M")])
def test_the_default_period_start_is_shown_in_the_form_in_the_languages_format(
    operator_client, language, shown_format
):
    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE=language)

    start = timezone.localtime(timezone.now() - dt.timedelta(hours=24), timezone.get_fixed_timezone(9 * 60))
    assert f'value="{start.strftime(shown_format)}"' in response.content.decode()


@pytest.mark.django_db
def test_times_are_shown_in_the_accounts_zone_and_the_zone_is_named(operator_client, account):
    account.time_zone = "America/New_York"
    account.save()
    at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    MessageFactory(account=account, requested_at=at)

    content = operator_client.get(URL).content.decode()

    ny = timezone.localtime(at, account.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert ny in content
    assert "America/New_York" in content


@pytest.mark.django_db
def test_counts_per_status_and_reason_follow_the_filter_and_link_to_narrowed_lists(operator_client, account):
    for _ in range(3):
        MessageFactory(account=account, status="delivered", tag="a")
    MessageFactory(account=account, status="send_failed", reason="busy", return_code=530, tag="a")
    MessageFactory(account=account, status="send_failed", reason="powered_off", return_code=580, tag="a")
    MessageFactory(account=account, status="delivered", tag="b")

    response = operator_client.get(URL, {"tag": "a", "status": "delivered"}, HTTP_ACCEPT_LANGUAGE="en")

    facets = {facet["status"]: facet for facet in response.context["status_facets"]}
    assert facets["delivered"]["count"] == 3
    assert facets["delivered"]["is_active"]
    assert facets["send_failed"]["count"] == 2
    reasons = {reason["label"]: reason for reason in facets["send_failed"]["reasons"]}
    assert reasons["Busy"]["count"] == 1
    narrowed = operator_client.get(URL + reasons["Busy"]["url"])
    assert len(listed_ids(narrowed)) == 1
    assert narrowed.context["filter"].form.cleaned_data["tag"] == "a"


@pytest.mark.django_db
def test_counts_are_one_query(operator_client, account, django_assert_max_num_queries):
    for status in ["delivered", "requesting", "awaiting_receipt"]:
        MessageFactory(account=account, status=status)
    MessageFactory(account=account, status="send_failed", reason="busy", return_code=530)
    from delivery.selectors import message_status_counts

    filterset = MessageFilter(QueryDict(), account=account)
    assert filterset.is_valid()
    with django_assert_max_num_queries(1):
        rows = message_status_counts(account=account, **filterset.count_filters())
    assert sum(row["count"] for row in rows) == 4


@pytest.mark.django_db
def test_large_counts_are_exact_with_no_cap(operator_client, account):
    one = MessageFactory(account=account, status="delivered")
    Message.objects.bulk_create(
        MessageFactory.build_batch(
            12_004, account=account, sms_user=one.sms_user, template=one.template, status="delivered"
        )
    )
    MessageFactory(account=account, status="send_failed", reason="busy", return_code=530)

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert "Delivered <strong>12,005</strong>" in response.content.decode()
    assert "Send failed <strong>1</strong>" in response.content.decode()
    assert "+</strong>" not in response.content.decode()


@pytest.mark.django_db
def test_rendering_a_page_does_not_query_per_row(operator_client, account, django_assert_max_num_queries):
    for _ in range(20):
        MessageFactory(account=account)
    operator_client.get(URL)  # warm the session and the content types
    with django_assert_max_num_queries(12):
        response = operator_client.get(URL)
    assert len(listed_ids(response)) == 20


@pytest.mark.django_db
def test_oldest_first_sort(operator_client, account):
    first = MessageFactory(account=account, requested_at=minutes_ago(30))
    second = MessageFactory(account=account, requested_at=minutes_ago(20))

    response = operator_client.get(URL, {"sort": "requested_at"})

    assert listed_ids(response) == [first.pk, second.pk]
    assert "▲" in response.content.decode()


@pytest.mark.django_db
def test_other_accounts_messages_are_never_listed(operator_client, account, other_account):
    mine = MessageFactory(account=account, phone=PHONE)
    MessageFactory(account=other_account, phone=PHONE)

    assert listed_ids(operator_client.get(URL)) == [mine.pk]
    assert listed_ids(operator_client.get(URL, {"phone": PHONE})) == [mine.pk]


@pytest.mark.django_db
def test_filter_dropdowns_list_only_the_accounts_values(operator_client, sms_user, other_sms_user):
    content = operator_client.get(URL).content.decode()

    assert sms_user.name in content
    assert other_sms_user.name not in content


@pytest.mark.django_db
def test_login_is_required(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_filterset_works_outside_a_view(account, failed_busy):
    filterset = MessageFilter(QueryDict("status=send_failed&reason=busy"), account=account)
    assert filterset.is_valid()
    assert list(filterset.qs) == [failed_busy]

    bad = MessageFilter(QueryDict("requested_from=nonsense&phone=12"), account=account)
    assert not bad.is_valid()
    assert set(bad.form.errors) == {"requested_from", "phone"}

    defaults = MessageFilter(None, account=account)
    assert defaults.is_valid()
    assert defaults.form.cleaned_data["requested_from"] is not None
