"""Advisory locks: serialising work on a key (an account's phone number) across worker processes."""

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

from smsconsole.reconnect import connection_reset

logger = logging.getLogger(__name__)


def _lock_id(key: str) -> int:
    # pg_advisory_lock takes a signed 64-bit integer; a keyed hash keeps unrelated keys apart.
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"smsconsole").digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_locks_try(keys: Iterable[str]) -> Iterator[set[str]]:
    """Take whichever of `keys` no other session holds, without waiting; yield the ones taken.

    Session-level locks: they outlive the transactions inside the block and are released at its
    end (or when the connection closes, if the process dies). SQLite has one writer at a time and
    no such locks: every key is granted.
    """
    keys = set(keys)
    if connection.vendor != "postgresql" or not keys:
        yield keys
        return
    ids = {_lock_id(key): key for key in keys}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, pg_try_advisory_lock(id) FROM unnest(%s::bigint[]) AS id ORDER BY id", [list(ids)]
        )
        taken = [lock_id for lock_id, granted in cursor.fetchall() if granted]
        holder = connection.connection
    try:
        yield {ids[lock_id] for lock_id in taken}
    finally:
        if taken:
            _release(taken, holder)


def _release(lock_ids: list[int], holder) -> None:
    # The locks belong to the session that took them. If that connection has dropped (and
    # perhaps been replaced by a new one), they went with it: there is nothing to release, and
    # an error here would only hide the one that dropped it.
    if connection.connection is not holder:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(id) FROM unnest(%s::bigint[]) AS id", [lock_ids])
    except DatabaseError:
        logger.warning("releasing %d number locks failed; they end with the connection", len(lock_ids))
        connection_reset()
