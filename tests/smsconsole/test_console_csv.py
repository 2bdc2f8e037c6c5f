"""CSV export: exactly the current filter's rows, streamed, in the account's zone, BOM on request."""

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from tests.factories import InterceptFactory, MessageFactory, ReplyFactory

PHONE = "+819012345678"


def read_csv(response) -> tuple[str, list[list[str]]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    return text, list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.django_db
def test_message_csv_has_exactly_the_filtered_rows_in_list_order(operator_client, account, other_account):
    now = timezone.now()
    first = MessageFactory(account=account, tag="x", requested_at=now - dt.timedelta(minutes=1))
    second = MessageFactory(account=account, tag="x", requested_at=now - dt.timedelta(minutes=2))
    MessageFactory(account=account, tag="y")
    MessageFactory(account=account, tag="x", requested_at=now - dt.timedelta(days=2))  # outside 24 h
    MessageFactory(account=other_account, tag="x")

    response = operator_client.get(
        reverse("delivery:message-export"), {"tag": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    text, rows = read_csv(response)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert not text.startswith("\ufeff")
    assert rows[0][0] == "ID"
    assert [row[0] for row in rows[1:]] == [str(first.pk), str(second.pk)]


@pytest.mark.django_db
def test_message_csv_times_are_in_the_accounts_zone_which_the_header_names(operator_client, account):
    account.time_zone = "America/New_York"
    account.save()
    at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    MessageFactory(account=account, requested_at=at, status="send_failed", reason="busy", return_code=530)

    _, rows = read_csv(operator_client.get(reverse("delivery:message-export"), HTTP_ACCEPT_LANGUAGE="en"))

    header, row = rows
    column = header.index("Request time (America/New_York)")
    assert row[column] == timezone.localtime(at, account.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert row[header.index("Status")] == "Send failed"
    assert row[header.index("Reason")] == "Busy"
    assert row[header.index("Return code")] == "530"


@pytest.mark.django_db
def test_bom_option_for_excel(operator_client, account):
    MessageFactory(account=account, tag="配信")

    text, rows = read_csv(operator_client.get(reverse("delivery:message-export"), {"bom": "1"}))

    assert text.startswith("\ufeff")
    assert "配信" in rows[1]


@pytest.mark.django_db
def test_sort_order_is_kept(operator_client, account):
    now = timezone.now()
    older = MessageFactory(account=account, requested_at=now - dt.timedelta(minutes=9))
    newer = MessageFactory(account=account, requested_at=now - dt.timedelta(minutes=1))

    _, rows = read_csv(operator_client.get(reverse("delivery:message-export"), {"sort": "requested_at"}))

    assert [row[0] for row in rows[1:]] == [str(older.pk), str(newer.pk)]


@pytest.mark.django_db
def test_invalid_filter_does_not_export_but_returns_to_the_list_with_the_error(operator_client):
    response = operator_client.get(
        reverse("delivery:message-export"), {"requested_from": "garbage", "bom": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("delivery:message-list") + "?requested_from=garbage"


@pytest.mark.django_db
def test_untrusted_text_cannot_become_a_spreadsheet_formula(operator_client, account):
    ReplyFactory(account=account, content='=HYPERLINK("http://evil.example","click")', carrier="@carrier")

    _, rows = read_csv(operator_client.get(reverse("replies:reply-export"), HTTP_ACCEPT_LANGUAGE="en"))

    header, row = rows
    assert row[header.index("Content")].startswith("'=HYPERLINK")
    assert row[header.index("Carrier")] == "'@carrier"
    assert row[header.index("Phone number")].startswith("+")  # phones stay machine-readable


@pytest.mark.django_db
def test_reply_csv_follows_the_filter(operator_client, account, other_account):
    wanted = ReplyFactory(account=account, phone=PHONE, content="はい")
    ReplyFactory(account=account, content="other number")
    ReplyFactory(account=other_account, phone=PHONE)

    _, rows = read_csv(
        operator_client.get(reverse("replies:reply-export"), {"phone": PHONE}, HTTP_ACCEPT_LANGUAGE="en")
    )

    assert len(rows) == 2
    assert rows[1][rows[0].index("Content")] == wanted.content


@pytest.mark.django_db
def test_intercept_csv_follows_the_filter_and_never_names_other_accounts(
    operator_client, account, other_account
):
    mine = InterceptFactory(account=account, scope="local", phone=PHONE, return_code=520)
    InterceptFactory(account=account, scope="global", return_code=500)
    InterceptFactory(account=other_account, scope="global", phone=PHONE)

    response = operator_client.get(
        reverse("intercepts:intercept-export"), {"phone": PHONE}, HTTP_ACCEPT_LANGUAGE="en"
    )
    text, rows = read_csv(response)

    assert len(rows) == 3  # header, own local, global from elsewhere on the looked-up number
    assert {row[0] for row in rows[1:]} == {mine.phone}
    assert other_account.name not in text and other_account.slug not in text
    assert "Another account (global)" in text


# OWASP's list of what starts a spreadsheet formula: = + - @, and a tab or carriage return before one.
FORMULA_STARTS = ["=1+1", "+81 call me", "-2+3", "@SUM(A1:A9)", "\t=cmd|' /C calc'!A0", "\r=1+1"]


@pytest.mark.django_db
@pytest.mark.parametrize("content", FORMULA_STARTS, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_every_formula_start_in_outsiders_text_gets_a_leading_apostrophe(operator_client, account, content):
    ReplyFactory(account=account, content=content, carrier=content)

    _, rows = read_csv(operator_client.get(reverse("replies:reply-export"), HTTP_ACCEPT_LANGUAGE="en"))

    header, row = rows
    assert row[header.index("Content")] == "'" + content
    assert row[header.index("Carrier")] == "'" + content


@pytest.mark.django_db
def test_text_that_only_contains_a_formula_sign_is_left_as_it_is(operator_client, account):
    ReplyFactory(account=account, content="1+1=2, see you @ 5 - bye", carrier="KDDI")

    _, rows = read_csv(operator_client.get(reverse("replies:reply-export"), HTTP_ACCEPT_LANGUAGE="en"))

    header, row = rows
    assert row[header.index("Content")] == "1+1=2, see you @ 5 - bye"
    assert row[header.index("Carrier")] == "KDDI"


@pytest.mark.django_db
def test_an_export_reaches_the_client_line_by_line_as_it_is_read(operator_client, account, monkeypatch):
    """Streamed: no Content-Length, the header before the database is asked for a row, then the
    rows in pieces of whole lines, across more than one chunk of the database read, none lost at
    a seam."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.models import Message
    from smsconsole import csv_export
    from tests.factories import SmsUserFactory, TemplateFactory

    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_SIZE", 50)  # the seam without 2,000 rows
    monkeypatch.setattr(csv_export, "LINES_PER_PIECE", 10)
    sms_user, template = SmsUserFactory(account=account), TemplateFactory(account=account)
    now = timezone.now()
    Message.objects.bulk_create(
        MessageFactory.build(
            account=account, sms_user=sms_user, template=template, requested_at=now - dt.timedelta(seconds=i)
        )
        for i in range(120)
    )

    def reads_messages(queries) -> bool:
        # The count that decides between streaming and a background job reads no row.
        return any(
            'FROM "delivery_message"' in q["sql"] and "COUNT(" not in q["sql"]
            for q in queries.captured_queries
        )

    with CaptureQueriesContext(connection) as answering:
        response = operator_client.get(reverse("delivery:message-export"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.streaming and not response.has_header("Content-Length")
    assert not reads_messages(answering)  # the answer starts before a row is read
    pieces = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as before_first_row:
        header = next(pieces).decode()
    assert header.startswith("ID,") and header.endswith("\r\n")
    assert not reads_messages(before_first_row)
    with CaptureQueriesContext(connection) as streaming:
        rest = [piece.decode() for piece in pieces]
    assert reads_messages(streaming)
    assert len(rest) == 12 and all(piece.count("\r\n") == 10 and piece.endswith("\r\n") for piece in rest)
    ids = [line.split(",", 1)[0] for line in "".join(rest).splitlines()]
    assert ids == [
        str(pk) for pk in Message.objects.order_by("-requested_at", "-id").values_list("pk", flat=True)
    ]


@pytest.mark.django_db
def test_an_empty_value_is_an_empty_cell_and_the_download_is_never_cached(operator_client, account):
    # A reply that matched no message has no template: its cell is empty, not "None".
    ReplyFactory(account=account, template=None, content="hello")

    response = operator_client.get(reverse("replies:reply-export"), HTTP_ACCEPT_LANGUAGE="en")
    _, rows = read_csv(response)

    header, row = rows
    assert row[header.index("Template")] == ""
    assert row[header.index("Content")] == "hello"
    assert response["Cache-Control"].lower() == "no-store"  # customer data stays out of shared caches
    assert response["Content-Disposition"].startswith(f'attachment; filename="replies-{account.slug}-')


@pytest.mark.django_db
def test_a_time_not_reached_yet_is_an_empty_cell(operator_client, account):
    # A message still requesting has no receipt yet: Excel must not show "None" or a placeholder.
    MessageFactory(account=account, status="requesting", receipt_at=None, channel_delivered_at=None)

    _, rows = read_csv(operator_client.get(reverse("delivery:message-export"), HTTP_ACCEPT_LANGUAGE="en"))

    header, row = rows
    receipt_column = next(i for i, name in enumerate(header) if name.startswith("Receipt time"))
    assert row[header.index("Status")] == "Requesting"
    assert row[receipt_column] == ""
