"""Staff find a message, an intercept or an unsubscribe by the number as they read it, or by an id,
with a search an index answers; the big lists do not count millions of rows to show a page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from smsconsole import admin_lists
from tests.factories import InterceptFactory, MessageFactory, UnsubscribeFactory

pytestmark = pytest.mark.django_db

MESSAGES = reverse("admin:delivery_message_changelist")


def listed(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def test_a_number_typed_as_read_finds_its_messages(staff_client, account):
    mine = MessageFactory(account=account, phone="+819012345678")
    MessageFactory(account=account, phone="+819012345679")

    for typed in ("090-1234-5678", "+819012345678", " 09012345678 "):
        response = staff_client.get(MESSAGES, {"q": typed})
        assert listed(response) == [mine.pk], typed


def test_a_message_is_found_by_its_id_or_its_channel_message_id(staff_client, account, simulator):
    message = MessageFactory(account=account, channel=simulator, channel_message_id="carrier-77")
    MessageFactory(account=account, channel=simulator, channel_message_id="carrier-78")

    assert listed(staff_client.get(MESSAGES, {"q": str(message.pk)})) == [message.pk]
    assert listed(staff_client.get(MESSAGES, {"q": "carrier-77"})) == [message.pk]


def test_a_term_that_is_nothing_finds_nothing_without_an_error(staff_client, account):
    MessageFactory(account=account)
    for term in ("no such thing", "99999999999999999999999", "-1"):
        response = staff_client.get(MESSAGES, {"q": term})
        assert response.status_code == 200
        assert listed(response) == []
    assert len(listed(staff_client.get(MESSAGES))) == 1  # the empty results above are the search's


def test_the_phone_search_compares_the_column_itself_so_an_index_answers_it(staff_client, account):
    MessageFactory(account=account, phone="+819012345678")
    with CaptureQueriesContext(connection) as queries:
        staff_client.get(MESSAGES, {"q": "090-1234-5678"})
    listing = [q["sql"] for q in queries.captured_queries if "delivery_message" in q["sql"]]
    assert listing
    assert all("UPPER(" not in sql and "LIKE" not in sql for sql in listing)


@pytest.mark.postgresql  # the planner's choice is what is tested
def test_every_branch_of_a_message_search_is_answered_by_an_index(staff_client, account, simulator):
    """A number, an id and a channel message id at once (a term can be all three): at 5 M messages
    one branch without an index made the whole search a 0.9 s table scan."""
    MessageFactory(account=account, channel=simulator, channel_message_id="09012345678")
    with CaptureQueriesContext(connection) as queries:
        staff_client.get(MESSAGES, {"q": "09012345678"})
    [listing] = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "delivery_message"."id"')
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned anyway
        cursor.execute(f"EXPLAIN {listing}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on delivery_message" not in plan, plan
    # The channel message id's index leads with the channel: without it in the condition, the
    # index is read whole, as slowly as the table.
    by_channel_message_id = [
        line for line in plan.splitlines() if "Index Cond" in line and "channel_message_id" in line
    ]
    assert by_channel_message_id and all("channel_id" in line for line in by_channel_message_id), plan


def test_intercepts_and_unsubscribes_are_found_by_the_number_as_read(staff_client, account):
    record = InterceptFactory(account=account, phone="+819012345678")
    InterceptFactory(account=account, phone="+819011112222")
    entry = UnsubscribeFactory(account=account, phone="+819012345678")
    UnsubscribeFactory(account=account, phone="+819011112222")

    intercepts = staff_client.get(reverse("admin:intercepts_intercept_changelist"), {"q": "090-1234-5678"})
    unsubscribes = staff_client.get(reverse("admin:replies_unsubscribe_changelist"), {"q": "090 1234 5678"})

    assert listed(intercepts) == [record.pk]
    assert listed(unsubscribes) == [entry.pk]


def test_a_list_beyond_the_exact_limit_shows_an_estimate_not_a_full_count(staff_client, account, monkeypatch):
    monkeypatch.setattr(admin_lists, "EXACT_COUNT_UP_TO", 3)
    for _ in range(5):
        MessageFactory(account=account)

    response = staff_client.get(MESSAGES)

    # SQLite has no planner estimate and counts; PostgreSQL's estimate of 5 fresh rows is near 5.
    count = response.context["cl"].result_count
    assert count >= 4
    assert len(listed(response)) == 5


def test_a_list_within_the_exact_limit_is_counted_exactly(staff_client, account):
    for _ in range(3):
        MessageFactory(account=account)
    response = staff_client.get(MESSAGES, {"status__exact": "requesting"})
    assert response.context["cl"].result_count == 3
