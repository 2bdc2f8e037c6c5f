"""Writing many rows in one statement: each row with its own values.

Django's `bulk_update` writes `CASE WHEN id = … THEN …` per field; the database evaluates every
branch for every row, so a 5,000-row receipt batch costs seconds. Here the values travel as one
array per column, joined on the primary key (`UPDATE … FROM unnest(…)`), bound on the server, so
psycopg sends each array in binary instead of quoting 30,000 values into the SQL text. SQLite
(3.33+) takes a VALUES list instead. An optional guard keeps rows that have moved on in the
meantime (a status already final) out of the update.

`rows_insert` writes new rows with COPY on PostgreSQL: no model instances, no INSERT text.
"""

import json
from collections.abc import Iterable, Sequence

import psycopg
from django.db import connection
from psycopg.types.json import Jsonb

CHUNK_SIZE = 5000


def rows_update(
    objs: Sequence, fields: Sequence[str], *, where_in: dict[str, Iterable] | None = None, model=None
) -> int:
    """Write `fields` of each of `objs` to its row; return how many rows changed.

    `objs` are instances of one model, or of anything with `pk` and the fields' attributes if
    `model` says which table."""
    if not objs:
        return 0
    meta = (model or type(objs[0]))._meta
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

    changed = 0
    for start in range(0, len(objs), CHUNK_SIZE):
        chunk = objs[start : start + CHUNK_SIZE]
        if connection.vendor == "postgresql":
            # psycopg adapts Python values itself; Django's per-value preparation costs more than
            # the UPDATE on a 5,000-row batch. JSON is the one type it must be told about.
            values = [[obj.pk for obj in chunk]] + [
                [_server_value(getattr(obj, field.attname), field) for obj in chunk] for field in columns
            ]
            arrays = ", ".join(f"%s::{field.cast_db_type(connection)}[]" for field in [pk, *columns])
            sql = (
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({', '.join(names)}) "
                f"WHERE {table}.{pk_column} = v.{pk_column}{guard_sql}"
            )
            changed += _server_bound_execute(sql, [*values, *guard_params])
        else:
            values = [[pk.get_db_prep_save(obj.pk, connection) for obj in chunk]] + [
                [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in chunk]
                for field in columns
            ]
            row = "(" + ", ".join(["%s"] * len(names)) + ")"
            sql = (
                f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([row] * len(chunk))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk_column} = v.{pk_column}"
                f"{guard_sql}"
            )
            params = [value for row_values in zip(*values, strict=True) for value in row_values]
            with connection.cursor() as cursor:
                cursor.execute(sql, params + guard_params)
                changed += cursor.rowcount
    return changed


def _server_bound_execute(sql: str, params: list) -> int:
    # Django's cursors bind on the client (the values quoted into the SQL text); a plain psycopg
    # cursor on the same connection, and so in the same transaction, binds on the server.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def rows_insert(model, fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert `rows` (tuples of `fields`' values, Python values as the model holds them) into `model`'s table.

    JSON fields take dicts or lists. PostgreSQL: one COPY. SQLite: one executemany."""
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    is_json = [field.get_internal_type() == "JSONField" for field in columns]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in columns)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {meta.db_table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_copy_value(v, as_json) for v, as_json in zip(row, is_json, strict=True)])
        return
    prepared = [
        [field.get_db_prep_save(value, connection) for field, value in zip(columns, row, strict=True)]
        for row in rows
    ]
    if prepared:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                prepared,
            )


def _server_value(value, field):
    if field.get_internal_type() == "JSONField":
        return None if value is None else Jsonb(value)
    if isinstance(value, str) and type(value) is not str:
        return str(value)  # a TextChoices member: its value
    return value


def _copy_value(value, is_json: bool):
    if is_json:
        return json.dumps(value)
    if isinstance(value, str) and type(value) is not str:
        return str(value)  # a TextChoices member: its value
    return value
