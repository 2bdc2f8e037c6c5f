"""Streamed CSV downloads of a filtered list: memory stays flat however many rows match."""

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

EXPORT_CHUNK_SIZE = 2000
UTF8_BOM = "\ufeff"
# Spreadsheet programs run a cell that starts with one of these as a formula. Replies and carrier
# feedback are written by strangers, so text cells get a leading apostrophe ("CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvColumn:
    header: str
    value: Callable[[object], object]
    is_untrusted_text: bool = False


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value, *, zone: ZoneInfo, is_untrusted_text: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if is_untrusted_text and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_rows(
    rows: Iterable, *, columns: Sequence[CsvColumn], zone: ZoneInfo, with_bom: bool = False
) -> Iterable[str]:
    """Yield CSV lines: the header, then one line per row, times in `zone`."""
    writer = csv.writer(_Echo())
    header = writer.writerow([str(column.header) for column in columns])
    yield (UTF8_BOM + header) if with_bom else header
    for row in rows:
        yield writer.writerow(
            [
                _cell(column.value(row), zone=zone, is_untrusted_text=column.is_untrusted_text)
                for column in columns
            ]
        )


def csv_streaming_response(
    queryset: QuerySet,
    *,
    columns: Sequence[CsvColumn],
    zone: ZoneInfo,
    filename: str,
    with_bom: bool = False,
) -> StreamingHttpResponse:
    """A streamed CSV of every row of `queryset`, read from the database in chunks."""
    rows = queryset.iterator(chunk_size=EXPORT_CHUNK_SIZE)
    response = StreamingHttpResponse(
        csv_rows(rows, columns=columns, zone=zone, with_bom=with_bom), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
