"""GET /api/v1/messages, /intercepts and /replies: the console's filters, validation and cursors."""

import datetime as dt

import pytest
from django.utils import timezone

from delivery.models import MessageStatus, Reason
from intercepts.models import Scope
from tests.factories import InterceptFactory, MessageFactory, ReplyFactory, SmsUserFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def test_messages_default_to_the_last_24_hours_newest_first(api, account):
    now = timezone.now()
    old = MessageFactory(account=account, requested_at=now - dt.timedelta(days=2))
    first = MessageFactory(account=account, requested_at=now - dt.timedelta(hours=2))
    second = MessageFactory(account=account, requested_at=now - dt.timedelta(hours=1))
    body = api.get("/api/v1/messages").json()
    assert [m["id"] for m in body["results"]] == [second.pk, first.pk]
    assert old.pk not in [m["id"] for m in body["results"]]
    assert body["next"] is None and body["previous"] is None
    assert body["results"][0]["sms_user"] == second.sms_user.name


def test_messages_filters_combine(api, account):
    sms_user = SmsUserFactory(account=account)
    template = TemplateFactory(account=account, type="marketing")
    wanted = MessageFactory(
        account=account, sms_user=sms_user, template=template, template_type="marketing", tag="sale",
        phone="+819011112222", status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530,
    )  # fmt: skip
    MessageFactory(account=account, sms_user=sms_user, phone="+819011112222", tag="sale")
    MessageFactory(
        account=account, tag="sale", status=MessageStatus.SEND_FAILED, reason=Reason.BUSY, return_code=530
    )
    params = {
        "phone": "090-1111-2222", "tag": "sale", "template_type": "marketing", "sms_user": sms_user.pk,
        "status": "send_failed", "reason": "busy",
    }  # fmt: skip
    body = api.get("/api/v1/messages", params).json()
    assert [m["id"] for m in body["results"]] == [wanted.pk]
    assert body["results"][0]["return_code"] == 530


@pytest.mark.parametrize(
    "params, bad",
    [
        ({"requested_from": "2020-01-01T00:00"}, "requested_from"),
        ({"requested_from": "yesterday"}, "requested_from"),
        ({"requested_to": "0001-01-01T00:00"}, "requested_to"),
        ({"status": "lost"}, "status"),
        ({"status": "delivered", "reason": "busy"}, "reason"),
        ({"limit": "0"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "forged"}, "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, params, bad):
    response = api.get("/api/v1/messages", params)
    assert response.status_code == 400
    assert bad in response.json()["errors"]


def test_a_period_over_30_days_is_refused_not_clipped(api):
    now = timezone.localtime()
    params = {
        "requested_from": (now - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M"),
        "requested_to": now.strftime("%Y-%m-%dT%H:%M"),
    }
    response = api.get("/api/v1/messages", params)
    assert response.status_code == 400
    assert "requested_from" in response.json()["errors"] or "__all__" in response.json()["errors"]


def test_cursor_pages_forward_and_back(api, account):
    now = timezone.now()
    messages = [
        MessageFactory(account=account, requested_at=now - dt.timedelta(minutes=i // 2)) for i in range(7)
    ]
    newest_first = sorted(messages, key=lambda m: (m.requested_at, m.pk), reverse=True)
    page1 = api.get("/api/v1/messages", {"limit": 3}).json()
    page2 = api.get(page1["next"]).json()
    page3 = api.get(page2["next"]).json()
    seen = [m["id"] for page in (page1, page2, page3) for m in page["results"]]
    assert seen == [m.pk for m in newest_first]
    assert page3["next"] is None
    back = api.get(page3["previous"]).json()
    assert [m["id"] for m in back["results"]] == [m["id"] for m in page2["results"]]
    oldest_first = api.get("/api/v1/messages", {"order": "asc", "limit": 10}).json()
    assert [m["id"] for m in oldest_first["results"]] == [m.pk for m in reversed(newest_first)]


def test_lists_are_scoped_to_the_callers_account(api, account, other_account):
    MessageFactory(account=other_account)
    ReplyFactory(account=other_account)
    InterceptFactory(account=other_account, scope=Scope.LOCAL)
    assert api.get("/api/v1/messages").json()["results"] == []
    assert api.get("/api/v1/replies").json()["results"] == []
    assert api.get("/api/v1/intercepts").json()["results"] == []


def test_another_accounts_sms_user_or_template_is_a_400(api, other_account):
    foreign_user = SmsUserFactory(account=other_account)
    foreign_template = TemplateFactory(account=other_account)
    assert "sms_user" in api.get("/api/v1/messages", {"sms_user": foreign_user.pk}).json()["errors"]
    assert "template" in api.get("/api/v1/replies", {"template": foreign_template.pk}).json()["errors"]


def test_intercepts_show_foreign_global_records_only_where_they_matter(api, account, other_account):
    own = InterceptFactory(account=account, scope=Scope.LOCAL, phone="+819011110001")
    blocked_me = InterceptFactory(account=other_account, scope=Scope.GLOBAL, phone="+819011110002")
    MessageFactory(
        account=account, phone=blocked_me.phone, status=MessageStatus.PROCESSING_FAILED,
        reason=Reason.GLOBAL_INTERCEPT, blocking_intercept=blocked_me,
    )  # fmt: skip
    unrelated = InterceptFactory(account=other_account, scope=Scope.GLOBAL, phone="+819011110003")
    InterceptFactory(account=other_account, scope=Scope.LOCAL, phone="+819011110003")

    body = api.get("/api/v1/intercepts").json()
    rows = {r["id"]: r for r in body["results"]}
    assert set(rows) == {own.pk, blocked_me.pk}
    assert rows[own.pk]["is_own"] and rows[own.pk]["can_delete"]
    assert not rows[blocked_me.pk]["is_own"] and not rows[blocked_me.pk]["can_delete"]
    assert "account" not in rows[blocked_me.pk]

    looked_up = api.get("/api/v1/intercepts", {"phone": "+819011110003"}).json()["results"]
    assert [r["id"] for r in looked_up] == [unrelated.pk]  # the global one; never their local one


def test_intercepts_filter_by_state_scope_and_code(api, account):
    now = timezone.now()
    live = InterceptFactory(account=account, scope=Scope.GLOBAL, return_code=500)
    InterceptFactory(account=account, scope=Scope.LOCAL, return_code=520)
    expired = InterceptFactory(
        account=account,
        return_code=500,
        intercepted_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=1),
    )
    ids = lambda params: [r["id"] for r in api.get("/api/v1/intercepts", params).json()["results"]]  # noqa: E731
    assert ids({"state": "live", "return_code": 500}) == [live.pk]
    assert ids({"state": "expired"}) == [expired.pk]
    assert ids({"scope": "local", "return_code": 500}) == []


def test_replies_filters(api, account):
    template = TemplateFactory(account=account)
    wanted = ReplyFactory(
        account=account, template=template, tag="sale", phone="+819011112222", content="STOP"
    )
    ReplyFactory(account=account, tag="sale")
    ReplyFactory(account=account, template=template)
    body = api.get(
        "/api/v1/replies", {"template": template.pk, "tag": "sale", "phone": "+819011112222"}
    ).json()
    assert [r["id"] for r in body["results"]] == [wanted.pk]
    assert body["results"][0]["content"] == "STOP"


def test_schema_documents_the_list_parameters(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/v1/schema").content)
    names = {p["name"] for p in schema["paths"]["/api/v1/messages"]["get"]["parameters"]}
    assert {
        "phone",
        "status",
        "reason",
        "tag",
        "sms_user",
        "template_type",
        "requested_from",
        "cursor",
    } <= names
    assert {p["name"] for p in schema["paths"]["/api/v1/replies"]["get"]["parameters"]} >= {
        "template",
        "received_to",
    }
    assert "SmsUserKey" in schema["components"]["securitySchemes"]


def test_errors_are_english_unless_the_client_asks_for_a_language(api):
    # The console defaults to Japanese; a script that never asked must not get it.
    english = api.get("/api/v1/messages", {"status": "lost"})
    japanese = api.get("/api/v1/messages", {"status": "lost"}, HTTP_ACCEPT_LANGUAGE="ja")

    assert english.headers["Content-Language"] == "en"
    assert "Select a valid choice" in english.json()["errors"]["status"][0]
    assert japanese.headers["Content-Language"] == "ja"
    assert "Select a valid choice" not in japanese.json()["errors"]["status"][0]
