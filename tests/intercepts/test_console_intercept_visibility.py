"""One rule decides what an operator sees of intercept records, and every page keeps to it.

Own records; another account's global records only where they matter (they blocked one of the
account's messages, or it looked the exact number up); never another account's local records, and
never the other account's name. The list, the record's page, the delete confirmation and the API
read through the same selector (intercepts.selectors)."""

import re

import pytest
from django.urls import reverse

from intercepts.models import Intercept
from tests.factories import InterceptFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = reverse("intercepts:intercept-list")
PHONE = "+819012345678"


def record_links(html: str) -> dict[int, str]:
    """The href of each row's record link, by record id."""
    return {
        int(match["id"]): match["href"].replace("&amp;", "&")
        for match in re.finditer(r'href="(?P<href>/intercepts/(?P<id>\d+)/[^"]*)"', html)
    }


def test_the_delete_confirmation_of_an_own_local_record_says_your_account(operator_client, account):
    # Issue point 1: it said "Another account (global)".
    record = InterceptFactory(account=account, scope="local", phone=PHONE, return_code=520)
    listed = operator_client.get(URL, {"scope": "local"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk}) in listed

    page = operator_client.get(
        reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk}), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "<dt>Origin</dt><dd>Your account</dd>" in page
    assert "Another account" not in page
    assert "<dt>Scope</dt><dd>Local</dd>" in page


def test_a_global_record_found_by_phone_opens_from_its_link_without_naming_its_account(
    operator_client, account, other_account
):
    # Issue point 2: the list showed it (an exact lookup), its link answered 404.
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE, reason="UNKNOWN SUBSCRIBER")
    listed = operator_client.get(URL, {"phone": "090-1234-5678"}, HTTP_ACCEPT_LANGUAGE="en")
    assert [row.pk for row in listed.context["table"].data.data] == [theirs.pk]

    link = record_links(listed.content.decode())[theirs.pk]
    page = operator_client.get(link, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    content = page.content.decode()
    assert "+81 90-1234-5678" in content and "UNKNOWN SUBSCRIBER" in content
    assert "contact support" in content
    assert other_account.name not in content and other_account.slug not in content
    assert reverse("intercepts:intercept-delete", kwargs={"intercept_id": theirs.pk}) not in content


def test_the_number_looked_up_must_be_the_records_own(operator_client, other_account):
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    detail = reverse("intercepts:intercept-detail", kwargs={"intercept_id": theirs.pk})

    assert operator_client.get(detail).status_code == 404
    assert operator_client.get(detail, {"phone": "+819087654321"}).status_code == 404
    assert operator_client.get(detail, {"phone": "not a number"}).status_code == 404
    assert operator_client.get(detail, {"phone": "090-1234-5678"}).status_code == 200  # any usual spelling


def test_another_accounts_local_record_stays_404_even_when_its_number_is_looked_up(
    operator_client, other_account
):
    theirs = InterceptFactory(account=other_account, scope="local", phone=PHONE, reason="BOB ONLY")
    detail = reverse("intercepts:intercept-detail", kwargs={"intercept_id": theirs.pk})

    listed = operator_client.get(URL, {"phone": PHONE, "state": ""})
    assert list(listed.context["table"].data.data) == []
    assert operator_client.get(detail, {"phone": PHONE}).status_code == 404


def test_a_global_record_that_blocked_our_message_opens_from_the_list_and_the_message(
    operator_client, account, other_account
):
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    message = MessageFactory(
        account=account, status="processing_failed", reason="global_intercept", blocking_intercept=theirs
    )
    link = record_links(operator_client.get(URL).content.decode())[theirs.pk]
    assert "?" not in link  # it blocked us: no lookup needed

    assert operator_client.get(link).status_code == 200
    message_page = operator_client.get(reverse("delivery:message-detail", kwargs={"message_id": message.pk}))
    assert (
        reverse("intercepts:intercept-detail", kwargs={"intercept_id": theirs.pk})
        in message_page.content.decode()
    )


def test_the_number_threads_intercept_link_opens_the_global_record_on_that_number(
    operator_client, account, other_account
):
    MessageFactory(account=account, phone=PHONE)
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)

    thread = operator_client.get(reverse("delivery:number-thread", kwargs={"phone": PHONE})).content.decode()
    link = record_links(thread)[theirs.pk]

    assert operator_client.get(link).status_code == 200


def test_the_api_lists_by_the_same_rule_and_never_deletes_anothers_record(api, account, other_account):
    theirs = InterceptFactory(account=other_account, scope="global", phone=PHONE)
    InterceptFactory(account=other_account, scope="local", phone=PHONE)
    mine = InterceptFactory(account=account, scope="local", phone=PHONE)

    without_phone = api.get("/api/v1/intercepts").json()
    with_phone = api.get("/api/v1/intercepts", {"phone": PHONE}).json()

    assert [row["id"] for row in without_phone["results"]] == [mine.pk]
    assert {row["id"] for row in with_phone["results"]} == {theirs.pk, mine.pk}
    assert api.delete(f"/api/v1/intercepts/{theirs.pk}").status_code == 404
    assert Intercept.objects.filter(pk=theirs.pk).exists()


def test_an_id_too_large_for_the_column_is_a_404_not_a_crash(operator_client, api):
    too_large = 2**63

    assert operator_client.get(f"/intercepts/{too_large}/").status_code == 404
    assert operator_client.get(f"/intercepts/{too_large}/delete/").status_code == 404
    assert api.delete(f"/api/v1/intercepts/{too_large}").status_code == 404
