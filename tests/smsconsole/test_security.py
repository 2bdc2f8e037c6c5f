"""Brute-force protection, password rules and the production settings, as a user meets them."""

import datetime as dt
import io
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F
from django.http import HttpRequest
from django.test import Client
from rest_framework.test import APIClient

from smsconsole import clock
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    MessageFactory,
    SmsUserFactory,
    StaffUserFactory,
    TemplateFactory,
    UserFactory,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # the factories' password


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Each login attempt hashes a password; the default hasher would make fifty of them slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username, password, *, path="/login/", ip="203.0.113.7"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en"
    )


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def age_failed_logins(by: dt.timedelta) -> None:
    """As if the recorded failures had happened `by` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


# --- login lockout --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_passwords_lock_the_login_even_for_the_right_password(settings, operator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, "alice", "guess")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text

    response = log_in(client, "alice", "guess")  # the last one the limit allows
    assert response.status_code == 429
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)
    assert "Too many failed logins" in response.text
    assert "try again in 15 minutes" in response.text
    assert response["Retry-After"] == str(15 * 60)
    # The console's page, not a bare message.
    assert 'href="/static/console/console.css"' in response.text
    assert 'id="header"' in response.text


@pytest.mark.django_db
def test_the_login_works_again_after_the_cool_off(settings, operator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "guess")
    assert log_in(client, "alice", PASSWORD).status_code == 429

    age_failed_logins(settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=30))
    assert log_in(client, "alice", PASSWORD).status_code == 429  # not yet

    age_failed_logins(dt.timedelta(seconds=31))
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/status/"
    assert is_logged_in(client)


@pytest.mark.django_db
def test_refused_attempts_during_a_lockout_do_not_extend_it(settings, operator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "guess")
    age_failed_logins(settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=5))
    assert log_in(client, "alice", "guess").status_code == 429
    assert log_in(client, "alice", PASSWORD).status_code == 429

    age_failed_logins(dt.timedelta(seconds=6))
    assert log_in(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_admin_login_locks_out_too(settings):
    StaffUserFactory(username="charlie")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "charlie", "guess", path="/admin/login/?next=/admin/")
    response = log_in(client, "charlie", PASSWORD, path="/admin/login/?next=/admin/")
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert not is_logged_in(client)
    assert client.get("/admin/", REMOTE_ADDR="203.0.113.7").status_code == 302  # still to the login

    age_failed_logins(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
    response = log_in(client, "charlie", PASSWORD, path="/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.django_db
def test_a_guesser_cannot_lock_the_user_out_from_other_addresses(settings, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT * 3):
        log_in(Client(), "alice", "guess", ip="198.51.100.66")
    assert log_in(Client(), "alice", PASSWORD, ip="198.51.100.66").status_code == 429

    client = Client()
    response = log_in(client, "alice", PASSWORD, ip="203.0.113.7")
    assert response.status_code == 302 and is_logged_in(client)


@pytest.mark.django_db
def test_one_address_guessing_many_usernames_is_locked_out_for_all(settings, operator):
    guesses_per_user = settings.AXES_FAILURE_LIMIT - 1
    for n in range(settings.LOGIN_IP_FAILURE_LIMIT // guesses_per_user + 1):
        for _ in range(guesses_per_user):
            log_in(Client(), f"user{n}", "123456", ip="198.51.100.66")

    # alice never had a wrong password from there, yet that address is refused...
    assert log_in(Client(), "alice", PASSWORD, ip="198.51.100.66").status_code == 429
    # ...while alice at her own address logs in.
    assert log_in(Client(), "alice", PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_a_good_login_clears_its_own_failures_but_not_the_addresss(settings, operator):
    settings.LOGIN_IP_FAILURE_LIMIT = 10
    UserFactory(username="mallory")
    ip = "198.51.100.66"
    for _ in range(4):
        log_in(Client(), "alice", "guess", ip=ip)
        log_in(Client(), "mallory", "typo", ip=ip)
    # Logging in to her own account forgives mallory's typos, not the guesses at alice...
    assert log_in(Client(), "mallory", PASSWORD, ip=ip).status_code == 302
    for _ in range(4):
        log_in(Client(), "mallory", "typo", ip=ip)
    assert log_in(Client(), "mallory", PASSWORD, ip=ip).status_code == 302
    # ...so six more guesses bring that address to its limit of ten (4 at alice, 6 at others).
    for n in range(6):
        log_in(Client(), f"user{n}", "guess", ip=ip)
    assert log_in(Client(), "mallory", PASSWORD, ip=ip).status_code == 429


@pytest.mark.django_db
def test_the_lockout_page_is_the_consoles_in_japanese_by_default(settings, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "alice", "guess")
    response = Client().post(
        "/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 429
    assert '<html lang="ja">' in response.text
    assert "| SMS配信コンソール</title>" in response.text and 'href="/login/"' in response.text


@pytest.mark.django_db
def test_logins_from_code_and_tests_still_work(operator):
    client = Client()
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert client.get("/status/").status_code == 200
    client = Client()
    client.force_login(operator)
    assert client.get("/status/").status_code == 200


# --- API rate limits ------------------------------------------------------------------------------


def api_client(sms_user=None, *, ip="203.0.113.7", key=None):
    client = APIClient(REMOTE_ADDR=ip)
    key = key or (sms_user.raw_key if sms_user else None)
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def assert_throttled(response):
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert body["detail"] == f"Too many requests. Try again in {wait} seconds."


def with_rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


A_MINUTE_START = dt.datetime(2026, 11, 28, 3, 0, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_bad_api_keys_from_one_address_get_429_and_then_even_a_good_key_does(sms_user):
    limit = 30  # API_AUTH_FAILURES_PER_MINUTE's default
    with clock.frozen(A_MINUTE_START + dt.timedelta(seconds=20)):
        for n in range(limit):
            response = api_client(key=f"sk_guess{n}").get("/api/v1/messages")
            assert response.status_code == 401
        assert_throttled(api_client(key="sk_guess-again").get("/api/v1/messages"))
        response = api_client(sms_user).get("/api/v1/messages")
        assert_throttled(response)
        assert response["Retry-After"] == "40"
        # Other addresses are not affected.
        assert api_client(sms_user, ip="192.0.2.10").get("/api/v1/messages").status_code == 200

    with clock.frozen(A_MINUTE_START + dt.timedelta(seconds=61)):
        assert api_client(sms_user).get("/api/v1/messages").status_code == 200


@pytest.mark.django_db
def test_a_malformed_authorization_header_counts_as_a_failure(settings, sms_user):
    with_rates(settings, auth_failure="2/min")
    with clock.frozen(A_MINUTE_START):
        client = APIClient(REMOTE_ADDR="203.0.113.7")
        assert client.get("/api/v1/messages", HTTP_AUTHORIZATION="Token abc").status_code == 401
        assert client.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer ").status_code == 401
        assert_throttled(client.get("/api/v1/messages", HTTP_AUTHORIZATION="Token abc"))


@pytest.mark.django_db
def test_a_valid_key_over_its_rate_gets_429(settings, sms_user, account):
    with_rates(settings, sms_user="5/min")
    colleague = SmsUserFactory(account=account, name="batch")
    with clock.frozen(A_MINUTE_START + dt.timedelta(seconds=45)):
        for _ in range(5):
            assert api_client(sms_user).get("/api/v1/messages").status_code == 200
        response = api_client(sms_user, ip="192.0.2.10").get("/api/v1/messages")  # per key, any address
        assert_throttled(response)
        assert response["Retry-After"] == "15"
        assert api_client(colleague).get("/api/v1/messages").status_code == 200
    with clock.frozen(A_MINUTE_START + dt.timedelta(minutes=1)):
        assert api_client(sms_user).get("/api/v1/messages").status_code == 200


@pytest.mark.django_db
def test_one_address_over_its_rate_gets_429_whatever_the_key(settings, sms_user, other_sms_user):
    with_rates(settings, client_ip="4/min")
    with clock.frozen(A_MINUTE_START):
        for _ in range(2):
            assert api_client(sms_user).get("/api/v1/messages").status_code == 200
            assert api_client(other_sms_user).get("/api/v1/messages").status_code == 200
        assert_throttled(api_client(other_sms_user).get("/api/v1/messages"))
        assert api_client(other_sms_user, ip="192.0.2.10").get("/api/v1/messages").status_code == 200


@pytest.mark.django_db
def test_default_rates_leave_room_for_bulk_sending(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    # 1,000 messages a request: twenty requests a second per key is over a million messages a minute.
    # Carriers may call a webhook once per receipt.
    assert rates == {
        "sms_user": "1200/min",
        "client_ip": "3000/min",
        "auth_failure": "30/min",
        "webhook_ip": "60000/min",
    }


@pytest.mark.django_db
def test_webhooks_have_their_own_per_address_limit(settings, simulator):
    with_rates(settings, client_ip="2/min", webhook_ip="4/min")
    client = APIClient(REMOTE_ADDR="198.51.100.9")
    url = f"/api/v1/channels/{simulator.code}/receipts"
    with clock.frozen(A_MINUTE_START):
        for _ in range(4):  # unsigned: refused by the view, yet counted, and not by the API's limit
            assert client.post(url, b"{}", content_type="application/json").status_code == 401
        assert_throttled(client.post(url, b"{}", content_type="application/json"))
        other = APIClient(REMOTE_ADDR="192.0.2.10")
        assert other.post(url, b"{}", content_type="application/json").status_code == 401


@pytest.mark.django_db
def test_a_429_in_japanese_when_asked(settings, sms_user):
    with_rates(settings, sms_user="1/min")
    client = api_client(sms_user)
    client.get("/api/v1/messages")
    response = client.get("/api/v1/messages", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", response.json()["detail"])


# --- a cache that is down -------------------------------------------------------------------------


@pytest.fixture
def template(account):
    return TemplateFactory(account=account)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server():
    """A real socket that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


def use_redis_cache(settings, port: int) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
        }
    }


@pytest.mark.django_db
@pytest.mark.parametrize("cache_state", ["nothing listens", "never answers"])
def test_rate_limits_fail_open_when_the_cache_is_down(
    settings, sms_user, template, silent_server, caplog, cache_state
):
    use_redis_cache(settings, free_port() if cache_state == "nothing listens" else silent_server)
    started = time.monotonic()
    client = api_client(sms_user)
    for _ in range(5):
        assert client.get("/api/v1/messages").status_code == 200
    response = client.post(
        "/api/v1/messages", {"template": template.pk, "messages": [{"to": "+819011112222"}]}, format="json"
    )
    assert response.status_code == 202
    assert api_client(key="sk_wrong").get("/api/v1/messages").status_code == 401
    # One short timeout at most, not one per request or per throttle.
    assert time.monotonic() - started < 3
    assert "Rate-limit cache" in caplog.text and "unavailable" in caplog.text


# --- passwords ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password, message",
    [
        ("password", "too common"),
        ("84930275613", "entirely numeric"),
        ("olivia2026", "too similar to the username"),
        ("k7#pQ", "too short"),
    ],
)
def test_create_operator_refuses_weak_passwords(password, message):
    AccountFactory(slug="acme")
    with pytest.raises(CommandError, match=message):
        call_command("create_operator", "acme", "olivia", "--password", password, stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="olivia").exists()


def test_create_operator_with_a_weak_password_exits_non_zero(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "manage.py", "create_account", "acme"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "create_operator", "acme", "olivia", "--password", "password"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "This password is too common." in result.stderr


# --- production settings --------------------------------------------------------------------------


def production_env(**extra) -> dict:
    """Only what the brief of a production deploy requires: DEBUG=0, a secret key and the hosts."""
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "console.example.com,127.0.0.1",
    }
    env.update(extra)
    return env


def test_check_deploy_has_no_warning_with_only_the_required_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "W0" not in output and "ERROR" not in output
    assert "no issues" in output


def production_settings(**env) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, s.AXES_FAILURE_LIMIT, "
        "s.LOGIN_IP_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), "
        "s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], s.CACHES['default']['BACKEND'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**production_env(**env), "DJANGO_SETTINGS_MODULE": "smsconsole.settings"},
        capture_output=True,
        text=True,
    )


def test_production_is_secure_by_default():
    result = production_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 5)[:5] == ["31536000", "True", "False", "True", "None"]


def test_security_settings_come_from_the_environment():
    result = production_settings(
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="1",
        SECURE_SSL_REDIRECT="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        LOGIN_FAILURE_LIMIT="8",
        LOGIN_IP_FAILURE_LIMIT="100",
        LOGIN_COOLOFF_MINUTES="30",
        API_KEY_REQUESTS_PER_MINUTE="6000",
        API_IP_REQUESTS_PER_MINUTE="0",
        API_AUTH_FAILURES_PER_MINUTE="10",
        CACHE_URL="redis://redis:6379/1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "600 False True False ('HTTP_X_FORWARDED_PROTO', 'https') 8 100 1800.0 "
        "{'sms_user': '6000/min', 'client_ip': None, 'auth_failure': '10/min', 'webhook_ip': '60000/min'} "
        "django.core.cache.backends.redis.RedisCache"
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS must be an integer"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS must be at least 0"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT must be a boolean"),
        ({"SECURE_HSTS_PRELOAD": "maybe"}, "SECURE_HSTS_PRELOAD must be a boolean"),
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER must be"),
        ({"SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}, "SECURE_PROXY_SSL_HEADER must be"),
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT must be at least 1"),
        ({"API_KEY_REQUESTS_PER_MINUTE": "lots"}, "API_KEY_REQUESTS_PER_MINUTE must be an integer"),
        ({"CACHE_URL": "memcached://cache:11211"}, "CACHE_URL must be a redis:// URL"),
    ],
)
def test_bad_security_settings_fail_loudly(env, message):
    result = production_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


# --- production serving: static files, HTTPS, CSP -------------------------------------------------


@pytest.fixture
def gunicorn(tmp_path):
    """The console as README deploys it: collectstatic, then gunicorn, DEBUG off, behind a TLS proxy."""
    env = production_env(
        STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with (tmp_path / "gunicorn.log").open("w") as log:
        server = subprocess.Popen(
            [gunicorn, "-b", f"127.0.0.1:{port}", "-w", "1", "smsconsole.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60  # a busy machine can take a while to boot the worker
            while True:
                try:
                    requests.get(f"{base}/login/", allow_redirects=False, timeout=10)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_production_serves_the_consoles_css_over_https(gunicorn):
    response = requests.get(f"{gunicorn}/login/", allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == gunicorn.replace("http://", "https://") + "/login/"

    proxied = {"X-Forwarded-Proto": "https"}
    page = requests.get(f"{gunicorn}/login/", headers=proxied, timeout=5)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    css_path = re.search(
        r'<link rel="stylesheet" href="(/static/console/console\.[0-9a-f]+\.css)">', page.text
    )
    assert css_path, page.text

    css = requests.get(
        gunicorn + css_path.group(1), headers={**proxied, "Accept-Encoding": "gzip"}, timeout=5
    )
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "#nav-sidebar" in css.text
    assert "max-age=315360000" in css.headers["Cache-Control"]


# --- Content-Security-Policy ----------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects what a strict CSP blocks: inline scripts, style blocks, style and on* attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


CSP = {
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def csp(response) -> set[str]:
    return {directive.strip() for directive in response["Content-Security-Policy"].split(";")}


@pytest.mark.django_db
def test_console_pages_have_a_strict_csp_they_keep_to(operator_client, account, client):
    message = MessageFactory(account=account)
    pages = ["/status/", f"/status/{message.pk}/", f"/numbers/{message.phone}/", "/intercepts/", "/replies/"]
    for url in pages:
        response = operator_client.get(url)
        assert response.status_code == 200, url
        assert csp(response) == CSP, url
        assert inline_code(response.text) == [], url
    login = client.get("/login/")
    assert csp(login) == CSP and inline_code(login.text) == []


@pytest.mark.django_db
def test_the_admin_keeps_to_the_csp(staff_client):
    MembershipFactory(user__username="dave")
    for url in [
        "/admin/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        "/admin/smsconsole/account/",
        "/admin/intercepts/intercept/",
        "/admin/axes/accessattempt/",
    ]:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert csp(response) == CSP, url
        assert inline_code(response.text) == [], url
