"""Every message of ours in the API speaks the request's language: Japanese for `Accept-Language: ja`,
English without the header; phone errors are our words, never the phone library's."""

import pytest
from rest_framework.test import APIClient

from tests.factories import TemplateFactory

URL = "/api/v1/messages"
LIBRARY_TEXT = ["did not seem to be a phone number", "(1)", "NumberParseException"]


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="Code {{code}}")


def test_a_missing_key_is_explained_in_the_requests_language(db):
    english = APIClient().get(URL).json()
    japanese = APIClient().get(URL, HTTP_ACCEPT_LANGUAGE="ja").json()
    assert english["detail"] == "An API key is required: 'Authorization: Bearer <API key>'."
    assert japanese["detail"] == "APIキーが必要です：'Authorization: Bearer <API key>'。"
    assert english["code"] == japanese["code"] == "not_authenticated"


def test_a_wrong_key_is_explained_in_the_requests_language(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert client.get(URL).json()["detail"] == "Invalid API key."
    assert client.get(URL, HTTP_ACCEPT_LANGUAGE="ja").json()["detail"] == "APIキーが正しくありません。"


def test_an_invalid_request_is_explained_in_japanese(api, template):
    body = api.post(URL, {"template": "3", "messages": []}, format="json", HTTP_ACCEPT_LANGUAGE="ja").json()
    assert body["code"] == "invalid"
    assert body["detail"] == "リクエストが正しくありません。"


def test_a_bad_phone_number_is_our_own_words_in_both_languages(api, template):
    payload = {"template": template.pk, "messages": [{"to": "hello", "vars": {"code": "1"}}, {"to": "+1"}]}
    english = api.post(URL, payload, format="json").json()
    japanese = api.post(URL, payload, format="json", HTTP_ACCEPT_LANGUAGE="ja").json()

    assert english["detail"] == "The request has invalid fields; nothing was stored."
    assert english["errors"]["messages"]["0"]["to"] == ["“hello” is not a valid phone number."]
    assert english["errors"]["messages"]["1"]["to"] == ["“+1” is not a valid phone number."]
    assert japanese["detail"] == "リクエストに正しくない項目があります。何も保存していません。"
    assert japanese["errors"]["messages"]["0"]["to"] == ["「hello」は有効な電話番号ではありません。"]
    for text in LIBRARY_TEXT:
        assert text not in str(english) and text not in str(japanese)


def test_a_phone_extension_is_refused_in_japanese(api, template):
    payload = {"template": template.pk, "messages": [{"to": "090-1234-5678 ext. 9", "vars": {"code": "1"}}]}
    body = api.post(URL, payload, format="json", HTTP_ACCEPT_LANGUAGE="ja").json()
    [error] = body["errors"]["messages"]["0"]["to"]
    assert "内線" in error and "extension" not in error


def test_an_unknown_template_is_named_in_japanese(api, template):
    payload = {"template": template.pk + 100, "messages": [{"to": "+819012345678"}]}
    body = api.post(URL, payload, format="json", HTTP_ACCEPT_LANGUAGE="ja").json()
    assert body["errors"]["template"] == [f"このアカウントにテンプレート{template.pk + 100}はありません。"]


def test_a_bad_idempotency_key_and_a_bad_cursor_are_explained_in_japanese(api, template):
    payload = {"template": template.pk, "messages": [{"to": "+819012345678", "vars": {"code": "1"}}]}
    body = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY=" x", HTTP_ACCEPT_LANGUAGE="ja").json()
    assert body["detail"].startswith("Idempotency-Keyヘッダーが正しくありません")
    body = api.get(URL, {"cursor": "garbage"}, HTTP_ACCEPT_LANGUAGE="ja").json()
    assert body["errors"]["cursor"] == ["カーソルが正しくありません。"]


def test_an_unknown_endpoint_is_explained_in_japanese(db):
    body = APIClient().get("/api/v1/nothing-here", HTTP_ACCEPT_LANGUAGE="ja").json()
    assert body == {
        "detail": "見つかりません：そのエンドポイントまたはオブジェクトはありません。",
        "code": "not_found",
    }


def test_the_429_is_our_own_words_in_both_languages():
    from django.utils import translation

    from smsconsole.throttling import Throttled

    with translation.override("en"):
        assert Throttled(wait=2.2).detail["detail"] == "Too many requests. Try again in 3 seconds."
    with translation.override("ja"):
        assert Throttled(wait=1).detail["detail"] == "リクエストが多すぎます。 1秒後に再試行してください。"
