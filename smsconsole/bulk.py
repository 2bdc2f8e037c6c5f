"""Updating many rows, each with its own values, in one statement.

Django's `bulk_update` writes `CASE WHEN id = … THEN …` per field; the database evaluates every
branch for every row, so a 5,000-row receipt batch costs seconds. Here the values travel as a
VALUES list joined on the primary key (`WITH v(...) AS (VALUES …) UPDATE … FROM v`), which both
PostgreSQL and SQLite (3.33+) run in one pass. An optional guard keeps rows that have moved on in
the meantime (a status already final) out of the update.
"""

from collections.abc import Iterable, Sequence

from django.db import connection

CHUNK_SIZE = 5000


def rows_update(objs: Sequence, fields: Sequence[str], *, where_in: dict[str, Iterable] | None = None) -> int:
    """Write `fields` of each of `objs` (one model) to its row; return how many rows changed."""
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk_column = quote(pk.column)
    names = [pk_column] + [quote(field.column) for field in columns]
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns)
    guard_sql, guard_params = "", []
    for name, values in (where_in or {}).items():
        values = list(values)
        guard_sql += (
            f" AND {table}.{quote(meta.get_field(name).column)} IN ({', '.join(['%s'] * len(values))})"
        )
        guard_params += values
    row_placeholder = "(" + ", ".join(_placeholder(field) for field in [pk, *columns]) + ")"

    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK_SIZE):
            chunk = objs[start : start + CHUNK_SIZE]
            params = []
            for obj in chunk:
                params.append(pk.get_db_prep_save(obj.pk, connection))
                params.extend(
                    field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns
                )
            sql = (
                f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([row_placeholder] * len(chunk))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk_column} = v.{pk_column}"
                f"{guard_sql}"
            )
            cursor.execute(sql, params + guard_params)
            changed += cursor.rowcount
    return changed


def _placeholder(field) -> str:
    # PostgreSQL types a VALUES list from its first row; say what each column is so NULLs and
    # timestamps are not read as text.
    if connection.vendor == "postgresql":
        return f"%s::{field.cast_db_type(connection)}"
    return "%s"
