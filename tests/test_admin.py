"""Every model's admin list lists its rows, and each row's page shows that row, for staff."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils.html import escape

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
def test_admin_changelist_lists_the_first_object_and_its_page_shows_it(
    staff_client, some_of_everything, model
):
    opts = model._meta
    model_admin = admin.site._registry[model]
    changelist = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model_admin.get_queryset(changelist.wsgi_request).order_by("pk").first()
    if obj is None:
        return
    listed = list(changelist.context["cl"].queryset.values_list("pk", flat=True))
    assert obj.pk in listed  # the list really lists it, not merely renders
    change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert change_url in changelist.content.decode()

    page = staff_client.get(change_url)

    assert page.status_code == 200
    assert page.context["original"] == obj
    assert escape(str(obj)) in page.content.decode()


@pytest.mark.django_db
def test_operators_cannot_use_admin(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 302
