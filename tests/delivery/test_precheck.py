"""The pre-send check: POST /api/v1/messages/check and the console's /check/ page."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from delivery.models import Message, MessageEvent, MessageStatus, Reason
from delivery.services import precheck
from delivery.services.precheck import numbers_check
from intercepts.models import Intercept, InterceptEvent, Scope
from replies.models import Unsubscribe
from tests.factories import (
    FrequencyRuleFactory,
    InterceptFactory,
    KeywordFilterFactory,
    MessageFactory,
    SmsUserFactory,
    TemplateFactory,
    UnsubscribeFactory,
)
from tests.pipeline.helpers import send

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/check"
PAGE = reverse("delivery:number-check")
# Ending in 1: the simulator fails numbers ending in 500..590 and never answers those ending in 000.
CLEAN, CLEAN_2 = "+819011110001", "+819011110011"
GLOBAL, LOCAL, UNSUBSCRIBED = "+819022220001", "+819033330001", "+819044440001"
KEYWORD, MISSING, REPEATED, RECENT = "+819055550001", "+819066660001", "+819077770001", "+819088880001"


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, name="Login code", body="Your code is {{code}}")


def check(api, body):
    response = api.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["verdicts"]


def table_counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Message, MessageEvent, Intercept, InterceptEvent, Unsubscribe)
    }


# --- API ------------------------------------------------------------------------------------------


def test_each_number_gets_a_verdict_in_request_order(api, template, other_account):
    record = InterceptFactory(phone=GLOBAL, account=other_account, scope=Scope.GLOBAL)

    verdicts = check(
        api, {"template": template.pk, "numbers": ["090-1111-0001", GLOBAL], "vars": {"code": 7}}
    )

    assert verdicts == [
        {"to": CLEAN, "would_send": True, "reason": None, "until": None},
        {
            "to": GLOBAL,
            "would_send": False,
            "reason": "global_intercept",
            "until": timezone.localtime(record.expires_at).isoformat(),
        },
    ]


def test_the_send_apis_body_checks_as_it_is(api, template):
    body = {
        "template": template.pk,
        "tag": "login",
        "messages": [{"to": CLEAN, "vars": {"code": "1"}}, {"to": CLEAN_2}],
    }

    verdicts = check(api, body)

    assert [(v["to"], v["reason"]) for v in verdicts] == [(CLEAN, None), (CLEAN_2, "variable_error")]


def test_a_numbers_own_vars_add_to_the_common_ones_and_win(api, account):
    template = TemplateFactory(account=account, body="{{greeting}}, your code is {{code}}")
    body = {"template": template.pk, "numbers": [CLEAN], "vars": {"greeting": "Hi", "code": ""}}
    assert check(api, body)[0]["reason"] == "variable_error"
    body = {
        "template": template.pk,
        "vars": {"greeting": "Hi"},
        "messages": [{"to": CLEAN, "vars": {"code": 1}}],
    }
    assert check(api, body)[0]["would_send"] is True


@pytest.mark.parametrize(
    "body, field",
    [
        ({"numbers": [CLEAN]}, "template"),
        ({"template": "1", "numbers": [CLEAN]}, "template"),
        ({"template": 1}, "numbers"),
        ({"template": 1, "numbers": []}, "numbers"),
        ({"template": 1, "numbers": [90111100001]}, "numbers"),
        ({"template": 1, "numbers": [CLEAN], "messages": [{"to": CLEAN}]}, "numbers"),
        ({"template": 1, "messages": [{"vars": {}}]}, "messages"),
        ({"template": 1, "numbers": [CLEAN], "vars": {"code": {"nested": 1}}}, "vars"),
        ({"template": 1, "numbers": [CLEAN], "vars": {f"v{i}": 1 for i in range(101)}}, "vars"),
        ({"template": 1, "numbers": [CLEAN] * 10_001}, "numbers"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, template, body, field):
    body = {**body, "template": template.pk} if body.get("template") == 1 else body

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"], response.json()


def test_an_invalid_number_refuses_the_request_naming_its_index_as_the_send_api_does(api, template):
    response = api.post(URL, {"template": template.pk, "numbers": [CLEAN, "12345"]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"numbers": {"1": ["“12345” is not a valid phone number."]}}

    body = {"template": template.pk, "messages": [{"to": "12345", "vars": {"code": "1"}}]}
    sent = api.post("/api/v1/messages", body, format="json")
    checked = api.post(URL, body, format="json")
    assert checked.status_code == sent.status_code == 400
    assert (
        checked.json()["errors"]
        == sent.json()["errors"]
        == {"messages": {"0": {"to": ["“12345” is not a valid phone number."]}}}
    )


def test_another_accounts_template_is_refused_as_the_send_api_does(api, other_account):
    theirs = TemplateFactory(account=other_account)
    body = {"template": theirs.pk, "messages": [{"to": CLEAN}]}

    checked = api.post(URL, body, format="json")
    sent = api.post("/api/v1/messages", body, format="json")

    assert checked.status_code == sent.status_code == 400
    assert (
        checked.json()["errors"]
        == sent.json()["errors"]
        == {"template": [f"No template {theirs.pk} in this account."]}
    )


def test_the_check_needs_an_active_sms_users_key(client, api, template, account):
    body = {"template": template.pk, "numbers": [CLEAN]}
    assert client.post(URL, body, content_type="application/json").status_code == 401
    inactive = SmsUserFactory(account=account, is_active=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {inactive.raw_key}")
    assert api.post(URL, body, format="json").status_code == 403


def test_another_accounts_intercepts_and_unsubscribes_do_not_block(api, template, other_account):
    InterceptFactory(phone=LOCAL, account=other_account, scope=Scope.LOCAL)
    UnsubscribeFactory(phone=UNSUBSCRIBED, account=other_account)

    verdicts = check(api, {"template": template.pk, "numbers": [LOCAL, UNSUBSCRIBED], "vars": {"code": "1"}})

    assert [v["would_send"] for v in verdicts] == [True, True]


def test_checking_stores_nothing(api, template, account, other_account):
    InterceptFactory(phone=GLOBAL, account=other_account, scope=Scope.GLOBAL)
    InterceptFactory(phone=LOCAL, account=account, scope=Scope.LOCAL)
    UnsubscribeFactory(phone=UNSUBSCRIBED, account=account)
    before = table_counts()

    verdicts = check(
        api,
        {
            "template": template.pk,
            "numbers": [CLEAN, GLOBAL, LOCAL, UNSUBSCRIBED, CLEAN],
            "vars": {"code": 1},
        },
    )

    assert [v["reason"] for v in verdicts] == [
        None,
        "global_intercept",
        "local_intercept",
        "unsubscribed",
        "frequency_exceeded",  # the platform's default: one a minute to a number
    ]
    assert table_counts() == before


def test_the_verdicts_agree_with_a_real_send_number_by_number(
    api, template, account, other_account, simulator
):
    InterceptFactory(phone=GLOBAL, account=other_account, scope=Scope.GLOBAL)
    local = InterceptFactory(
        phone=LOCAL, account=account, scope=Scope.LOCAL, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    UnsubscribeFactory(phone=UNSUBSCRIBED, account=account)
    KeywordFilterFactory(word="jackpot")
    FrequencyRuleFactory(account=account, window_seconds=3600, max_messages=1)
    handed_at = timezone.now() - dt.timedelta(minutes=10)
    MessageFactory(
        account=account,
        template=template,
        phone=RECENT,
        status=MessageStatus.AWAITING_RECEIPT,
        channel=simulator,
        channel_message_id="sim-earlier",
        requested_at=handed_at,
        channel_delivered_at=handed_at,
    )
    code = {"code": "1234"}
    recipients = [
        {"to": CLEAN, "vars": code},
        {"to": GLOBAL, "vars": code},
        {"to": LOCAL, "vars": code},
        {"to": UNSUBSCRIBED, "vars": code},
        {"to": KEYWORD, "vars": {"code": "JACKPOT"}},
        {"to": MISSING, "vars": {}},
        {"to": REPEATED, "vars": code},
        {"to": REPEATED, "vars": code},
        {"to": RECENT, "vars": code},
        {"to": CLEAN_2, "vars": code},
    ]

    verdicts = check(api, {"template": template.pk, "messages": recipients})
    messages = send(api, template, *recipients)

    assert [v["reason"] for v in verdicts] == [
        None,
        "global_intercept",
        "local_intercept",
        "unsubscribed",
        "keyword_filtered",
        "variable_error",
        None,
        "frequency_exceeded",
        "frequency_exceeded",
        None,
    ]
    assert verdicts[2]["until"] == timezone.localtime(local.expires_at).isoformat()
    for verdict, message in zip(verdicts, messages, strict=True):
        assert message.phone == verdict["to"]
        assert (message.reason or None) == verdict["reason"], message.phone
        assert (message.status != MessageStatus.PROCESSING_FAILED) == verdict["would_send"], message.phone
    assert {m.status for m in messages if m.reason == ""} == {MessageStatus.DELIVERED}


def test_a_repeated_number_meets_its_earlier_occurrence_in_another_chunk(account, template, monkeypatch):
    monkeypatch.setattr(precheck, "CHECK_CHUNK_SIZE", 2)
    numbers = [CLEAN, GLOBAL, LOCAL, CLEAN, "not a number", LOCAL]

    verdicts = numbers_check(
        account=account, template_id=template.pk, numbers=numbers, variables={"code": 1}, now=timezone.now()
    )

    assert [(v.to, v.reason) for v in verdicts] == [
        (CLEAN, None),
        (GLOBAL, None),
        (LOCAL, None),
        (CLEAN, Reason.FREQUENCY_EXCEEDED),
        ("", Reason.INVALID_NUMBER),
        (LOCAL, Reason.FREQUENCY_EXCEEDED),
    ]
    assert verdicts[4].number == "not a number" and "not a valid phone number" in verdicts[4].problem


# --- console page ---------------------------------------------------------------------------------


def post_page(client, template, *, numbers="", csv_file=None, variables="code=1", language="en", **extra):
    data = {"template": template.pk, "numbers": numbers, "variables": variables, **extra}
    if csv_file is not None:
        data["csv_file"] = csv_file
    return client.post(PAGE, data, HTTP_ACCEPT_LANGUAGE=language)


def test_the_page_offers_only_the_accounts_templates(operator_client, template, other_account):
    TemplateFactory(account=other_account, name="Bob's template")

    content = operator_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Login code" in content and "Bob&#x27;s template" not in content
    assert f'href="{PAGE}"' in content  # the sidebar links to it


def test_pasted_numbers_show_counts_and_verdicts(operator_client, template, other_account):
    InterceptFactory(phone=GLOBAL, account=other_account, scope=Scope.GLOBAL)
    before = table_counts()

    response = post_page(operator_client, template, numbers=f"{CLEAN}\n090-1111-0011, {GLOBAL}\n\nnope")

    assert response.status_code == 200
    content = response.content.decode()
    assert "4 numbers checked" in content
    assert "Would send: <strong>2</strong>" in content
    assert "Global intercept list: <strong>1</strong>" in content
    assert "Invalid number: <strong>1</strong>" in content
    assert "Invalid number: “nope” is not a valid phone number." in content
    assert "+819011110011" in content
    assert table_counts() == before


def test_a_csv_upload_is_read_from_its_first_column_header_or_not(operator_client, template):
    with_header = SimpleUploadedFile("list.csv", f"phone,name\n{CLEAN},Sato\n{CLEAN_2},Ito\n".encode())
    content = post_page(operator_client, template, csv_file=with_header).content.decode()
    assert "2 numbers checked" in content and "Would send: <strong>2</strong>" in content

    shift_jis = SimpleUploadedFile("list.csv", f"{CLEAN},佐藤\n".encode("cp932"))
    content = post_page(operator_client, template, csv_file=shift_jis).content.decode()
    assert "1 number checked" in content


@pytest.mark.parametrize(
    "numbers, csv_bytes, error",
    [
        ("", None, "Paste phone numbers or upload a CSV file of them."),
        ("1\n" * 100_001, None, "Check at most 100,000 numbers at a time; this list has 100,001."),
        ("", b"PK\x03\x04\x00\x00\x08\x00", "The file is not a CSV file in UTF-8 or Shift_JIS."),
        ("", b"phone\n", "The file has no phone numbers in its first column."),
    ],
)
def test_form_errors_are_shown_and_nothing_is_checked(operator_client, template, numbers, csv_bytes, error):
    csv_file = SimpleUploadedFile("list.csv", csv_bytes) if csv_bytes is not None else None

    response = post_page(operator_client, template, numbers=numbers, csv_file=csv_file)

    assert response.status_code == 200
    content = response.content.decode()
    assert error in content
    assert "numbers checked" not in content


def test_a_bad_variables_line_is_a_form_error(operator_client, template):
    content = post_page(operator_client, template, numbers=CLEAN, variables="code").content.decode()
    assert "Line 1 is not name=value: “code”." in content


def test_another_accounts_template_is_a_form_error(operator_client, other_account):
    theirs = TemplateFactory(account=other_account)

    content = post_page(operator_client, theirs, numbers=CLEAN).content.decode()

    assert "Choose one of your account&#x27;s templates." in content
    assert "numbers checked" not in content


def test_the_page_is_scoped_to_the_operators_account(other_operator_client, account, other_account):
    InterceptFactory(phone=LOCAL, account=account, scope=Scope.LOCAL)
    UnsubscribeFactory(phone=UNSUBSCRIBED, account=account)
    bobs_template = TemplateFactory(account=other_account, body="Your code is {{code}}")

    content = post_page(
        other_operator_client, bobs_template, numbers=f"{LOCAL}\n{UNSUBSCRIBED}"
    ).content.decode()

    assert "Would send: <strong>2</strong>" in content


def test_only_the_first_thousand_verdicts_are_shown_and_the_csv_has_them_all(operator_client, template):
    numbers = "\n".join(f"+8190{2000000 + i:07d}1" for i in range(1001))

    content = post_page(operator_client, template, numbers=numbers).content.decode()
    assert "The first 1000 of 1001 verdicts are shown; the CSV download has them all." in content
    assert content.count('<tr class="would-send">') == 1000

    response = post_page(operator_client, template, numbers=numbers, download="csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1 + 1001


def test_the_csv_download_names_each_verdict_and_escapes_formulas(operator_client, template, account):
    record = InterceptFactory(phone=LOCAL, account=account, scope=Scope.LOCAL)

    response = post_page(
        operator_client, template, numbers=f"{CLEAN}\n{LOCAL}\n=HYPERLINK(1)", download="csv-bom"
    )

    assert response["Content-Disposition"].startswith('attachment; filename="number-check-alice-shop-')
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    until = timezone.localtime(record.expires_at, account.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert rows == [
        [
            "Number as given",
            "Recipient",
            "Would send",
            "Reason",
            "Reason code",
            f"Blocked until ({account.zone.key})",
            "Detail",
        ],
        # What was typed is untrusted text: a leading + (or =, -, @) is kept from becoming a formula.
        ["'" + CLEAN, CLEAN, "Yes", "", "", "", ""],
        ["'" + LOCAL, LOCAL, "No", "Local intercept list", "local_intercept", until, ""],
        [
            "'=HYPERLINK(1)",
            "",
            "No",
            "Invalid number",
            "invalid_number",
            "",
            "“=HYPERLINK(1)” is not a valid phone number.",
        ],
    ]


def test_the_page_speaks_both_languages(operator_client, template):
    japanese = post_page(operator_client, template, numbers=f"{CLEAN}\nnope", language="ja").content.decode()
    english = post_page(operator_client, template, numbers=f"{CLEAN}\nnope", language="en").content.decode()

    assert "番号チェック" in japanese and "送信可" in japanese and "無効な番号" in japanese
    assert "Number check" in english and "Would send" in english and "Invalid number" in english
