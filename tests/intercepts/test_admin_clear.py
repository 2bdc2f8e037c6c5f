import datetime as dt

import pytest
from django.urls import reverse

from intercepts.models import Intercept, InterceptEvent, Scope
from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db


def test_bulk_clear_asks_for_confirmation_listing_the_records_and_clears_nothing_yet(
    staff_client, account, other_account
):
    expires_at = dt.datetime(2026, 12, 24, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo, admin's zone
    records = [
        InterceptFactory(account=account, scope=Scope.GLOBAL, phone="+819011112222", expires_at=expires_at),
        InterceptFactory(account=other_account, scope=Scope.LOCAL, phone="+819033334444", return_code=520),
    ]
    response = staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [r.pk for r in records]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert Intercept.objects.count() == 2 and not InterceptEvent.objects.filter(kind="deleted").exists()
    assert "Are you sure you want to clear these 2 intercept records?" in content
    assert "+819011112222" in content and "+819033334444" in content
    assert "Alice Shop (alice-shop)" in content and "Bob Bank (bob-bank)" in content
    assert "2026-12-24 12:00" in content  # the expiry, in the zone the admin shows
    assert "1 of them is a global record" in content
    assert 'name="post" value="yes"' in content


def test_staff_clear_global_intercepts_in_bulk_with_an_audit_record_each(staff_client, staff_user, account):
    records = [InterceptFactory(account=account, scope=Scope.GLOBAL) for _ in range(3)]
    keep = InterceptFactory(account=account)
    response = staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [r.pk for r in records], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Intercept.objects.all()) == [keep]
    audits = InterceptEvent.objects.filter(kind="deleted")
    assert sorted(audits.values_list("intercept_id", flat=True)) == sorted(r.pk for r in records)
    assert set(audits.values_list("source", "actor_user")) == {("admin", staff_user.pk)}


def test_audit_entry_titles_use_the_zone_of_the_times_beside_them(staff_client, account):
    record = InterceptFactory(account=account, phone="+819011112222")
    staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [record.pk], "post": "yes"},
    )
    audit = InterceptEvent.objects.get(kind="deleted")
    InterceptEvent.objects.filter(pk=audit.pk).update(at=dt.datetime(2026, 11, 28, 15, 30, tzinfo=dt.UTC))
    url = reverse("admin:intercepts_interceptdeletion_change", args=[audit.pk])
    content = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # 15:30 UTC is 00:30 the next day in Tokyo, the zone the admin shows times in.
    assert "+819011112222 @ 2026-11-29 00:30" in content
    assert "2026-11-28 15:30" not in content


def test_staff_find_a_global_intercept_by_phone(staff_client, account):
    InterceptFactory(account=account, phone="+819011112222")
    InterceptFactory(account=account, phone="+819033334444")
    response = staff_client.get(reverse("admin:intercepts_intercept_changelist"), {"q": "+819011112222"})
    assert b"+819011112222" in response.content and b"+819033334444" not in response.content


def test_audit_log_is_read_only(staff_client, account):
    InterceptFactory(account=account)
    staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [Intercept.objects.get().pk], "post": "yes"},
    )
    audit = InterceptEvent.objects.get()
    url = reverse("admin:intercepts_interceptdeletion_change", args=[audit.pk])
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {}).status_code == 403
    assert (
        staff_client.get(reverse("admin:intercepts_interceptdeletion_delete", args=[audit.pk])).status_code
        == 403
    )
