"""Dispatch under faults: a dropped database connection, a dead worker, a broker that hangs.

The database faults are real: the dispatching session's PostgreSQL backend is terminated from a
second connection, exactly as a failover or an operator's `pg_terminate_backend` would do it.
"""

import datetime as dt
import socket
import threading
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from delivery.models import Channel, Message, MessageStatus
from delivery.services import dispatch
from delivery.services.dispatch import claim, handover
from smsconsole import clock
from smsconsole.models import Account
from tests.factories import TemplateFactory
from tests.pipeline.carrier import FakeCarrier
from tests.pipeline.helpers import events, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def carrier(account):
    channel = Channel.objects.create(code="carrier", kind="http", send_url="http://placeholder")
    with FakeCarrier(secret=channel.webhook_secret) as fake:
        channel.send_url = fake.url
        channel.save()
        Account.objects.filter(pk=account.pk).update(default_channel=channel)
        yield fake


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Your parcel {{order}} is on its way")


def numbers(count, start=0):
    return [f"+8190{2000_0000 + start + i}" for i in range(count)]


def dispatch_at(moment):
    with clock.frozen(moment):
        return dispatch.due_messages_dispatch()


# --- a dead worker holds one batch, for one lease -------------------------------------------------


def test_a_claim_takes_one_channel_batch_so_a_dead_worker_holds_no_more(api, template, carrier, settings):
    settings.SMS_DISPATCH_BATCH_SIZE = 3
    carrier.mode = "error"  # keep everything requesting while we look at the claims
    messages = send(api, template, *numbers(7))
    Message.objects.update(next_attempt_at=timezone.now())
    now = timezone.now()
    held = claim.messages_claim(now=now, message_ids=None).message_ids  # this worker dies here
    assert len(held) == 3

    carrier.mode = "accept"
    dispatch_at(now)  # another worker, at once: everything else goes out
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert sorted(pk for pk, status in statuses.items() if status == MessageStatus.REQUESTING) == sorted(held)
    assert set(carrier.refs()) == {m.pk for m in messages} - set(held)

    # Still held just before the lease lapses; sent right after.
    dispatch_at(now + claim.claim_lease() - dt.timedelta(seconds=1))
    assert Message.objects.filter(status=MessageStatus.REQUESTING).count() == 3
    dispatch_at(now + claim.claim_lease() + dt.timedelta(seconds=1))
    assert not Message.objects.filter(status=MessageStatus.REQUESTING).exists()
    assert sorted(carrier.refs()) == sorted(m.pk for m in messages)  # each exactly once


def test_the_lease_covers_the_channel_call_and_recording_through_a_dropped_connection(settings):
    settings.SMS_CHANNEL_TIMEOUT_SECONDS = 10
    settings.SMS_DISPATCH_RECORD_RETRY_SECONDS = 120
    lease = claim.claim_lease()
    assert lease >= dt.timedelta(seconds=2 * 10 + 120)
    assert lease <= dt.timedelta(minutes=3)  # not the old five minutes


def test_the_dispatch_tasks_time_limits_outlast_a_run_and_its_last_batch():
    from delivery import tasks

    longest = dispatch.DISPATCH_RUN_SECONDS + claim.claim_lease().total_seconds()
    for task in (tasks.dispatch_messages, tasks.dispatch_due):
        assert task.soft_time_limit > longest
        assert task.time_limit > task.soft_time_limit


# --- a dropped database connection (PostgreSQL) ---------------------------------------------------


def _second_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def _terminate(pid: int) -> None:
    with _second_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # Wait until the backend is really gone, as a failover would leave it.
        for _ in range(100):
            alive = other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
            if not alive:
                return
            time.sleep(0.02)


def _own_backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


@pytest.mark.postgresql  # terminates a PostgreSQL backend
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_waiting_on_the_carrier_still_records_its_answer(api, template, carrier):
    pid = {}

    def answer_after_the_database_drops(messages):
        _terminate(pid["dispatcher"])
        return {"accepted": [{"ref": m["ref"], "id": f"c-{m['ref']}"} for m in messages], "rejected": []}

    carrier.mode = "scripted"
    carrier.script = answer_after_the_database_drops
    pid["dispatcher"] = _own_backend_pid()  # the eager dispatch runs on this thread's connection
    first, second = send(api, template, *numbers(2))
    assert _own_backend_pid() != pid["dispatcher"]  # it did drop, and we reconnected
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.AWAITING_RECEIPT
        assert message.channel_message_id == f"c-{message.pk}"  # receipts will find it
        assert events(message) == ["requested", "checks_passed", "handed_to_channel"]
    # Nothing comes back later to be sent again.
    dispatch_at(timezone.now() + dt.timedelta(hours=1))
    assert carrier.refs() == [first.pk, second.pk]


@pytest.mark.postgresql  # terminates a PostgreSQL backend
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_recording_the_answer_records_it_after_reconnecting(
    api, template, carrier, monkeypatch
):
    original = handover.handed_record
    drops = []

    def drop_first(*args, **kwargs):
        if not drops:
            drops.append(_own_backend_pid())
            _terminate(drops[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(handover, "handed_record", drop_first)
    [message] = send(api, template, *numbers(1))
    assert drops  # the connection really dropped mid-transaction
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert message.channel_message_id == f"c-{message.pk}"
    assert events(message) == ["requested", "checks_passed", "handed_to_channel"]
    assert carrier.refs() == [message.pk]


@pytest.mark.postgresql  # terminates a PostgreSQL backend
@pytest.mark.django_db(transaction=True)
def test_a_database_away_longer_than_the_window_leaves_the_batch_to_its_lease_then_hands_it_over_again(
    api, template, carrier, monkeypatch, settings
):
    settings.SMS_DISPATCH_RECORD_RETRY_SECONDS = 0.5
    original = handover.handed_record

    def always_drop(*args, **kwargs):
        _terminate(_own_backend_pid())
        return original(*args, **kwargs)

    monkeypatch.setattr(handover, "handed_record", always_drop)
    [message] = send(api, template, *numbers(1))
    monkeypatch.undo()
    message.refresh_from_db()
    # Not failed, not "retry later": still requesting, held by its claim.
    assert message.status == MessageStatus.REQUESTING and message.next_attempt_at > timezone.now()
    dispatch_at(message.next_attempt_at + dt.timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == MessageStatus.AWAITING_RECEIPT
    assert message.channel_message_id == f"c-{message.pk}"
    # At least once: the same ref a second time, which the carrier uses to drop the repeat.
    assert carrier.refs() == [message.pk, message.pk]
    assert events(message).count("handed_to_channel") == 1


@pytest.mark.postgresql  # terminates a PostgreSQL backend
@pytest.mark.django_db(transaction=True)
def test_number_locks_whose_connection_dropped_do_not_hide_the_error_or_fail_the_release():
    from smsconsole.locks import advisory_locks_try

    with advisory_locks_try({"dispatch:1:+819012345678"}) as held:
        assert held
        _terminate(_own_backend_pid())
        from smsconsole.reconnect import connection_reset

        connection_reset()
    # The block ended without an error, and the lock went with the old session.
    with _second_connection() as other:
        from smsconsole.locks import _lock_id

        granted = other.execute(
            "SELECT pg_try_advisory_lock(%s)", [_lock_id("dispatch:1:+819012345678")]
        ).fetchone()[0]
        assert granted


# --- a broker that hangs ---------------------------------------------------------------------------


@pytest.fixture
def hung_broker(settings):
    """A Redis address that accepts connections and never answers: a broker stopped with SIGSTOP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []

    def accept_forever():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    yield accepted
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_hung_broker_does_not_hold_up_the_send_api(api, template, hung_broker):
    started = time.monotonic()
    messages = send(api, template, *numbers(3))
    elapsed = time.monotonic() - started
    assert hung_broker  # it really tried the broker
    assert elapsed < 2.5
    assert all(m.status == MessageStatus.REQUESTING for m in messages)  # stored; beat dispatches them


def test_a_hung_broker_does_not_hold_up_a_webhook(simulator, hung_broker):
    from tests.pipeline.helpers import post_webhook

    started = time.monotonic()
    receipt = {"id": "x1", "status": "delivered", "done_at": "2026-11-28T10:00:00Z"}
    response = post_webhook(simulator, "receipts", {"receipts": [receipt]})
    assert response.status_code == 202
    assert time.monotonic() - started < 2.5


def test_queueing_reaches_a_live_broker(settings):
    import redis

    from delivery.tasks import inbox_ingest
    from smsconsole.queueing import task_queue

    url = "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.delete("celery")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = url
    try:
        assert task_queue(inbox_ingest) is True
        assert client.llen("celery") == 1
    finally:
        client.delete("celery")
