"""Keyset pagination: next / previous walk every row exactly once, equal timestamps included."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.models import Message
from replies.models import Reply
from smsconsole.pagination import InvalidCursor, KeysetPaginator
from tests.factories import MessageFactory

URL = reverse("delivery:message-list")


@pytest.fixture
def messages_with_ties(account):
    """13 messages; several share a timestamp, so only the id orders them."""
    base = timezone.now() - dt.timedelta(hours=1)
    times = [base - dt.timedelta(minutes=minute) for minute in (0, 0, 0, 1, 2, 2, 3, 4, 4, 4, 4, 5, 6)]
    return [MessageFactory(account=account, requested_at=at) for at in times]


def expected_order(messages, *, descending=True):
    return [m.pk for m in sorted(messages, key=lambda m: (m.requested_at, m.pk), reverse=descending)]


def walk_forward(paginator):
    pages, cursor = [], None
    while True:
        page = paginator.page(cursor)
        pages.append(page)
        if not page.has_next:
            return pages
        cursor = page.next_cursor


@pytest.mark.django_db
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("per_page", [1, 2, 3, 5, 13, 50])
def test_forward_walk_sees_every_row_once_in_order(messages_with_ties, per_page, descending):
    paginator = KeysetPaginator(
        Message.objects.all(), time_field="requested_at", per_page=per_page, descending=descending
    )

    pages = walk_forward(paginator)

    seen = [m.pk for page in pages for m in page.object_list]
    assert seen == expected_order(messages_with_ties, descending=descending)
    assert all(len(page.object_list) == per_page for page in pages[:-1])
    assert not pages[0].has_previous


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [2, 3, 4, 5])
def test_previous_returns_the_same_pages_backwards(messages_with_ties, per_page):
    paginator = KeysetPaginator(Message.objects.all(), time_field="requested_at", per_page=per_page)
    forward = walk_forward(paginator)

    page = forward[-1]
    backwards = [page]
    while page.has_previous:
        page = paginator.page(page.previous_cursor)
        backwards.append(page)

    got = [[m.pk for m in p.object_list] for p in reversed(backwards)]
    want = [[m.pk for m in p.object_list] for p in forward]
    assert got == want
    assert not backwards[-1].has_previous


@pytest.mark.django_db
def test_previous_from_the_second_page_is_the_first_page(messages_with_ties):
    paginator = KeysetPaginator(Message.objects.all(), time_field="requested_at", per_page=4)
    first = paginator.page(None)
    second = paginator.page(first.next_cursor)

    back = paginator.page(second.previous_cursor)

    assert [m.pk for m in back.object_list] == [m.pk for m in first.object_list]
    assert back.next_cursor is not None
    assert not back.has_previous


@pytest.mark.django_db
def test_pages_are_served_without_count_or_offset(messages_with_ties):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    paginator = KeysetPaginator(Message.objects.all(), time_field="requested_at", per_page=3)
    first = paginator.page(None)
    with CaptureQueriesContext(connection) as queries:
        paginator.page(first.next_cursor)
    assert len(queries) == 1
    sql = queries[0]["sql"].upper()
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql or "OFFSET 0" in sql
    assert "LIMIT 4" in sql


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["garbage", "eyJ0IjoxfQ:abc:def", "a" * 300])
def test_a_damaged_cursor_is_refused(messages_with_ties, cursor):
    paginator = KeysetPaginator(Message.objects.all(), time_field="requested_at")
    with pytest.raises(InvalidCursor):
        paginator.page(cursor)


@pytest.mark.django_db
def test_a_cursor_from_another_list_or_order_is_refused(messages_with_ties):
    desc = KeysetPaginator(Message.objects.all(), time_field="requested_at", per_page=2)
    cursor = desc.page(None).next_cursor
    with pytest.raises(InvalidCursor):
        KeysetPaginator(Message.objects.all(), time_field="requested_at", descending=False).page(cursor)
    with pytest.raises(InvalidCursor):
        KeysetPaginator(Reply.objects.all(), time_field="received_at").page(cursor)


@pytest.mark.django_db
def test_the_status_list_pages_with_next_and_previous_links(operator_client, account):
    base = timezone.now() - dt.timedelta(hours=1)
    created = [
        MessageFactory(account=account, requested_at=base - dt.timedelta(seconds=i // 3)) for i in range(120)
    ]
    want = expected_order(created)

    first = operator_client.get(URL)
    page1 = [m.pk for m in first.context["table"].data.data]
    assert page1 == want[:50]
    assert 'rel="next"' in first.content.decode()
    assert 'rel="prev"' not in first.content.decode()

    second = operator_client.get(URL, {"cursor": first.context["page"].next_cursor})
    assert [m.pk for m in second.context["table"].data.data] == want[50:100]

    third = operator_client.get(URL, {"cursor": second.context["page"].next_cursor})
    assert [m.pk for m in third.context["table"].data.data] == want[100:]
    assert 'rel="next"' not in third.content.decode()

    back = operator_client.get(URL, {"cursor": third.context["page"].previous_cursor})
    assert [m.pk for m in back.context["table"].data.data] == want[50:100]


@pytest.mark.django_db
def test_an_invalid_cursor_in_the_url_is_a_message_not_a_500(operator_client, account):
    MessageFactory(account=account)

    response = operator_client.get(URL, {"cursor": "not-a-cursor"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "no longer valid" in response.content.decode()
    assert len(response.context["table"].data.data) == 1
