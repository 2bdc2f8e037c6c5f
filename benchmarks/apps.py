from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Benchmark commands (`make bench`): they print measured numbers, on PostgreSQL."""

    name = "benchmarks"
