"""Setting up a kannel channel: the command, admin (the password never shown), the model's rules,
and SMS_PUBLIC_BASE_URL."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from delivery.channels import kannel as kannel_channel
from delivery.models import Channel
from delivery.services.kannel import kannel_mo_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def create(*extra):
    return run(
        "create_channel",
        "kannel-a",
        "--kind",
        "kannel",
        "--send-url",
        "http://127.0.0.1:13013/cgi-bin/sendsms",
        *extra,
    )


def test_create_kannel_channel_prints_its_replies_url_and_the_secret_last():
    lines = create("--username", "console", "--password", "s3cret")
    channel = Channel.objects.get(code="kannel-a")
    assert (channel.kind, channel.send_username, channel.send_password) == ("kannel", "console", "s3cret")
    assert lines[-1] == channel.webhook_secret
    assert f'  get-url = "{kannel_mo_url(channel)}"' in lines
    assert kannel_channel.mo_token(channel.webhook_secret) in kannel_mo_url(channel)


@pytest.mark.parametrize(
    ("args", "problem"),
    [(("--password", "s3cret"), "username"), (("--username", "console"), "password")],
)
def test_create_kannel_channel_refuses_missing_credentials(args, problem):
    with pytest.raises(CommandError, match=problem):
        create(*args)
    with pytest.raises(CommandError, match="sendsms URL"):
        run("create_channel", "kannel-b", "--kind", "kannel", "--username", "u", "--password", "p")
    assert not Channel.objects.exists()


def test_the_database_refuses_a_kannel_channel_without_credentials():
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.create(code="k", kind="kannel", send_url="http://k.example/cgi-bin/sendsms")


@pytest.fixture
def kannel_a():
    create("--username", "console", "--password", "pw-never-shown")
    return Channel.objects.get(code="kannel-a")


def test_admin_never_shows_the_send_password(staff_client, kannel_a):
    listing = staff_client.get(reverse("admin:delivery_channel_changelist"))
    change = staff_client.get(reverse("admin:delivery_channel_change", args=[kannel_a.pk]))
    assert listing.status_code == change.status_code == 200
    assert b"pw-never-shown" not in listing.content
    assert b"pw-never-shown" not in change.content
    assert b'name="send_username"' in change.content and b'name="send_password"' in change.content


def _form(channel, **changes):
    data = {
        "code": channel.code,
        "kind": channel.kind,
        "send_url": channel.send_url,
        "send_username": channel.send_username,
        "send_password": "",
        "webhook_secret": channel.webhook_secret,
        "is_active": "on",
        "simulated_failure_rate": "0",
    }
    data.update(changes)
    return data


def test_admin_keeps_the_password_when_left_empty_and_changes_it_when_given(staff_client, kannel_a):
    url = reverse("admin:delivery_channel_change", args=[kannel_a.pk])
    response = staff_client.post(url, _form(kannel_a, send_username="console2"))
    assert response.status_code == 302, response.content.decode()[:2000]
    kannel_a.refresh_from_db()
    assert (kannel_a.send_username, kannel_a.send_password) == ("console2", "pw-never-shown")
    staff_client.post(url, _form(kannel_a, send_password="new-pw"))
    kannel_a.refresh_from_db()
    assert kannel_a.send_password == "new-pw"


def test_admin_refuses_a_new_kannel_channel_without_a_password(staff_client):
    response = staff_client.post(
        reverse("admin:delivery_channel_add"),
        _form(
            Channel(
                code="kannel-c", kind="kannel", send_url="http://k.example/cgi-bin/sendsms", send_username="u"
            )
        ),
    )
    assert response.status_code == 200  # the form again, with the error
    assert list(response.context["adminform"].form.errors) == ["send_password"]
    assert not Channel.objects.filter(code="kannel-c").exists()


def _settings_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="smsconsole.settings")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from django.conf import settings as s; print(s.SMS_PUBLIC_BASE_URL)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_public_base_url_comes_from_the_environment():
    assert _settings_with().stdout.strip() == "http://127.0.0.1:8000"  # make run's address
    assert _settings_with(SMS_PUBLIC_BASE_URL="https://console.example.com/").stdout.strip() == (
        "https://console.example.com"
    )
    for bad in ("console.example.com", "https://console.example.com/a%20b"):
        result = _settings_with(SMS_PUBLIC_BASE_URL=bad)
        assert result.returncode != 0 and "SMS_PUBLIC_BASE_URL" in result.stderr
