"""Latency histograms: durations in fixed, log-spaced buckets, and percentiles read back from them.

Bucket 0 holds everything under 100 ms (and negative durations: clocks of two machines).
Bucket k ≥ 1 holds [100 ms × 2^((k-1)/4), 100 ms × 2^(k/4)): four buckets per doubling, so a
bucket is 19% wide and a percentile read from the counts is within about 9% of the exact one
(interpolated geometrically inside its bucket). The last bucket, from about 5.8 days, is open.
Fixed buckets are what make the rollup combinable: the counts of any days, channels or templates
add up to the histogram of their union, which per-day percentiles never would."""

import math
from collections.abc import Iterable

BASE_MS = 100.0
PER_DOUBLING = 4
LAST_BUCKET = 90  # from 100 ms × 2^(89/4) ≈ 5.8 days


def bucket_of(milliseconds: float) -> int:
    """The bucket a duration falls in (the SQL of the rollup computes the same)."""
    if milliseconds < BASE_MS:
        return 0
    return min(LAST_BUCKET, math.floor(PER_DOUBLING * math.log2(milliseconds / BASE_MS)) + 1)


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """[lower, upper) of a bucket in milliseconds; the last one's upper bound is its lower one."""
    if bucket <= 0:
        return 0.0, BASE_MS
    lower = BASE_MS * 2 ** ((bucket - 1) / PER_DOUBLING)
    if bucket >= LAST_BUCKET:
        return lower, lower
    return lower, BASE_MS * 2 ** (bucket / PER_DOUBLING)


def bucket_sql(duration_seconds: str) -> str:
    """SQL for `bucket_of` over an expression in seconds (LN and FLOOR exist on PostgreSQL, and on
    SQLite as functions Django registers)."""
    ms = f"(({duration_seconds}) * 1000.0)"
    return (
        f"CASE WHEN {ms} < {BASE_MS} THEN 0 "
        f"WHEN {ms} >= {bucket_bounds(LAST_BUCKET)[0]} THEN {LAST_BUCKET} "
        f"ELSE CAST(FLOOR({PER_DOUBLING} * LN({ms} / {BASE_MS}) / LN(2)) AS INTEGER) + 1 END"
    )


def percentile_ms(counts: dict[int, int], fraction: float) -> float | None:
    """The `fraction` (0.5: median) percentile of a histogram {bucket: count}, in milliseconds."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = fraction * total
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            lower, upper = bucket_bounds(bucket)
            share = (rank - seen) / count
            if bucket == 0:
                return upper * share
            return lower * (upper / lower) ** share
        seen += count
    return bucket_bounds(max(counts))[0]


def histogram_add(into: dict[int, int], rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    for bucket, count in rows:
        into[bucket] = into.get(bucket, 0) + count
    return into
