"""The intercept list, a record's page, and deleting a record through the console."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from intercepts.models import Intercept, InterceptEvent, InterceptRule
from tests.factories import InterceptEventFactory, InterceptFactory, MessageFactory, SmsUserFactory

URL = reverse("intercepts:intercept-list")
PHONE = "+819012345678"


def listed_ids(response) -> list[int]:
    return [record.pk for record in response.context["table"].data.data]


def show_history_column(client) -> None:
    """The History column is one the column chooser shows (hidden by default)."""
    client.post(
        URL, {"column": ["scope", "return_code", "expires_at", "time_left", "reason", "origin", "history"]}
    )


def delete_url(record):
    return reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk})


def detail_url(record):
    return reverse("intercepts:intercept-detail", kwargs={"intercept_id": record.pk})


@pytest.fixture
def own_local(account):
    return InterceptFactory(
        account=account, scope="local", phone=PHONE, return_code=520, reason="BLACKLISTED"
    )


@pytest.mark.django_db
def test_list_shows_own_records_newest_first_with_time_left(operator_client, account, own_local):
    older = InterceptFactory(account=account, intercepted_at=timezone.now() - dt.timedelta(days=2))

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert listed_ids(response) == [own_local.pk, older.pk]
    content = response.content.decode()
    assert "BLACKLISTED" in content and "520 Blacklisted" in content
    assert "4\xa0weeks" in content  # time left of a 30-day record


@pytest.mark.django_db
def test_other_accounts_local_and_unrelated_global_records_are_hidden(operator_client, other_account):
    InterceptFactory(account=other_account, scope="local", phone=PHONE)
    InterceptFactory(account=other_account, scope="global")

    assert listed_ids(operator_client.get(URL)) == []


@pytest.mark.django_db
def test_global_record_that_blocked_our_message_is_shown_anonymously_without_delete(
    operator_client, account, other_account
):
    record = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    MessageFactory(
        account=account, status="processing_failed", reason="global_intercept", blocking_intercept=record
    )

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert listed_ids(response) == [record.pk]
    assert other_account.name not in content and other_account.slug not in content
    assert "contact support" in content
    assert delete_url(record) not in content


@pytest.mark.django_db
def test_exact_phone_lookup_shows_global_records_from_elsewhere(operator_client, account, other_account):
    global_record = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    InterceptFactory(account=other_account, scope="local", phone=PHONE)
    mine = InterceptFactory(account=account, scope="local", phone=PHONE)

    response = operator_client.get(URL, {"phone": "090-1234-5678"})

    assert set(listed_ids(response)) == {global_record.pk, mine.pk}


@pytest.mark.django_db
def test_scope_return_code_and_state_filters(operator_client, account):
    now = timezone.now()
    live_global = InterceptFactory(account=account, scope="global", return_code=500)
    live_local = InterceptFactory(account=account, scope="local", return_code=520)
    expired = InterceptFactory(
        account=account,
        scope="global",
        return_code=510,
        intercepted_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=2),
    )

    assert set(listed_ids(operator_client.get(URL, {"scope": "global", "state": ""}))) == {
        live_global.pk,
        expired.pk,
    }
    assert listed_ids(operator_client.get(URL, {"scope": "global"})) == [live_global.pk]  # live by default
    assert listed_ids(operator_client.get(URL, {"return_code": "520"})) == [live_local.pk]
    assert listed_ids(operator_client.get(URL, {"state": "expired"})) == [expired.pk]
    assert set(listed_ids(operator_client.get(URL, {"state": "live"}))) == {live_global.pk, live_local.pk}
    assert listed_ids(
        operator_client.get(URL, {"state": "live", "scope": "global", "return_code": "500"})
    ) == [live_global.pk]


@pytest.mark.django_db
def test_phone_combines_with_the_other_filters(operator_client, account, own_local):
    InterceptFactory(account=account, scope="global", phone=PHONE, return_code=500)

    response = operator_client.get(URL, {"phone": PHONE, "scope": "local"})

    assert listed_ids(response) == [own_local.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"phone": "12"}, "phone"),
        ({"scope": "planet"}, "scope"),
        ({"return_code": "999"}, "return_code"),
        ({"state": "zombie"}, "state"),
    ],
)
def test_bad_filter_values_are_form_errors(operator_client, own_local, params, field):
    response = operator_client.get(URL, params)

    assert response.status_code == 200
    assert field in response.context["filter"].form.errors


@pytest.mark.django_db
def test_each_record_shows_its_history_with_own_actors_named(operator_client, account, own_local, operator):
    backend = SmsUserFactory(account=account, name="nightly-batch")
    InterceptEventFactory(
        intercept_id=own_local.pk,
        account=account,
        kind="created",
        actor_sms_user=backend,
        actor_account=account,
    )
    InterceptEventFactory(intercept_id=own_local.pk, account=account, kind="extended", actor_account=account)
    show_history_column(operator_client)

    response = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert "SMS_USER nightly-batch" in content
    assert "Created" in content and "Extended" in content


@pytest.mark.django_db
def test_history_of_other_accounts_records_does_not_say_who(operator_client, account, other_account):
    record = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    MessageFactory(
        account=account, status="processing_failed", reason="global_intercept", blocking_intercept=record
    )
    bob_user = SmsUserFactory(account=other_account, name="bob-secret-batch")
    InterceptEventFactory(
        intercept_id=record.pk,
        account=other_account,
        kind="created",
        actor_sms_user=bob_user,
        actor_account=other_account,
    )
    show_history_column(operator_client)

    for url in (URL, detail_url(record)):
        content = operator_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "bob-secret-batch" not in content
        assert "Receipt pipeline" in content


@pytest.mark.django_db
def test_delete_asks_for_confirmation_then_deletes_with_an_audit_record(
    operator_client, operator, account, own_local
):
    confirm = operator_client.get(delete_url(own_local), HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200
    assert "Yes, delete it" in confirm.content.decode()
    assert Intercept.objects.filter(pk=own_local.pk).exists()

    response = operator_client.post(delete_url(own_local))

    assert response.status_code == 302
    assert response["Location"] == URL
    assert not Intercept.objects.filter(pk=own_local.pk).exists()
    audit = InterceptEvent.objects.get(intercept_id=own_local.pk, kind="deleted")
    assert audit.source == "console"
    assert audit.actor_user == operator
    assert audit.actor_account == account
    assert audit.record["phone"] == PHONE


@pytest.mark.django_db
def test_delete_needs_a_csrf_token(operator, own_local):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(delete_url(own_local))

    assert response.status_code == 403
    assert Intercept.objects.filter(pk=own_local.pk).exists()


@pytest.mark.django_db
def test_delete_with_the_forms_csrf_token_works(operator, own_local):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get(delete_url(own_local))

    response = client.post(delete_url(own_local), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert response.status_code == 302
    assert not Intercept.objects.filter(pk=own_local.pk).exists()


@pytest.mark.django_db
def test_delete_is_post_only_get_never_deletes(operator_client, own_local):
    operator_client.get(delete_url(own_local))

    assert Intercept.objects.filter(pk=own_local.pk).exists()


@pytest.mark.django_db
def test_a_global_record_from_elsewhere_cannot_be_deleted(operator_client, account, other_account):
    record = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    MessageFactory(
        account=account, status="processing_failed", reason="global_intercept", blocking_intercept=record
    )

    assert operator_client.get(delete_url(record)).status_code == 404
    assert operator_client.post(delete_url(record)).status_code == 404
    assert Intercept.objects.filter(pk=record.pk).exists()
    assert not InterceptEvent.objects.filter(kind="deleted").exists()


@pytest.mark.django_db
def test_a_rule_that_forbids_customer_deletion_hides_the_button(operator_client, account):
    InterceptRule.objects.filter(return_code=510).update(is_customer_deletable=False)
    record = InterceptFactory(account=account, return_code=510)

    assert delete_url(record) not in operator_client.get(URL).content.decode()
    assert operator_client.post(delete_url(record)).status_code == 404
    assert Intercept.objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
def test_other_accounts_records_are_404_everywhere(operator_client, other_account):
    record = InterceptFactory(account=other_account, scope="local", phone=PHONE)
    unrelated_global = InterceptFactory(account=other_account, scope="global")

    for target in (record, unrelated_global):
        assert operator_client.get(detail_url(target)).status_code == 404
        assert operator_client.get(delete_url(target)).status_code == 404
        assert operator_client.post(delete_url(target)).status_code == 404
    assert Intercept.objects.count() == 2


@pytest.mark.django_db
def test_record_page_shows_the_record_and_its_history(operator_client, account, own_local):
    InterceptEventFactory(intercept_id=own_local.pk, account=account, kind="created")

    response = operator_client.get(detail_url(own_local), HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert response.status_code == 200
    assert "+81 90-1234-5678" in content
    assert "Created" in content
    assert delete_url(own_local) in content
