"""The benchmark figures' arithmetic: nearest-rank p95, and the cold first run kept apart."""

import pytest

from benchmarks.timing import Stopwatch, nearest_rank


@pytest.mark.parametrize(
    "n, expected",
    [(20, 19), (19, 19), (100, 95), (10, 10), (1, 1), (21, 20)],
)
def test_p95_is_the_nearest_rank(n, expected):
    values = [float(i) for i in range(n, 0, -1)]  # n … 1, unordered on purpose: the k-th smallest is k

    assert nearest_rank(values, 95) == expected


def test_the_median_is_nearest_rank_50_of_an_odd_count():
    assert nearest_rank([5.0, 1.0, 3.0], 50) == 3.0


def test_a_summary_reports_the_cold_run_apart_from_the_warm_ones():
    watch = Stopwatch()
    # The first lap is slow (cold); twenty warm laps of 1..20 ms.
    watch.samples = [0.5] + [i / 1000 for i in range(1, 21)]

    summary = watch.summary_ms()

    assert summary == "cold 500.00 ms; warm median 10.50 ms, p95 19.00 ms, max 20.00 ms (n=20)"


def test_a_single_lap_is_only_a_cold_run():
    watch = Stopwatch()
    with watch.lap():
        pass

    assert watch.summary_ms().startswith("cold ") and "n=1, no warm run" in watch.summary_ms()
    assert Stopwatch().summary_ms() == "no runs"
