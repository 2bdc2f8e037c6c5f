"""Console 400/403/404/500 pages are the console's own, translated, with DEBUG on (`make run`) or off."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import InterceptFactory

pytestmark = pytest.mark.django_db

TECHNICAL = ["URLconf", "Traceback", "DEBUG = True", "Request Method", "secret internals", "settings.py"]


def assert_console_page(response, status: int, *, heading: str):
    content = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f'data-testid="error-page" data-status="{status}"' in content
    assert f"<h1>{heading}</h1>" in content
    assert 'href="/static/console/console.css"' in content
    for leak in TECHNICAL:
        assert leak not in content, leak


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("language, heading", [("en", "Page not found"), ("ja", "ページが見つかりません")])
def test_an_unknown_address_is_the_consoles_404(operator_client, settings, debug, language, heading):
    settings.DEBUG = debug

    response = operator_client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)

    assert_console_page(response, 404, heading=heading)
    assert 'id="nav-sidebar"' in response.content.decode()  # still the console around it


@pytest.mark.parametrize("debug", [False, True])
def test_another_accounts_record_is_the_consoles_404(operator_client, other_account, settings, debug):
    settings.DEBUG = debug
    theirs = InterceptFactory(account=other_account, scope="local")

    response = operator_client.get(
        reverse("intercepts:intercept-detail", kwargs={"intercept_id": theirs.pk}), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert_console_page(response, 404, heading="Page not found")


@pytest.mark.parametrize("debug", [False, True])
def test_a_404_for_someone_logged_out_is_the_console_page_too(client, settings, debug):
    settings.DEBUG = debug

    assert_console_page(client.get("/nothing/", HTTP_ACCEPT_LANGUAGE="en"), 404, heading="Page not found")


@pytest.fixture
def crashing_status_page(monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("secret internals: /srv/app/settings.py password=hunter2")

    monkeypatch.setattr("delivery.views.message_status_counts", crash)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "language, heading", [("en", "Something went wrong"), ("ja", "エラーが発生しました")]
)
def test_a_crash_is_the_consoles_500_without_internals(
    operator, crashing_status_page, settings, debug, language, heading
):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(operator)

    response = client.get(reverse("delivery:message-list"), HTTP_ACCEPT_LANGUAGE=language)

    assert_console_page(response, 500, heading=heading)
    assert b"hunter2" not in response.content


@pytest.mark.urls("tests.smsconsole.error_urls")
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("language, heading", [("en", "Not allowed"), ("ja", "許可されていません")])
def test_permission_denied_is_the_consoles_403(operator_client, settings, debug, language, heading):
    settings.DEBUG = debug

    response = operator_client.get("/forbidden/", HTTP_ACCEPT_LANGUAGE=language)

    assert_console_page(response, 403, heading=heading)
    assert b"internal reason" not in response.content


@pytest.mark.parametrize("debug", [False, True])
def test_the_api_keeps_answering_json(api, settings, debug):
    settings.DEBUG = debug

    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_a_bad_request_is_the_consoles_400(operator_client, settings):
    settings.DEBUG = True
    # More query parameters than Django parses: SuspiciousOperation, a 400.
    response = operator_client.get("/status/?" + "&".join(f"f{i}=1" for i in range(1001)))

    assert response.status_code == 400
    assert b'data-status="400"' in response.content and b"Traceback" not in response.content
