"""Streamed CSV downloads of a filtered list: memory stays flat however many rows match.

The views feed plain rows (dicts from `values()`, read in keyset chunks: see
`KeysetPaginator.values_in_chunks`), never model instances, and labels come from dicts
(smsconsole.labels): a 30-day export of the biggest account is a million rows or more."""

import csv
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.db.models import DateTimeField, F, Func
from django.http import StreamingHttpResponse

EXPORT_CHUNK_SIZE = 2000
LINES_PER_PIECE = 100
UTF8_BOM = "\ufeff"
# Spreadsheet programs run a cell that starts with one of these as a formula. Replies and carrier
# feedback are written by strangers, so text cells get a leading apostrophe ("CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvColumn:
    header: str
    value: Callable[[object], object]
    is_untrusted_text: bool = False
    # The values() names `value` reads from a row (a view reads only those from the database).
    fields: tuple[str, ...] = ()
    # Of those, the ones computed in the query: {name: expression}.
    expressions: dict = dataclasses.field(default_factory=dict)


def field_column(header, field: str, *, format=None, is_untrusted_text: bool = False) -> CsvColumn:
    """A column showing the row's `field` ("template__name"), through `format` when given."""
    if format is None:
        value = itemgetter(field)
    else:

        def value(row):
            return format(row[field])

    return CsvColumn(header, value, is_untrusted_text=is_untrusted_text, fields=(field,))


class LocalTimeText(Func):
    """A time as its CSV cell shows it, in `zone`, to the second; written by PostgreSQL.

    Reading a timestamp through Django's psycopg loader costs ~5 µs in Python, four per row of a
    million-row export; PostgreSQL formats it for a fraction of that. Elsewhere (SQLite) the
    column is read as it is and _cell formats it in the zone: the cell is the same."""

    output_field = DateTimeField()

    def __init__(self, field: str, zone: str):
        super().__init__(F(field))
        self.zone = zone

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"to_char(({sql}) AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')", (*params, self.zone)


def time_column(header, field: str, *, zone: ZoneInfo) -> CsvColumn:
    """A column showing the time `field` in `zone` to the second; empty when there is none."""
    name = f"{field.replace('__', '_')}_as_text"
    return CsvColumn(
        header, itemgetter(name), fields=(name,), expressions={name: LocalTimeText(field, zone.key)}
    )


def csv_fields(columns: Sequence[CsvColumn]) -> list[str]:
    """Every values() name the columns read, once each, in column order."""
    return list(dict.fromkeys(name for column in columns for name in column.fields))


def csv_expressions(columns: Sequence[CsvColumn]) -> dict:
    """The values() the columns compute ({name: expression}), such as times written as text."""
    return {name: expression for column in columns for name, expression in column.expressions.items()}


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value, *, zone: ZoneInfo, is_untrusted_text: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        # isoformat is C code: several times faster than strftime, a million rows times four.
        return value.astimezone(zone).replace(tzinfo=None).isoformat(" ", "seconds")
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


def _in_pieces(lines: Iterable[str]) -> Iterable[str]:
    """The header at once, then the lines LINES_PER_PIECE at a time.

    The response encodes and the server writes each piece: per line, that was a sixth of an
    export's time. A piece is still small enough to go out as soon as its rows are read."""
    lines = iter(lines)
    yield next(lines)
    while piece := "".join(itertools.islice(lines, LINES_PER_PIECE)):
        yield piece


def export_filename(*, export_name: str, account_slug: str, at: dt.datetime, zone: ZoneInfo) -> str:
    """The name an export downloads as: `sms-status-alice-shop-20261204-093000.csv`, `at` in `zone`."""
    return f"{export_name}-{account_slug}-{at.astimezone(zone):%Y%m%d-%H%M%S}.csv"


def csv_streaming_response(
    rows: Iterable,
    *,
    columns: Sequence[CsvColumn],
    zone: ZoneInfo,
    filename: str,
    with_bom: bool = False,
) -> StreamingHttpResponse:
    """A streamed CSV of `rows` (read lazily, as the client takes the lines)."""
    lines = csv_rows(rows, columns=columns, zone=zone, with_bom=with_bom)
    response = StreamingHttpResponse(_in_pieces(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
