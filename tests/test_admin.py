"""Every model's admin pages load for staff."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import (
    InterceptEventFactory,
    InterceptFactory,
    MessageEventFactory,
    ReplyFactory,
    SmsUserFactory,
    UnsubscribeFactory,
)


@pytest.fixture
def some_of_everything(account):
    SmsUserFactory(account=account)
    MessageEventFactory(message__account=account)
    InterceptFactory(account=account)
    InterceptEventFactory(account=account, kind="deleted")
    ReplyFactory(account=account)
    UnsubscribeFactory(account=account)


@pytest.mark.django_db
@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_and_first_object_load(staff_client, some_of_everything, model):
    opts = model._meta
    response = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        response = staff_client.get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )
        assert response.status_code == 200


@pytest.mark.django_db
def test_operators_cannot_use_admin(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 302
