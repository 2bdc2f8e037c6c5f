"""Faults injected into the test's database connection."""

from contextlib import contextmanager
from unittest import mock

import psycopg
from django.db import OperationalError, connection


@contextmanager
def dropped_while_writing(table: str):
    """The connection drops when rows are written to `table`: by an INSERT through Django's cursor,
    or by a COPY, which submission uses on PostgreSQL, through psycopg's."""
    lost = "server closed the connection unexpectedly"

    def wrapper(execute, sql, params, many, context):
        if f'INSERT INTO "{table}"' in sql:
            raise OperationalError(lost)
        return execute(sql, params, many, context)

    copy = psycopg.Cursor.copy

    def copy_or_drop(cursor, statement, *args, **kwargs):
        if str(statement).startswith(f"COPY {table} "):
            raise psycopg.OperationalError(lost)
        return copy(cursor, statement, *args, **kwargs)

    with connection.execute_wrapper(wrapper), mock.patch.object(psycopg.Cursor, "copy", copy_or_drop):
        yield
