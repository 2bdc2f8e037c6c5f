"""Staff side: find global intercepts by phone however typed, clear one or many, audited, read-only log."""

import pytest
from django.urls import reverse

from intercepts.models import Intercept, InterceptEvent
from tests.factories import InterceptFactory

CHANGELIST = reverse("admin:intercepts_intercept_changelist")


@pytest.mark.django_db
def test_find_by_phone_typed_the_national_way(staff_client, account):
    InterceptFactory(account=account, scope="global", phone="+819011112222")
    InterceptFactory(account=account, scope="global", phone="+819033334444")

    response = staff_client.get(CHANGELIST, {"q": "090-1111-2222"})

    content = response.content.decode()
    assert "+819011112222" in content and "+819033334444" not in content


@pytest.mark.django_db
def test_filter_global_records(staff_client, account):
    InterceptFactory(account=account, scope="global", phone="+819011112222")
    InterceptFactory(account=account, scope="local", phone="+819033334444")

    content = staff_client.get(CHANGELIST, {"scope__exact": "global"}).content.decode()

    assert "+819011112222" in content and "+819033334444" not in content


@pytest.mark.django_db
def test_clear_one_record_from_its_page_is_audited(staff_client, staff_user, other_account):
    record = InterceptFactory(account=other_account, scope="global", phone="+819011112222")
    delete_url = reverse("admin:intercepts_intercept_delete", args=[record.pk])

    assert staff_client.get(delete_url).status_code == 200
    response = staff_client.post(delete_url, {"post": "yes"})

    assert response.status_code == 302
    assert not Intercept.objects.exists()
    audit = InterceptEvent.objects.get(kind="deleted")
    assert (audit.intercept_id, audit.source, audit.actor_user) == (record.pk, "admin", staff_user)
    assert audit.record["phone"] == "+819011112222"


@pytest.mark.django_db
def test_there_is_no_unaudited_bulk_delete(staff_client, account):
    InterceptFactory(account=account)

    content = staff_client.get(CHANGELIST).content.decode()

    assert 'value="delete_selected"' not in content
    assert 'value="clear"' in content


@pytest.mark.django_db
def test_audit_log_lists_deletions_by_phone_and_cannot_be_edited(staff_client, account, operator_client):
    mine = InterceptFactory(account=account, scope="local", phone="+819011112222")
    operator_client.post(reverse("intercepts:intercept-delete", kwargs={"intercept_id": mine.pk}))
    audit = InterceptEvent.objects.get(kind="deleted")

    listing = staff_client.get(reverse("admin:intercepts_interceptdeletion_changelist"), {"q": "09011112222"})

    content = listing.content.decode()
    assert "+819011112222" in content and "alice" in content
    assert staff_client.get(reverse("admin:intercepts_interceptdeletion_add")).status_code == 403
    assert (
        staff_client.post(reverse("admin:intercepts_interceptevent_change", args=[audit.pk]), {}).status_code
        == 403
    )
    assert InterceptEvent.objects.get(pk=audit.pk).source == "console"


@pytest.mark.django_db
def test_audit_search_by_record_id_finds_that_records_events_only(staff_client, account):
    from tests.factories import InterceptEventFactory

    wanted = InterceptEventFactory(intercept_id=12, phone="+819011112222", account=account, kind="deleted")
    InterceptEventFactory(intercept_id=123, phone="+819033334444", account=account, kind="deleted")
    url = reverse("admin:intercepts_interceptevent_changelist")

    found = staff_client.get(url, {"q": "12"}, HTTP_ACCEPT_LANGUAGE="en")

    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [wanted]
    content = found.content.decode()
    assert "+819011112222" in content and "+819033334444" not in content


@pytest.mark.django_db
def test_audit_search_by_garbage_finds_nothing_and_does_not_fail(staff_client, account):
    from tests.factories import InterceptEventFactory

    InterceptEventFactory(intercept_id=12, phone="+819011112222", account=account, kind="deleted")
    url = reverse("admin:intercepts_interceptevent_changelist")

    response = staff_client.get(url, {"q": "not a number"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert "+819011112222" not in response.content.decode()
    # The same page without a search lists the event: the empty result above is the search's doing.
    assert "+819011112222" in staff_client.get(url).content.decode()
