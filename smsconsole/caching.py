"""Values worth a few minutes in the cache (tag suggestions), read afresh when the cache is down.

A console page must not fail because its cache did: production's cache is Redis, and a cache error
or timeout here only costs the page the read it would have saved.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def cached_or_read(key: str, read, seconds: int):
    """`read()`'s value, kept under `key` for `seconds`; `read()` itself when the cache errors."""
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable: %s read from the database", key, exc_info=True)
        return read()
    if value is None:
        value = read()
        try:
            cache.set(key, value, seconds)
        except Exception:
            logger.warning("Cache unavailable: %s not kept", key, exc_info=True)
    return value
