import pytest

from intercepts.models import Intercept, InterceptEvent, InterceptRule, Scope
from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db


def test_delete_own_record_is_204_and_audited(api, account, sms_user):
    record = InterceptFactory(account=account, scope=Scope.GLOBAL, phone="+819011112222")
    response = api.delete(f"/api/v1/intercepts/{record.pk}")
    assert response.status_code == 204
    assert not Intercept.objects.exists()
    audit = InterceptEvent.objects.get(kind="deleted")
    assert (audit.intercept_id, audit.source, audit.actor_sms_user, audit.actor_account) == (
        record.pk,
        "api",
        sms_user,
        account,
    )
    assert audit.record["phone"] == "+819011112222" and audit.record["return_code"] == 500


def test_another_accounts_record_is_404_like_a_missing_one(api, other_account):
    theirs = InterceptFactory(account=other_account)
    assert api.delete(f"/api/v1/intercepts/{theirs.pk}").status_code == 404
    assert api.delete("/api/v1/intercepts/987654").status_code == 404
    assert Intercept.objects.filter(pk=theirs.pk).exists()
    assert not InterceptEvent.objects.exists()


def test_record_whose_rule_forbids_customers_is_403(api, account):
    InterceptRule.objects.filter(return_code=500).update(is_customer_deletable=False)
    record = InterceptFactory(account=account, return_code=500)
    response = api.delete(f"/api/v1/intercepts/{record.pk}")
    assert response.status_code == 403
    assert "support" in response.json()["detail"]
    assert Intercept.objects.filter(pk=record.pk).exists()


def test_delete_needs_the_api_key(client, account):
    record = InterceptFactory(account=account)
    assert client.delete(f"/api/v1/intercepts/{record.pk}").status_code == 401
