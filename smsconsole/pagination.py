"""Keyset (cursor) pagination over a time-ordered queryset, for the console and the API.

A page is `WHERE (time, id) < cursor ORDER BY time DESC, id DESC LIMIT n + 1`: an index range scan
at any depth. It never counts the whole filter and never uses OFFSET. The cursor is an opaque,
signed token naming a row position and a direction, so a client cannot forge positions or mix up
sort orders, and a damaged cursor is a clear error rather than a wrong page.

Usage, in a view or outside one::

    paginator = KeysetPaginator(queryset, time_field="requested_at", per_page=50, descending=True)
    try:
        page = paginator.page(request.GET.get("cursor"))
    except InvalidCursor:
        ...  # 400 / a message on the page
    page.object_list, page.next_cursor, page.previous_cursor
"""

import datetime as dt
from dataclasses import dataclass, field

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

CURSOR_SALT = "smsconsole.keyset-cursor"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


class InvalidCursor(ValueError):
    """The cursor was not issued by us, was damaged, or belongs to another list or sort order."""


@dataclass
class KeysetPage:
    object_list: list
    next_cursor: str | None = None
    previous_cursor: str | None = None
    per_page: int = DEFAULT_PER_PAGE
    descending: bool = True
    is_first: bool = field(default=True)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def keyset_after(time_field: str, at: dt.datetime, pk: int, *, newest_first: bool) -> Q:
    """The rows after (`at`, `pk`) in (time, id) order, newest or oldest first."""
    # Spelled as `t <= T AND (t < T OR id < I)` rather than a row comparison: the first term
    # is an index range bound on every database, the second narrows within equal times.
    t = time_field
    if newest_first:
        return Q(**{f"{t}__lte": at}) & (Q(**{f"{t}__lt": at}) | Q(pk__lt=pk))
    return Q(**{f"{t}__gte": at}) & (Q(**{f"{t}__gt": at}) | Q(pk__gt=pk))


class KeysetPaginator:
    """Pages through `queryset` ordered by (`time_field`, id), newest first unless `descending=False`.

    The queryset's own ordering is replaced. `time_field` must be a non-null datetime column whose
    composite index ends with (time, id) after the equality filters, so each page is a range scan.
    `list_key` ties cursors to one list: a cursor from the replies list is refused by the status list.
    """

    def __init__(
        self,
        queryset: QuerySet,
        *,
        time_field: str,
        per_page: int = DEFAULT_PER_PAGE,
        descending: bool = True,
        list_key: str = "",
    ):
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        self.queryset = queryset
        self.time_field = time_field
        self.per_page = per_page
        self.descending = descending
        self.list_key = list_key or f"{queryset.model._meta.label_lower}.{time_field}"

    # --- cursors -------------------------------------------------------------------------------
    def encode_cursor(self, obj, *, backwards: bool) -> str:
        at: dt.datetime = getattr(obj, self.time_field)
        payload = {
            "k": self.list_key,
            "o": "d" if self.descending else "a",
            "t": at.astimezone(dt.UTC).isoformat(),
            "i": obj.pk,
            "b": 1 if backwards else 0,
        }
        return signing.dumps(payload, salt=CURSOR_SALT)

    def decode_cursor(self, cursor: str) -> tuple[dt.datetime, int, bool]:
        try:
            payload = signing.loads(cursor, salt=CURSOR_SALT)
            if payload["k"] != self.list_key:
                raise InvalidCursor(_("This cursor belongs to another list."))
            if payload["o"] != ("d" if self.descending else "a"):
                raise InvalidCursor(_("This cursor belongs to the other sort order."))
            at = dt.datetime.fromisoformat(payload["t"])
            pk = int(payload["i"])
            backwards = bool(payload["b"])
        except InvalidCursor:
            raise
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise InvalidCursor(_("The cursor is not valid.")) from exc
        if at.tzinfo is None:
            raise InvalidCursor(_("The cursor is not valid."))
        return at, pk, backwards

    # --- pages ---------------------------------------------------------------------------------
    def _ordered(self, *, reverse: bool) -> QuerySet:
        newest_first = self.descending != reverse
        prefix = "-" if newest_first else ""
        return self.queryset.order_by(f"{prefix}{self.time_field}", f"{prefix}pk")

    def _after(self, at: dt.datetime, pk: int, *, newest_first: bool) -> Q:
        return keyset_after(self.time_field, at, pk, newest_first=newest_first)

    def page(self, cursor: str | None = None) -> KeysetPage:
        """The page a cursor points at; no cursor (or an empty one) is the first page."""
        if not cursor:
            return self._forward_page(None)
        at, pk, backwards = self.decode_cursor(cursor)
        if backwards:
            return self._backward_page(at, pk)
        return self._forward_page((at, pk))

    def _forward_page(self, position) -> KeysetPage:
        qs = self._ordered(reverse=False)
        if position is not None:
            qs = qs.filter(self._after(*position, newest_first=self.descending))
        rows = list(qs[: self.per_page + 1])
        has_more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        page = KeysetPage(rows, per_page=self.per_page, descending=self.descending, is_first=position is None)
        if has_more:
            page.next_cursor = self.encode_cursor(rows[-1], backwards=False)
        if position is not None and rows:
            page.previous_cursor = self.encode_cursor(rows[0], backwards=True)
        return page

    def values_in_chunks(self, fields: list[str], *, chunk_size: int, expressions: dict | None = None):
        """Every row of the queryset in the list's order, as dicts of `fields`, `chunk_size` at a time.

        `expressions` ({name: expression}) are computed in the query under their names (which
        may also be in `fields`).

        Each chunk is one keyset page (an index range scan), so the first row comes at once and
        memory stays flat. A server-side cursor over the whole filter instead let PostgreSQL plan
        a sort of every matching row before the first one (7.75 s into a 30-day export)."""
        expressions = expressions or {}
        names = [name for name in dict.fromkeys([*fields, self.time_field, "pk"]) if name not in expressions]
        ordered = self._ordered(reverse=False).values(*names, **expressions)
        position = None
        while True:
            chunk_query = ordered
            if position is not None:
                chunk_query = ordered.filter(self._after(*position, newest_first=self.descending))
            chunk = list(chunk_query[:chunk_size])
            yield from chunk
            if len(chunk) < chunk_size:
                return
            position = (chunk[-1][self.time_field], chunk[-1]["pk"])

    def _backward_page(self, at: dt.datetime, pk: int) -> KeysetPage:
        qs = self._ordered(reverse=True).filter(self._after(at, pk, newest_first=not self.descending))
        rows = list(qs[: self.per_page + 1])
        if len(rows) <= self.per_page:
            # Back at the start: show the full first page rather than a short remainder.
            return self._forward_page(None)
        rows = rows[: self.per_page]
        rows.reverse()
        page = KeysetPage(rows, per_page=self.per_page, descending=self.descending, is_first=False)
        page.next_cursor = self.encode_cursor(rows[-1], backwards=False)
        page.previous_cursor = self.encode_cursor(rows[0], backwards=True)
        return page
