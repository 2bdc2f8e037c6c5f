"""Replies link to the message each answered; the message page shows the replies to it."""

import pytest
from django.urls import reverse

from tests.factories import MessageFactory, ReplyFactory

pytestmark = pytest.mark.django_db

URL = reverse("replies:reply-list")
PHONE = "+819012345678"


def message_url(message_id: int) -> str:
    return reverse("delivery:message-detail", kwargs={"message_id": message_id})


def test_each_reply_links_to_the_message_it_answered(operator_client, account):
    message = MessageFactory(account=account, phone=PHONE)
    ReplyFactory(account=account, phone=PHONE, message=message, content="thanks")
    ReplyFactory(account=account, content="who is this?")  # answers nothing we still know

    content = operator_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert f'href="{message_url(message.pk)}" data-testid="reply-message">#{message.pk}<' in content
    assert content.count('data-testid="reply-message"') == 1


def test_a_reply_whose_message_was_purged_has_no_dead_link(operator_client, account):
    ReplyFactory(account=account, phone=PHONE, message_id=987654, content="late answer")

    content = operator_client.get(URL).content.decode()

    assert message_url(987654) not in content


def test_the_message_page_shows_the_replies_to_it_and_only_those(operator_client, account, other_account):
    message = MessageFactory(account=account, phone=PHONE)
    later = MessageFactory(account=account, phone=PHONE)
    ReplyFactory(account=account, phone=PHONE, message=message, content="yes please", carrier="KDDI")
    ReplyFactory(account=account, phone=PHONE, message=message, content="STOP", is_unsubscribe=True)
    ReplyFactory(account=account, phone=PHONE, message=later, content="about the later one")
    ReplyFactory(account=other_account, phone=PHONE, message=message, content="never ours")

    response = operator_client.get(message_url(message.pk), HTTP_ACCEPT_LANGUAGE="en")

    assert [reply.content for reply in response.context["replies"]] == ["yes please", "STOP"]
    content = response.content.decode()
    assert "Replies to this message" in content and "yes please" in content and "Unsubscribed" in content
    assert "about the later one" not in content and "never ours" not in content


def test_a_message_without_replies_says_so(operator_client, account):
    message = MessageFactory(account=account)

    content = operator_client.get(message_url(message.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "No replies to this message." in content
