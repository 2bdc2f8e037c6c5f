"""Intercept rules at their edges: which failures intercept a number, for how long and for whom,
what the audit and the message's send log say of it, and what a customer may see or delete."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.models import MessageStatus, Reason
from intercepts.models import Intercept, InterceptEvent, InterceptRule, Scope
from intercepts.services import intercept_delete_by_customer, intercepts_delete_by_operator
from smsconsole import clock
from smsconsole.exceptions import NotFound, PermissionDenied
from tests.delivery.test_receipts import awaiting, post_receipts, receipt
from tests.factories import InterceptFactory, MessageFactory

pytestmark = pytest.mark.django_db

PHONE = "+819011112222"


def history(record) -> list[str]:
    return list(
        InterceptEvent.objects.filter(intercept_id=record.pk).order_by("id").values_list("kind", flat=True)
    )


def listed(api, **params) -> set[int]:
    response = api.get("/api/v1/intercepts", params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def record_page(client, record):
    return client.get(reverse("intercepts:intercept-detail", kwargs={"intercept_id": record.pk}))


def blocked_by(account, record):
    """A message of `account` that `record` (another account's global record) blocked."""
    return MessageFactory(
        account=account,
        phone=record.phone,
        status=MessageStatus.PROCESSING_FAILED,
        reason=Reason.GLOBAL_INTERCEPT,
        blocking_intercept=record,
    )


# --- which failures intercept, and for how long -------------------------------------------------


def test_a_code_without_a_rule_fails_as_other_and_intercepts_nothing(account, simulator):
    InterceptRule.objects.filter(return_code=570).delete()
    message = awaiting(account, "m1")

    post_receipts(simulator, receipt("m1", "failed", code=570, detail="NO RULE"))

    message.refresh_from_db()
    assert (message.status, message.reason, message.return_code) == (MessageStatus.SEND_FAILED, "other", 570)
    assert not Intercept.objects.exists()
    assert not InterceptEvent.objects.exists()


def test_an_intercept_that_would_end_this_very_moment_is_not_created(account, simulator):
    now = timezone.now().replace(microsecond=0)
    awaiting(account, "m1")
    awaiting(account, "m2", phone="+819011113333")
    with clock.frozen(now):
        post_receipts(
            simulator,
            receipt("m1", "failed", code=510, done_at=now - dt.timedelta(hours=1)),
            receipt("m2", "failed", code=510, done_at=now - dt.timedelta(hours=1) + dt.timedelta(seconds=1)),
        )

    [record] = Intercept.objects.all()
    assert record.phone == "+819011113333"
    assert record.expires_at == now + dt.timedelta(seconds=1)


def test_a_carrier_clock_running_ahead_starts_the_intercept_now(account, simulator):
    now = timezone.now().replace(microsecond=0)
    message = awaiting(account, "m1")
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=510, done_at=now + dt.timedelta(days=1)))

    record = Intercept.objects.get()
    assert (record.intercepted_at, record.expires_at, record.updated_at) == (
        now,
        now + dt.timedelta(hours=1),
        now,
    )
    message.refresh_from_db()
    assert message.receipt_at == now


def test_local_failures_of_two_accounts_make_a_record_each(account, other_account, simulator):
    mine = awaiting(account, "m1", phone=PHONE)
    theirs = awaiting(other_account, "m2", phone=PHONE)

    post_receipts(
        simulator,
        receipt("m1", "failed", code=520, detail="BLACKLISTED BY A"),
        receipt("m2", "failed", code=520, detail="BLACKLISTED BY B"),
    )

    records = {r.account_id: r for r in Intercept.objects.filter(phone=PHONE)}
    assert set(records) == {account.pk, other_account.pk}
    assert all(r.scope == Scope.LOCAL for r in records.values())
    assert records[account.pk].source_message_id == mine.pk
    assert records[other_account.pk].source_message_id == theirs.pk
    assert records[other_account.pk].reason == "BLACKLISTED BY B"
    assert history(records[account.pk]) == ["created"] and history(records[other_account.pk]) == ["created"]


def test_global_failures_of_two_accounts_share_one_record_kept_by_its_originator(
    account, other_account, simulator
):
    now = timezone.now().replace(microsecond=0)
    first = awaiting(account, "m1", phone=PHONE)
    second = awaiting(other_account, "m2", phone=PHONE)
    post_receipts(simulator, receipt("m1", "failed", code=510, done_at=now - dt.timedelta(minutes=5)))
    later = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=1)
    with clock.frozen(later):
        post_receipts(simulator, receipt("m2", "failed", code=560, done_at=later, detail="DEVICE FAULT"))

    record = Intercept.objects.get(phone=PHONE)
    assert record.account_id == account.pk  # still the originator's record
    assert (record.return_code, record.reason, record.source_message_id) == (560, "DEVICE FAULT", second.pk)
    assert record.intercepted_at == now - dt.timedelta(minutes=5)
    assert (record.expires_at, record.updated_at) == (later + dt.timedelta(hours=1), later)
    created, extended = InterceptEvent.objects.filter(intercept_id=record.pk).order_by("id")
    assert (created.kind, created.actor_account_id, created.record["message_id"]) == (
        "created",
        account.pk,
        first.pk,
    )
    assert (extended.kind, extended.actor_account_id, extended.record["message_id"]) == (
        "extended",
        other_account.pk,
        second.pk,
    )
    assert extended.account_id == account.pk and extended.at == later


def test_a_record_and_its_extension_in_one_batch_are_stored_as_the_longest(account, simulator):
    now = timezone.now().replace(microsecond=0)
    awaiting(account, "m1", phone=PHONE)
    awaiting(account, "m2", phone=PHONE)
    with clock.frozen(now):
        post_receipts(
            simulator,
            receipt("m1", "failed", code=500, done_at=now - dt.timedelta(minutes=1), detail="UNKNOWN"),
            receipt("m2", "failed", code=510, done_at=now, detail="SUSPENDED"),
        )

    record = Intercept.objects.get()
    assert record.expires_at == now - dt.timedelta(minutes=1) + dt.timedelta(days=30)
    assert (record.return_code, record.reason) == (510, "SUSPENDED")
    assert record.intercepted_at == now - dt.timedelta(minutes=1)


def test_an_expired_record_started_again_by_a_new_failure_is_recorded_as_created(account, simulator):
    now = timezone.now().replace(microsecond=0)
    old = InterceptFactory(
        account=account,
        phone=PHONE,
        scope=Scope.GLOBAL,
        intercepted_at=now - dt.timedelta(days=3),
        expires_at=now - dt.timedelta(days=2),
    )
    message = awaiting(account, "m1", phone=PHONE)
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=560, done_at=now, detail="FAULT"))

    record = Intercept.objects.get()
    assert record.pk == old.pk
    assert (record.expires_at, record.updated_at, record.source_message_id) == (
        now + dt.timedelta(hours=1),
        now,
        message.pk,
    )
    [event] = InterceptEvent.objects.all()
    assert (event.kind, event.intercept_id, event.record["expires_at"]) == (
        "created",
        old.pk,
        (now + dt.timedelta(hours=1)).isoformat(),
    )
    assert message.events.get(kind="intercepted").detail["action"] == "created"


# --- what the audit and the send log say ---------------------------------------------------------


def test_the_audit_and_the_send_log_describe_the_new_record(account, simulator):
    now = timezone.now().replace(microsecond=0)
    message = awaiting(account, "m1", phone=PHONE)
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=520, done_at=now, detail="BLACKLISTED"))

    record = Intercept.objects.get()
    expires = now + dt.timedelta(hours=1)
    [event] = InterceptEvent.objects.all()
    assert (event.intercept_id, event.phone, event.scope, event.account_id, event.kind) == (
        record.pk,
        PHONE,
        "local",
        account.pk,
        "created",
    )
    assert (event.at, event.source, event.actor_account_id, event.actor_user, event.actor_sms_user) == (
        now,
        "pipeline",
        account.pk,
        None,
        None,
    )
    assert event.record == {
        "id": record.pk,
        "phone": PHONE,
        "scope": "local",
        "account_id": account.pk,
        "return_code": 520,
        "reason": "BLACKLISTED",
        "intercepted_at": now.isoformat(),
        "expires_at": expires.isoformat(),
        "source_message_id": message.pk,
        "message_id": message.pk,
    }
    logged = message.events.get(kind="intercepted")
    assert logged.at == now
    assert logged.detail == {
        "intercept_id": record.pk,
        "action": "created",
        "scope": "local",
        "expires_at": expires.isoformat(),
    }


def test_an_extension_is_in_the_send_log_of_the_message_that_extended_it(account, simulator):
    now = timezone.now().replace(microsecond=0)
    first = awaiting(account, "m1", phone=PHONE)
    second = awaiting(account, "m2", phone=PHONE)
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=500, done_at=now))
        post_receipts(simulator, receipt("m2", "failed", code=510, done_at=now))

    record = Intercept.objects.get()
    assert first.events.get(kind="intercepted").detail["action"] == "created"
    assert second.events.get(kind="intercepted").detail == {
        "intercept_id": record.pk,
        "action": "extended",
        "scope": "global",
        "expires_at": (now + dt.timedelta(days=30)).isoformat(),
    }


# --- what a customer may see and delete ----------------------------------------------------------


def test_a_customer_deletes_its_own_record_with_an_audit_of_what_it_was(account, operator):
    record = InterceptFactory(account=account, phone=PHONE, scope=Scope.LOCAL, return_code=520, reason="BL")

    intercept_delete_by_customer(
        account=account, intercept_id=record.pk, source="console", actor_user=operator
    )

    assert not Intercept.objects.exists()
    event = InterceptEvent.objects.get()
    assert (event.intercept_id, event.phone, event.scope, event.account_id, event.kind, event.source) == (
        record.pk,
        PHONE,
        "local",
        account.pk,
        "deleted",
        "console",
    )
    assert (event.actor_user, event.actor_sms_user, event.actor_account) == (operator, None, account)
    assert event.record == {
        "id": record.pk,
        "phone": PHONE,
        "scope": "local",
        "account_id": account.pk,
        "return_code": 520,
        "reason": "BL",
        "intercepted_at": record.intercepted_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "source_message_id": None,
    }


def test_a_global_record_that_blocked_us_is_visible_but_not_deletable(api, account, other_account):
    theirs = InterceptFactory(account=other_account, scope=Scope.GLOBAL, phone=PHONE)
    blocked_by(account, theirs)

    assert theirs.pk in listed(api)
    with pytest.raises(NotFound):
        intercept_delete_by_customer(account=account, intercept_id=theirs.pk, source="api")
    assert api.delete(f"/api/v1/intercepts/{theirs.pk}").status_code == 404
    assert Intercept.objects.filter(pk=theirs.pk).exists()
    assert not InterceptEvent.objects.exists()


def test_only_a_message_the_record_blocked_on_the_global_list_shows_it(
    api, operator_client, account, other_account
):
    MessageFactory.create_batch(5, account=account)  # so that no message shares its id with a record
    blocked = InterceptFactory(account=other_account, scope=Scope.GLOBAL)
    blocked_by(account, blocked)
    # Records linked to our messages some other way, or to another account's message, stay hidden.
    local_reason = InterceptFactory(account=other_account, scope=Scope.GLOBAL)
    MessageFactory(
        account=account,
        phone=local_reason.phone,
        status=MessageStatus.PROCESSING_FAILED,
        reason=Reason.LOCAL_INTERCEPT,
        blocking_intercept=local_reason,
    )
    elsewhere = InterceptFactory(account=other_account, scope=Scope.GLOBAL)
    blocked_by(other_account, elsewhere)
    local = InterceptFactory(account=other_account, scope=Scope.LOCAL)
    blocked_by(account, local)

    assert listed(api) == {blocked.pk}
    assert record_page(operator_client, blocked).status_code == 200
    for hidden in (local_reason, elsewhere, local):
        assert record_page(operator_client, hidden).status_code == 404


def test_a_record_with_no_rule_may_be_deleted_by_its_originator(api, account):
    InterceptRule.objects.filter(return_code=570).delete()
    record = InterceptFactory(account=account, return_code=570)

    [row] = api.get("/api/v1/intercepts").json()["results"]
    assert row["id"] == record.pk and row["can_delete"] is True
    assert api.delete(f"/api/v1/intercepts/{record.pk}").status_code == 204
    assert not Intercept.objects.exists()


def test_a_support_only_record_is_refused_to_the_customer(account, operator):
    InterceptRule.objects.filter(return_code=510).update(is_customer_deletable=False)
    record = InterceptFactory(account=account, return_code=510)

    with pytest.raises(PermissionDenied):
        intercept_delete_by_customer(
            account=account, intercept_id=record.pk, source="console", actor_user=operator
        )
    assert Intercept.objects.filter(pk=record.pk).exists()


def test_the_largest_record_id_still_names_a_record(api, account):
    record = InterceptFactory(id=2**63 - 1, account=account)

    assert api.delete(f"/api/v1/intercepts/{record.pk}").status_code == 204
    assert not Intercept.objects.exists()


def test_an_operator_deletes_at_most_a_hundred_records_at_once(account, operator):
    now = timezone.now()
    records = Intercept.objects.bulk_create(
        Intercept(
            phone=f"+8190{n:08d}",
            scope=Scope.LOCAL,
            account=account,
            return_code=520,
            reason="BL",
            intercepted_at=now - dt.timedelta(seconds=n),
            expires_at=now + dt.timedelta(days=1),
            updated_at=now,
        )
        for n in range(101)
    )
    ids = sorted(Intercept.objects.values_list("pk", flat=True))
    assert len(records) == 101

    assert intercepts_delete_by_operator(account=account, intercept_ids=ids, actor_user=operator) == 100
    assert list(Intercept.objects.values_list("pk", flat=True)) == [ids[100]]
    audit = InterceptEvent.objects.filter(kind="deleted")
    assert audit.count() == 100
    assert set(audit.values_list("source", "actor_user", "actor_account")) == {
        ("console", operator.pk, account.pk)
    }


def test_an_operator_cannot_delete_a_record_that_expired_a_moment_ago(account, operator):
    now = timezone.now().replace(microsecond=0)
    record = InterceptFactory(account=account, intercepted_at=now - dt.timedelta(hours=1), expires_at=now)

    with clock.frozen(now):
        assert (
            intercepts_delete_by_operator(account=account, intercept_ids=[record.pk], actor_user=operator)
            == 0
        )
    with clock.frozen(now - dt.timedelta(seconds=1)):
        assert (
            intercepts_delete_by_operator(account=account, intercept_ids=[record.pk], actor_user=operator)
            == 1
        )


def test_a_record_that_blocked_us_opens_even_from_a_lookup_of_another_number(
    operator_client, account, other_account
):
    theirs = InterceptFactory(account=other_account, scope=Scope.GLOBAL, phone=PHONE)
    blocked_by(account, theirs)

    page = operator_client.get(
        reverse("intercepts:intercept-detail", kwargs={"intercept_id": theirs.pk}), {"phone": "+819055556666"}
    )

    assert page.status_code == 200


def test_a_customer_is_told_why_a_record_cannot_be_deleted(api, account, other_account):
    InterceptRule.objects.filter(return_code=510).update(is_customer_deletable=False)
    support_only = InterceptFactory(account=account, return_code=510)
    theirs = InterceptFactory(account=other_account)

    missing = api.delete(f"/api/v1/intercepts/{theirs.pk}", HTTP_ACCEPT_LANGUAGE="en")
    refused = api.delete(f"/api/v1/intercepts/{support_only.pk}", HTTP_ACCEPT_LANGUAGE="en")

    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "No such intercept record in this account.",
    )
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "This record can only be cleared by support; please contact them.",
    )


def test_a_local_record_failing_again_for_its_originator_is_extended(account, simulator):
    now = timezone.now().replace(microsecond=0)
    awaiting(account, "m1", phone=PHONE)
    second = awaiting(account, "m2", phone=PHONE)
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=520, done_at=now - dt.timedelta(minutes=1)))
        post_receipts(simulator, receipt("m2", "failed", code=550, done_at=now, detail="CONTENT"))

    record = Intercept.objects.get()
    assert (record.scope, record.return_code, record.reason) == ("local", 550, "CONTENT")
    assert record.expires_at == now + dt.timedelta(hours=1)
    assert history(record) == ["created", "extended"]
    assert second.events.get(kind="intercepted").detail["action"] == "extended"


def test_a_record_another_worker_created_meanwhile_is_extended_not_duplicated(
    account, other_account, simulator, monkeypatch
):
    now = timezone.now().replace(microsecond=0)
    message = awaiting(account, "m1", phone=PHONE)
    manager = Intercept.objects
    real_bulk_create = manager.bulk_create

    def another_worker_first(records, **kwargs):
        # What a concurrent worker committed between our look and our insert.
        InterceptFactory(
            account=other_account,
            phone=PHONE,
            scope=Scope.GLOBAL,
            return_code=570,
            reason="OUT OF AREA",
            intercepted_at=now,
            expires_at=now + dt.timedelta(minutes=10),
        )
        return real_bulk_create(records, **kwargs)

    monkeypatch.setattr(manager, "bulk_create", another_worker_first)
    with clock.frozen(now):
        post_receipts(simulator, receipt("m1", "failed", code=560, done_at=now, detail="DEVICE FAULT"))

    record = Intercept.objects.get()  # theirs, extended by our failure
    assert record.account_id == other_account.pk
    assert (record.return_code, record.reason, record.source_message_id) == (560, "DEVICE FAULT", message.pk)
    assert (record.expires_at, record.updated_at) == (now + dt.timedelta(hours=1), now)
    logged = message.events.get(kind="intercepted").detail
    assert (logged["intercept_id"], logged["expires_at"]) == (
        record.pk,
        (now + dt.timedelta(hours=1)).isoformat(),
    )
    assert set(InterceptEvent.objects.values_list("intercept_id", flat=True)) == {record.pk}


def test_what_blocks_a_batch_is_any_live_global_record_and_each_accounts_own_local_ones(
    account, other_account
):
    from intercepts.selectors import blocking_intercepts

    now = timezone.now()
    global_record = InterceptFactory(account=other_account, scope=Scope.GLOBAL, phone=PHONE)
    mine = InterceptFactory(account=account, scope=Scope.LOCAL, phone=PHONE)
    InterceptFactory(account=other_account, scope=Scope.LOCAL, phone=PHONE)
    InterceptFactory(account=account, scope=Scope.GLOBAL, phone="+819099990000")
    InterceptFactory(
        account=account,
        scope=Scope.GLOBAL,
        phone="+819055556666",
        intercepted_at=now - dt.timedelta(hours=2),
        expires_at=now - dt.timedelta(hours=1),
    )

    found = blocking_intercepts(phones=[PHONE, "+819055556666"], account_ids=[account.pk], at=now)

    assert {r.pk for r in found} == {global_record.pk, mine.pk}
    assert blocking_intercepts(phones=[], account_ids=[account.pk], at=now) == []
