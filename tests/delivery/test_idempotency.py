"""The send API's Idempotency-Key: a retry with the same key and body never sends twice."""

import datetime as dt
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from delivery.models import Message
from delivery.services.submission import messages_submit
from smsconsole import clock
from smsconsole.idempotency import IdempotentRequest, request_hash
from smsconsole.models import IdempotencyKey
from smsconsole.tasks import idempotency_keys_purge
from tests.factories import SmsUserFactory, TemplateFactory
from tests.faults import dropped_while_writing

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Code {{code}}")


def payload(template, *phones, tag="login"):
    return {
        "template": template.pk,
        "tag": tag,
        "messages": [{"to": phone, "vars": {"code": "1234"}} for phone in phones or ["+819011112222"]],
    }


def send(client, body, key=None, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/messages", body, format="json", headers=headers, **extra)


def test_a_retry_with_the_same_key_and_body_answers_the_first_answer_and_stores_nothing(api, template):
    first = send(api, payload(template, "+819011112222", "+819033334444"), key="order-4821")
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first
    retry = send(api, payload(template, "+819011112222", "+819033334444"), key="order-4821")
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 2


def test_the_body_is_compared_as_json_not_as_bytes(api, template):
    body = payload(template)
    assert send(api, body, key="k1").status_code == 202
    reordered = (
        '{"messages": [{"vars": {"code": "1234"}, "to": "+819011112222"}], "tag": "login", "template": %d}'
    )
    retry = api.generic(
        "POST",
        "/api/v1/messages",
        reordered % template.pk,
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    assert retry.status_code == 202 and retry["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"tag": "other"},
        {"messages": [{"to": "+819099998888", "vars": {"code": "1234"}}]},
        {"messages": [{"to": "+819011112222", "vars": {"code": "9999"}}]},
    ],
)
def test_the_same_key_with_another_body_is_a_409_and_stores_nothing(api, template, change):
    first = send(api, payload(template), key="k1")
    assert first.status_code == 202
    response = send(api, {**payload(template), **change}, key="k1")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "idempotency_conflict" and "Idempotency-Key" in body["detail"]
    assert Message.objects.count() == 1


def test_without_a_key_every_request_is_new(api, template):
    assert send(api, payload(template)).status_code == 202
    assert send(api, payload(template)).status_code == 202
    assert Message.objects.count() == 2


def test_keys_belong_to_one_sms_user(api, other_api, account, other_account, template):
    assert send(api, payload(template), key="shared").status_code == 202
    colleague = APIClient()
    colleague.credentials(HTTP_AUTHORIZATION=f"Bearer {SmsUserFactory(account=account).raw_key}")
    response = send(colleague, payload(template), key="shared")
    assert response.status_code == 202 and "Idempotent-Replayed" not in response
    foreign = send(other_api, payload(TemplateFactory(account=other_account)), key="shared")
    assert foreign.status_code == 202 and "Idempotent-Replayed" not in foreign
    assert Message.objects.count() == 3


def test_a_refused_request_does_not_use_up_its_key(api, template):
    assert send(api, {**payload(template), "template": 999999}, key="k1").status_code == 400
    assert send(api, payload(template, "12345"), key="k1").status_code == 400
    response = send(api, payload(template), key="k1")
    assert response.status_code == 202 and "Idempotent-Replayed" not in response
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "key",
    ["", " ", " leading", "trailing ", "k" * 256, "tab\tinside", "del\x7f", "caf\u00e9", "new\nline"],
)
def test_a_malformed_key_is_a_400_naming_the_header(api, template, key):
    response = send(api, payload(template), key=key)
    assert response.status_code == 400
    body = response.json()
    assert "Idempotency-Key" in body["errors"] and body["code"] == "invalid"
    assert not Message.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(api, template):
    key = "".join(chr(c) for c in range(0x21, 0x7F)) + "x" * (255 - 94)
    assert send(api, payload(template), key=key).status_code == 202
    assert send(api, payload(template), key=key)["Idempotent-Replayed"] == "true"


def test_a_key_stops_counting_after_24_hours(api, template):
    start = clock.now()
    with clock.frozen(start):
        assert send(api, payload(template), key="k1").status_code == 202
    with clock.frozen(start + dt.timedelta(hours=23, minutes=59)):
        assert send(api, payload(template), key="k1")["Idempotent-Replayed"] == "true"
        assert send(api, payload(template, tag="x"), key="k1").status_code == 409
    with clock.frozen(start + dt.timedelta(hours=24, seconds=1)):
        response = send(api, payload(template, tag="x"), key="k1")
        assert response.status_code == 202 and "Idempotent-Replayed" not in response
        assert send(api, payload(template, tag="x"), key="k1")["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


def test_the_periodic_purge_deletes_keys_older_than_24_hours_only(api, template):
    start = clock.now()
    with clock.frozen(start - dt.timedelta(hours=25)):
        send(api, payload(template), key="old")
    with clock.frozen(start - dt.timedelta(hours=23)):
        send(api, payload(template), key="young")
    with clock.frozen(start):
        assert idempotency_keys_purge.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


def test_the_purge_runs_from_the_beat_schedule():
    from smsconsole.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "smsconsole.tasks.idempotency_keys_purge" in tasks
    assert "smsconsole.tasks.idempotency_keys_purge" in app.tasks


@pytest.mark.parametrize("table", ["delivery_message", "delivery_messageevent", "smsconsole_idempotencykey"])
def test_a_connection_lost_mid_send_is_a_503_and_the_retry_sends_once(api, template, table):
    with dropped_while_writing(table):
        response = send(api, payload(template), key="k1")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable" and response["Retry-After"]
    assert not Message.objects.exists() and not IdempotencyKey.objects.exists()
    retry = send(api, payload(template), key="k1")
    assert retry.status_code == 202 and "Idempotent-Replayed" not in retry
    assert send(api, payload(template), key="k1")["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


def lose_the_race_to(*, sms_user, template_id, tag, recipients, key, body):
    """Right after this request looked the key up (and found nothing), a concurrent request with the
    same key stores its batch: this request then fails the unique constraint."""
    state = {"done": False}

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not state["done"] and sql.startswith("SELECT") and '"smsconsole_idempotencykey"' in sql:
            state["done"] = True
            messages_submit(
                sms_user=sms_user,
                template_id=template_id,
                tag=tag,
                recipients=recipients,
                idempotency=IdempotentRequest(key=key, request_hash=request_hash(body)),
            )
        return result

    return connection.execute_wrapper(wrapper)


def test_a_request_that_loses_a_race_with_the_same_body_answers_the_winners_answer(api, sms_user, template):
    body = payload(template)
    recipients = [{"to": "+819011112222", "vars": {"code": "1234"}}]
    with lose_the_race_to(
        sms_user=sms_user, template_id=template.pk, tag="login", recipients=recipients, key="k1", body=body
    ):
        response = send(api, body, key="k1")
    assert response.status_code == 202 and response["Idempotent-Replayed"] == "true"
    winner = Message.objects.get()
    assert response.json() == {"messages": [{"id": winner.pk, "to": "+819011112222", "status": "requesting"}]}


def test_a_request_that_loses_a_race_with_another_body_is_a_409(api, sms_user, template):
    winner_body = payload(template, "+819055556666")
    recipients = [{"to": "+819055556666", "vars": {"code": "1234"}}]
    with lose_the_race_to(
        sms_user=sms_user,
        template_id=template.pk,
        tag="login",
        recipients=recipients,
        key="k1",
        body=winner_body,
    ):
        response = send(api, payload(template), key="k1")
    assert response.status_code == 409
    assert list(Message.objects.values_list("phone", flat=True)) == ["+819055556666"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql  # concurrent transactions: SQLite has one writer
def test_two_concurrent_requests_with_one_key_store_one_batch(sms_user, template):
    """Both requests look the key up before either stores it; the second insert waits for the first
    commit, fails the unique constraint, rolls back its batch and answers the first one's answer."""
    looked_up = threading.Barrier(2, timeout=10)
    responses = []

    def request():
        waited = []

        def wait_after_lookup(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if not waited and sql.startswith("SELECT") and '"smsconsole_idempotencykey"' in sql:
                waited.append(True)
                looked_up.wait()  # the other request has looked the key up too: neither found it
            return result

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {sms_user.raw_key}")
        try:
            with connection.execute_wrapper(wait_after_lookup):
                responses.append(send(client, payload(template), key="k1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in responses] == [202, 202]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Message.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_the_schema_documents_the_header_and_the_409(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/v1/schema").content)
    send_op = schema["paths"]["/api/v1/messages"]["post"]
    headers = [p for p in send_op["parameters"] if p["in"] == "header"]
    assert [p["name"] for p in headers] == ["Idempotency-Key"]
    assert {"202", "400", "401", "409", "413", "503"} <= set(send_op["responses"])
