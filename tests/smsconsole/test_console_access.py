"""Who may see what: login, the account scope on every URL, staff's account switcher, language."""

import pytest
from django.test import Client
from django.urls import resolve, reverse

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


def every_console_url() -> list[str]:
    """Every URL of the console apps, found in the URL configuration (ids and numbers filled in),
    so a page added later is covered without anyone remembering to list it."""
    from django.urls import URLResolver, get_resolver
    from django.urls.converters import IntConverter

    urls = []
    for top in get_resolver().url_patterns:
        if not isinstance(top, URLResolver) or top.namespace not in (
            "delivery",
            "intercepts",
            "replies",
            "exports",
            "callbacks",
        ):
            continue
        for pattern in top.url_patterns:
            converters = getattr(pattern.pattern, "converters", {})
            kwargs = {k: 1 if isinstance(c, IntConverter) else PHONE for k, c in converters.items()}
            urls.append(reverse(f"{top.namespace}:{pattern.name}", kwargs=kwargs))
    return urls


def test_the_console_urls_include_every_page_named_by_an_id_or_a_number():
    urls = every_console_url()
    for name, kwargs in [
        ("delivery:message-detail", {"message_id": 1}),
        ("delivery:number-thread", {"phone": PHONE}),
        ("delivery:number-check", {}),
        ("delivery:dashboard", {}),
        ("intercepts:intercept-detail", {"intercept_id": 1}),
        ("intercepts:intercept-delete", {"intercept_id": 1}),
        ("exports:export-list", {}),
        ("exports:export-detail", {"job_id": 1}),
        ("exports:export-download", {"job_id": 1}),
        ("callbacks:endpoint-settings", {}),
        ("callbacks:attempt-list", {}),
        ("callbacks:event-replay", {"event_id": 1}),
    ]:
        assert reverse(name, kwargs=kwargs) in urls
    assert set(CONSOLE_URLS) <= set(urls)


@pytest.mark.django_db
@pytest.mark.parametrize("url", every_console_url())
def test_every_page_requires_login(client, url):
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.django_db
def test_deleting_an_intercept_requires_login_and_deletes_nothing(client, account):
    record = InterceptFactory(account=account, scope="local", phone=PHONE)

    response = client.post(reverse("intercepts:intercept-delete", kwargs={"intercept_id": record.pk}))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert Intercept.objects.filter(pk=record.pk).exists()


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
def test_lists_and_exports_never_show_another_accounts_rows(operator_client, account, bobs_data):
    # Our own rows on the same number, so an empty list proves nothing: each list shows ours only.
    own_message = MessageFactory(account=account, phone=PHONE, tag="alice-tag")
    own_record = InterceptFactory(account=account, scope="local", phone=PHONE)
    own_reply = ReplyFactory(account=account, phone=PHONE, content="alice's reply")
    own = {
        "delivery": own_message.pk,
        "intercepts": own_record.pk,
        "replies": own_reply.pk,
    }
    for url in CONSOLE_URLS:
        response = operator_client.get(url, {"phone": PHONE}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, url
        app = resolve(url).namespace
        if response.streaming:
            text = b"".join(response.streaming_content).decode()
            assert len(text.splitlines()) == 2, url  # the header and our one row
            assert "bob's reply" not in text and "alice's reply" in text or app != "replies", url
        else:
            assert [row.pk for row in response.context["table"].data.data] == [own[app]], url
            content = response.content.decode()
            assert "bob&#x27;s reply" not in content
            assert app != "replies" or "alice&#x27;s reply" in content


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
    MessageFactory(account=account, tag="alice-tag")
    MessageFactory(account=other_account, tag="bob-tag")

    response = operator_client.post(reverse("account-switch"), {"account": other_account.pk})

    assert response.status_code == 403
    content = operator_client.get(reverse("delivery:message-list")).content.decode()
    assert "alice-tag" in content and "bob-tag" not in content


@pytest.mark.django_db
def test_the_account_never_comes_from_the_query_string(operator_client, account, other_account):
    MessageFactory(account=account, tag="alice-tag")
    MessageFactory(account=other_account, tag="bob-tag")

    response = operator_client.get(reverse("delivery:message-list"), {"account": other_account.pk})

    assert response.status_code == 200
    content = response.content.decode()
    assert "alice-tag" in content and "bob-tag" not in content
