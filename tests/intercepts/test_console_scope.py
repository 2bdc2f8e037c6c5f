"""Which intercept records an operator may open: the scope decides, not only the account.

A global record another account originated may be opened where it matters to the operator's
account (DESIGN.md): it blocked one of its messages, or the operator looked that exact number up
(the list's or the number thread's link carries `?phone=`). Another account's *local* record
never, even on a number both accounts message: it says something about that other customer, and
it cannot block us.
"""

import pytest
from django.urls import reverse

from intercepts.models import Intercept
from tests.factories import InterceptFactory, MessageFactory

PHONE = "+819012345678"

pytestmark = pytest.mark.django_db


def detail(record):
    return reverse("intercepts:intercept-detail", kwargs={"intercept_id": record.pk})


def delete(record):
    return reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk})


def test_another_accounts_local_record_is_404_even_on_a_number_we_message(
    operator_client, account, other_account
):
    # Their global record on the number blocked our message there: that one is ours to see.
    their_global = InterceptFactory(account=other_account, scope="global", phone=PHONE, return_code=510)
    MessageFactory(
        account=account,
        phone=PHONE,
        status="processing_failed",
        reason="global_intercept",
        blocking_intercept=their_global,
    )
    theirs = InterceptFactory(account=other_account, scope="local", phone=PHONE, reason="BOB'S NOTE")

    shown = operator_client.get(detail(their_global), HTTP_ACCEPT_LANGUAGE="en")
    assert shown.status_code == 200
    assert "+81 90-1234-5678" in shown.content.decode()
    assert other_account.name not in shown.content.decode()  # anonymous
    # Reached from the list or the number thread, where the number was looked up, or directly: 404.
    for query in ({}, {"phone": PHONE}):
        hidden = operator_client.get(detail(theirs), query, HTTP_ACCEPT_LANGUAGE="en")
        assert hidden.status_code == 404, query
        assert "BOB&#x27;S NOTE" not in hidden.content.decode()
    assert operator_client.post(delete(their_global)).status_code == 404  # seen, not deletable
    assert operator_client.post(delete(theirs)).status_code == 404
    assert Intercept.objects.count() == 2


def test_another_accounts_global_record_on_a_number_we_never_messaged_is_404(operator_client, other_account):
    MessageFactory(account=other_account, phone=PHONE)
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)

    assert operator_client.get(detail(theirs)).status_code == 404


def test_a_global_record_is_not_opened_by_guessing_its_id_even_on_a_number_we_message(
    operator_client, account, other_account
):
    # Neither blocked by it nor looking its number up: an id alone must not reveal the number.
    MessageFactory(account=account, phone=PHONE)
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)

    assert operator_client.get(detail(theirs)).status_code == 404
    assert operator_client.get(detail(theirs), {"phone": "+819099990000"}).status_code == 404
