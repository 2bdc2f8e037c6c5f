"""The console's lists write exactly the cells django-tables2 would, from the faster prepared rows.

Every list (status, intercepts, replies, unsubscribes) is rendered with rows of every kind and every
optional column shown; each row's attributes and each cell (its <td> attributes and content) must
match what django-tables2's own BoundRow renders for the same table, so the speed-up changes nothing
a user sees.
"""

import datetime as dt
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape

from tests.factories import (
    InterceptFactory,
    MessageFactory,
    ReplyFactory,
    SmsUserFactory,
    TemplateFactory,
    UnsubscribeFactory,
)

pytestmark = pytest.mark.django_db


def ago(**kwargs):
    return timezone.now() - dt.timedelta(**kwargs)


def show_every_column(client, url, table_class):
    client.post(url, {"column": list(table_class.choosable_columns)})


def tables2_rows(table):
    """What django-tables2's own rows render for `table`: (row attributes, [(td attributes, cell)])."""
    table._counter = itertools.count()  # its even/odd classes count from the first row it makes
    rendered = []
    for row in table.rows:
        cells = [(column.attrs["td"].as_html(), str(cell)) for column, cell in row.items()]
        rendered.append((row.attrs.as_html(), cells))
    return rendered


def prepared_rows(table):
    return [
        (row.attrs, [(attrs, str(content)) for attrs, content in row.cells]) for row in table.prepared_rows
    ]


def assert_same_cells(client, url):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    table = response.context["table"]
    prepared = prepared_rows(table)
    assert prepared, "the list shows rows"
    assert prepared == tables2_rows(table)
    # And the page itself is written from them.
    content = response.content.decode()
    for _attrs, content_cells in ((row.attrs, row.cells) for row in table.prepared_rows):
        for _td, cell in content_cells:
            assert conditional_escape(cell) in content


def test_status_list_cells_are_those_of_django_tables2(operator_client, account, sms_user):
    from delivery.tables import MessageTable

    template = TemplateFactory(account=account, name="Spring <sale>", type="marketing")
    other_user = SmsUserFactory(account=account, name="batch & co")
    MessageFactory(
        account=account,
        sms_user=sms_user,
        status="delivered",
        requested_at=ago(minutes=9),
        channel_delivered_at=ago(minutes=9),
        receipt_at=ago(minutes=8),
        tag="spring",
    )
    MessageFactory(
        account=account,
        sms_user=other_user,
        template=template,
        status="send_failed",
        reason="busy",
        return_code=530,
        requested_at=ago(minutes=7),
        tag="",
    )
    MessageFactory(
        account=account,
        sms_user=sms_user,
        status="processing_failed",
        reason="unsubscribed",
        requested_at=ago(minutes=5),
    )
    MessageFactory(account=account, sms_user=sms_user, status="requesting", requested_at=ago(minutes=1))
    url = reverse("delivery:message-list")
    show_every_column(operator_client, url, MessageTable)
    assert_same_cells(operator_client, url)


def test_intercept_list_cells_are_those_of_django_tables2(operator_client, account, other_account):
    from intercepts.tables import InterceptTable

    InterceptFactory(account=account, scope="local", return_code=520, reason="BLACKLISTED")
    InterceptFactory(account=other_account, scope="global", return_code=500, intercepted_at=ago(hours=2))
    InterceptFactory(account=account, scope="global", return_code=599, reason="", intercepted_at=ago(hours=3),
                     expires_at=ago(hours=1))  # fmt: skip
    url = reverse("intercepts:intercept-list")
    show_every_column(operator_client, url, InterceptTable)
    assert_same_cells(operator_client, url)


def test_reply_list_cells_are_those_of_django_tables2(operator_client, account):
    from replies.tables import ReplyTable

    message = MessageFactory(account=account, tag="spring", requested_at=ago(hours=2))
    ReplyFactory(
        account=account, phone=message.phone, message=message, content="STOP <now>", is_unsubscribe=True
    )
    ReplyFactory(account=account, content="stop please", is_optout_like=True, received_at=ago(minutes=3))
    ReplyFactory(account=account, content="Thanks & bye", carrier="", received_at=ago(minutes=2))
    url = reverse("replies:reply-list")
    show_every_column(operator_client, url, ReplyTable)
    assert_same_cells(operator_client, url)


def test_unsubscribe_list_cells_are_those_of_django_tables2(operator_client, account):
    from replies.tables import UnsubscribeTable

    message = MessageFactory(account=account, requested_at=ago(days=3))
    reply = ReplyFactory(
        account=account, phone=message.phone, content="STOP", is_unsubscribe=True, message=message
    )
    UnsubscribeFactory(account=account, phone=message.phone, created_at=ago(days=3), source_reply=reply)
    UnsubscribeFactory(account=account, created_at=ago(days=1))
    url = reverse("unsubscribes:unsubscribe-list")
    show_every_column(operator_client, url, UnsubscribeTable)
    assert_same_cells(operator_client, url)


@pytest.mark.parametrize(
    ("url_name", "argument", "value"),
    [
        ("delivery:message-detail", "message_id", 1),
        ("delivery:message-detail", "message_id", 4711081542),
        ("delivery:number-thread", "phone", "+819012345678"),
        ("delivery:number-thread", "phone", "+1 (555) 010-9999"),
        ("delivery:number-thread", "phone", "テスト&x=1"),
        ("intercepts:intercept-detail", "intercept_id", 42),
        ("unsubscribes:unsubscribe-remove", "unsubscribe_id", 7),
    ],
)
def test_a_rows_link_is_the_url_reverse_gives(url_name, argument, value):
    from delivery.tables import MessageTable

    table = MessageTable([])
    assert table.row_url(url_name, argument, value) == reverse(url_name, kwargs={argument: value})
    # Reversed once, then filled in: a second value gets its own URL, not the first one's.
    assert table.row_url(url_name, argument, 99) == reverse(url_name, kwargs={argument: 99})
