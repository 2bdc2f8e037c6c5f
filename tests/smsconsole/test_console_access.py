"""Who may see what: login, the account scope on every URL, staff's account switcher, language."""

import pytest
from django.test import Client
from django.urls import reverse

from intercepts.models import Intercept
from tests.factories import InterceptFactory, MessageFactory, ReplyFactory, UserFactory

PHONE = "+819012345678"


@pytest.fixture
def bobs_data(other_account):
    message = MessageFactory(account=other_account, phone=PHONE)
    record = InterceptFactory(account=other_account, scope="local", phone=PHONE)
    ReplyFactory(account=other_account, phone=PHONE, content="bob's reply")
    return message, record


CONSOLE_URLS = [
    reverse("delivery:message-list"),
    reverse("delivery:message-export"),
    reverse("intercepts:intercept-list"),
    reverse("intercepts:intercept-export"),
    reverse("replies:reply-list"),
    reverse("replies:reply-export"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", CONSOLE_URLS + [reverse("delivery:message-detail", kwargs={"message_id": 1})])
def test_every_page_requires_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_every_url_with_another_accounts_ids_is_404(operator_client, bobs_data):
    message, record = bobs_data
    urls = [
        reverse("delivery:message-detail", kwargs={"message_id": message.pk}),
        reverse("delivery:number-thread", kwargs={"phone": PHONE}),
        reverse("intercepts:intercept-detail", kwargs={"intercept_id": record.pk}),
        reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk}),
    ]
    for url in urls:
        assert operator_client.get(url).status_code == 404, url
    assert operator_client.post(urls[-1]).status_code == 404
    assert Intercept.objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
def test_lists_and_exports_never_show_another_accounts_rows(operator_client, bobs_data):
    for url in CONSOLE_URLS:
        response = operator_client.get(url, {"phone": PHONE})
        if response.streaming:
            lines = b"".join(response.streaming_content).decode().splitlines()
            assert len(lines) == 1, url  # the header alone
        else:
            assert list(response.context["table"].data.data) == [], url
            assert "bob&#x27;s reply" not in response.content.decode()


@pytest.mark.django_db
def test_a_user_without_an_account_is_told_so(db):
    client = Client()
    client.force_login(UserFactory(username="drifter"))

    response = client.get(reverse("delivery:message-list"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert "not an operator of any account" in response.content.decode()


@pytest.mark.django_db
def test_root_redirects_to_the_status_list(operator_client, client):
    assert operator_client.get("/")["Location"] == reverse("delivery:message-list")
    assert client.get("/")["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_login_and_logout(client, operator):
    login = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-battery"})
    assert login.status_code == 302
    assert client.get(reverse("delivery:message-list")).status_code == 200

    client.post(reverse("logout"))

    assert client.get(reverse("delivery:message-list")).status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_an_error_on_the_login_page(client, operator):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_language_switch_between_japanese_and_english(operator_client):
    url = reverse("delivery:message-list")
    japanese = operator_client.get(url).content.decode()
    assert "SMSステータス" in japanese and "配信ステータス" in japanese

    operator_client.post(reverse("set_language"), {"language": "en", "next": url})
    english = operator_client.get(url).content.decode()
    assert "SMS status" in english and "Apply filter" in english

    operator_client.post(reverse("set_language"), {"language": "ja", "next": url})
    assert "絞り込む" in operator_client.get(url).content.decode()


@pytest.mark.django_db
def test_design_labels_are_in_japanese(operator_client, account):
    MessageFactory(account=account, status="send_failed", reason="out_of_service_area", return_code=570)
    MessageFactory(account=account, status="processing_failed", reason="global_intercept")

    content = operator_client.get(reverse("delivery:message-list")).content.decode()

    for label in [
        "送信失敗",
        "サービスエリア外",
        "処理失敗",
        "グローバルインターセプトリスト",
        "通知",
        "受信待ち",
    ]:
        assert label in content, label


@pytest.mark.django_db
def test_staff_switch_accounts_through_the_session(staff_client, account, other_account):
    MessageFactory(account=account, phone=PHONE, tag="alice-tag")
    MessageFactory(account=other_account, phone=PHONE, tag="bob-tag")
    url = reverse("delivery:message-list")

    staff_client.post(reverse("account-switch"), {"account": other_account.pk})
    bob_view = staff_client.get(url).content.decode()
    staff_client.post(reverse("account-switch"), {"account": account.pk})
    alice_view = staff_client.get(url).content.decode()

    assert "bob-tag" in bob_view and "alice-tag" not in bob_view
    assert "alice-tag" in alice_view and "bob-tag" not in alice_view


@pytest.mark.django_db
def test_switching_ignores_unknown_accounts_and_is_post_only(staff_client, account):
    assert staff_client.post(reverse("account-switch"), {"account": "999999"}).status_code == 302
    assert staff_client.post(reverse("account-switch"), {"account": "abc"}).status_code == 302
    assert staff_client.get(reverse("account-switch")).status_code == 405
    assert staff_client.get(reverse("delivery:message-list")).status_code == 200


@pytest.mark.django_db
def test_operators_cannot_switch_accounts(operator_client, account, other_account):
    MessageFactory(account=other_account, tag="bob-tag")

    response = operator_client.post(reverse("account-switch"), {"account": other_account.pk})

    assert response.status_code == 403
    assert "bob-tag" not in operator_client.get(reverse("delivery:message-list")).content.decode()


@pytest.mark.django_db
def test_the_account_never_comes_from_the_query_string(operator_client, other_account):
    MessageFactory(account=other_account, tag="bob-tag")

    response = operator_client.get(reverse("delivery:message-list"), {"account": other_account.pk})

    assert "bob-tag" not in response.content.decode()
