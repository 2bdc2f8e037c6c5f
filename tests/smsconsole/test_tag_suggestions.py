"""The tag filter suggests the tags the account uses, even when the cache is down."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import MessageFactory, ReplyFactory

pytestmark = pytest.mark.django_db


def suggestions(response) -> list[str]:
    return list(response.context["tag_suggestions"])


def test_the_status_list_suggests_the_accounts_own_tags(operator_client, account, other_account):
    MessageFactory(account=account, tag="spring-sale")
    MessageFactory(account=account, tag="login")
    MessageFactory(account=account, tag="")
    MessageFactory(account=other_account, tag="their-campaign")

    response = operator_client.get(reverse("delivery:message-list"))

    assert suggestions(response) == ["login", "spring-sale"]
    content = response.content.decode()
    assert '<option value="spring-sale">' in content
    assert "their-campaign" not in content


def test_the_reply_list_suggests_the_accounts_own_reply_tags(operator_client, account, other_account):
    ReplyFactory(account=account, tag="survey")
    ReplyFactory(account=other_account, tag="their-survey")

    response = operator_client.get(reverse("replies:reply-list"))

    assert suggestions(response) == ["survey"]
    assert "their-survey" not in response.content.decode()


def test_suggestions_are_read_afresh_when_the_cache_is_down(operator_client, account, monkeypatch):
    MessageFactory(account=account, tag="spring-sale")

    def cache_down(*args, **kwargs):
        raise ConnectionError("cache unavailable")

    monkeypatch.setattr(cache, "get", cache_down)
    monkeypatch.setattr(cache, "set", cache_down)

    response = operator_client.get(reverse("delivery:message-list"))

    assert response.status_code == 200
    assert suggestions(response) == ["spring-sale"]


def test_suggestions_are_kept_a_few_minutes_not_read_on_every_page(operator_client, account):
    MessageFactory(account=account, tag="spring-sale")
    first = operator_client.get(reverse("delivery:message-list"))
    MessageFactory(account=account, tag="brand-new")

    second = operator_client.get(reverse("delivery:message-list"))

    # The list itself shows the new message at once; its tag joins the suggestions when they expire.
    assert suggestions(first) == suggestions(second) == ["spring-sale"]
    assert "brand-new" in second.content.decode()
