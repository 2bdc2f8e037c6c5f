"""The one phone normaliser: a number with an extension is refused, never stored without it."""

import pytest
from django.urls import reverse

from smsconsole.phone import InvalidPhoneNumber, phone_to_e164


@pytest.mark.parametrize(
    "raw", ["090-1234-5678 ext. 9", "+819012345678;ext=12", "09012345678 x9", "+81 90 1234 5678 #9"]
)
def test_a_number_with_an_extension_is_refused_naming_it(raw):
    with pytest.raises(InvalidPhoneNumber, match="extension"):
        phone_to_e164(raw)


def test_the_same_number_without_the_extension_is_accepted():
    assert phone_to_e164("090-1234-5678") == phone_to_e164("+81 90 1234 5678") == "+819012345678"


@pytest.mark.django_db
def test_the_console_filter_refuses_an_extension_instead_of_dropping_it(operator_client):
    response = operator_client.get(reverse("delivery:message-list"), {"phone": "090-1234-5678 ext. 9"})
    assert response.status_code == 200
    assert "phone" in response.context["filter"].form.errors
