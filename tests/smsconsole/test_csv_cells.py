"""CSV cells as a spreadsheet opens them: escaped against formulas, times to the second, no BOM unasked."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest

from delivery.models import Message
from smsconsole.csv_export import CsvColumn, csv_rows, csv_streaming_response
from tests.factories import MessageFactory

TOKYO = ZoneInfo("Asia/Tokyo")
AT = dt.datetime(2026, 11, 28, 1, 2, 3, 456789, tzinfo=dt.UTC)


def parse(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines))))


COLUMNS = [
    CsvColumn("Phone", lambda row: row["phone"]),
    CsvColumn("Content", lambda row: row["content"], is_untrusted_text=True),
    CsvColumn("At", lambda row: row["at"]),
]


def test_a_csv_starts_without_a_byte_order_mark_unless_one_is_asked_for():
    rows = [{"phone": "+819012345678", "content": "hi", "at": AT}]

    plain = "".join(csv_rows(rows, columns=COLUMNS, zone=TOKYO))
    for_excel = "".join(csv_rows(rows, columns=COLUMNS, zone=TOKYO, with_bom=True))

    assert plain.startswith("Phone,Content,At\r\n")
    assert for_excel == "\ufeff" + plain  # the mark once, before the header, nothing else changed


@pytest.mark.django_db
def test_a_download_starts_without_a_byte_order_mark_unless_one_is_asked_for(account):
    MessageFactory(account=account, tag="=1+1")
    columns = [CsvColumn("Tag", lambda m: m.tag, is_untrusted_text=True)]

    def download(**options) -> str:
        response = csv_streaming_response(
            Message.objects.filter(account=account), columns=columns, zone=TOKYO, filename="x.csv", **options
        )
        return b"".join(response.streaming_content).decode("utf-8")

    assert download() == "Tag\r\n'=1+1\r\n"
    assert download(with_bom=True) == "\ufeffTag\r\n'=1+1\r\n"


def test_only_text_from_outsiders_is_escaped_and_times_are_local_to_the_second():
    rows = [{"phone": "+819012345678", "content": "=HYPERLINK(1)", "at": AT}]

    header, row = parse(csv_rows(rows, columns=COLUMNS, zone=TOKYO))

    assert header == ["Phone", "Content", "At"]
    # A phone number is ours and starts with "+": it stays a number a spreadsheet can dial.
    assert row == ["+819012345678", "'=HYPERLINK(1)", "2026-11-28 10:02:03"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_formula_start_alone_in_untrusted_text_is_escaped(start):
    rows = [{"phone": start, "content": start, "at": None}]

    (_, row) = parse(csv_rows(rows, columns=COLUMNS, zone=TOKYO))

    assert row == [start, "'" + start, ""]


def test_values_that_are_not_text_are_written_as_they_read():
    rows = [{"phone": 0, "content": 42, "at": None}, {"phone": "", "content": "", "at": None}]

    _, numbers, empty = parse(csv_rows(rows, columns=COLUMNS, zone=TOKYO))

    assert numbers == ["0", "42", ""]
    assert empty == ["", "", ""]
