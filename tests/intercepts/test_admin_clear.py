import pytest
from django.urls import reverse

from intercepts.models import Intercept, InterceptEvent, Scope
from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db


def test_staff_clear_global_intercepts_in_bulk_with_an_audit_record_each(staff_client, staff_user, account):
    records = [InterceptFactory(account=account, scope=Scope.GLOBAL) for _ in range(3)]
    keep = InterceptFactory(account=account)
    response = staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [r.pk for r in records]},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Intercept.objects.all()) == [keep]
    audits = InterceptEvent.objects.filter(kind="deleted")
    assert sorted(audits.values_list("intercept_id", flat=True)) == sorted(r.pk for r in records)
    assert set(audits.values_list("source", "actor_user")) == {("admin", staff_user.pk)}


def test_staff_find_a_global_intercept_by_phone(staff_client, account):
    InterceptFactory(account=account, phone="+819011112222")
    InterceptFactory(account=account, phone="+819033334444")
    response = staff_client.get(reverse("admin:intercepts_intercept_changelist"), {"q": "+819011112222"})
    assert b"+819011112222" in response.content and b"+819033334444" not in response.content


def test_audit_log_is_read_only(staff_client, account):
    InterceptFactory(account=account)
    staff_client.post(
        reverse("admin:intercepts_intercept_changelist"),
        {"action": "clear", "_selected_action": [Intercept.objects.get().pk]},
    )
    audit = InterceptEvent.objects.get()
    url = reverse("admin:intercepts_interceptdeletion_change", args=[audit.pk])
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {}).status_code == 403
    assert (
        staff_client.get(reverse("admin:intercepts_interceptdeletion_delete", args=[audit.pk])).status_code
        == 403
    )
