"""End-to-end fault harness: the whole platform under faults, checked against a fake carrier.

`python -m e2e --messages N` (or `make e2e`) starts gunicorn, a Celery worker and beat, a redis
of its own and a fresh PostgreSQL database, plus a fake carrier speaking the `http` channel
protocol; sends N messages per phase across two accounts while it injects one fault per phase
(worker SIGKILL mid-dispatch and mid-ingestion, broker SIGKILL and SIGSTOP, termination of the
database backends); and checks from the database and the carrier's own records that nothing was
lost and nothing was handed over twice beyond the documented at-least-once case.

Modules: `processes` (starting, killing, cleaning up), `carrier` (the fake carrier), `client`
(the API client), `faults` (the phases), `checks` (settling and the checks), `report` (the table).
See docs/reliability.md for what is promised and how each promise is tested.
"""
