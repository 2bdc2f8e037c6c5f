import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from delivery.models import Channel, Template
from smsconsole.models import Account, SmsUser, hash_api_key
from tests.factories import AccountFactory, ChannelFactory


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_create_channel_prints_the_webhook_secret_last():
    lines = run("create_channel", "carrier-a", "--kind", "http", "--send-url", "https://carrier.example/send")
    channel = Channel.objects.get(code="carrier-a")
    assert lines[-1] == channel.webhook_secret
    assert len(channel.webhook_secret) == 64


@pytest.mark.django_db
def test_create_channel_refuses_http_without_url_and_duplicates():
    with pytest.raises(CommandError, match="send URL"):
        run("create_channel", "carrier-a", "--kind", "http")
    run("create_channel", "sim", "--kind", "simulator")
    with pytest.raises(CommandError, match="already exists"):
        run("create_channel", "sim", "--kind", "simulator")


@pytest.mark.django_db
def test_create_account_with_channel():
    ChannelFactory(code="sim")
    run("create_account", "acme", "--name", "ACME", "--channel", "sim")
    account = Account.objects.get(slug="acme")
    assert account.name == "ACME"
    assert account.default_channel.code == "sim"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["create_account", "acme", "--channel", "nope"], "No channel"),
        (["create_account", "not a slug"], "slug"),
        (["create_account", "acme", "--time-zone", "Mars/Base"], "time zone"),
    ],
)
def test_create_account_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


@pytest.mark.django_db
def test_create_account_refuses_duplicate():
    AccountFactory(slug="acme")
    with pytest.raises(CommandError, match="already exists"):
        run("create_account", "acme")


@pytest.mark.django_db
def test_create_sms_user_prints_a_working_key_alone_on_the_last_line():
    account = AccountFactory(slug="acme")
    lines = run("create_sms_user", "acme", "backend")
    key = lines[-1]
    assert " " not in key and key.startswith("sk_")
    sms_user = SmsUser.objects.get(key_hash=hash_api_key(key))
    assert sms_user.account == account and sms_user.name == "backend"
    assert key not in SmsUser.objects.values_list("key_hash", flat=True)


@pytest.mark.django_db
def test_create_sms_user_bad_input():
    with pytest.raises(CommandError, match="No account"):
        run("create_sms_user", "nope", "backend")
    AccountFactory(slug="acme")
    run("create_sms_user", "acme", "backend")
    with pytest.raises(CommandError, match="already exists"):
        run("create_sms_user", "acme", "backend")


@pytest.mark.django_db
def test_create_operator_can_log_in(client):
    AccountFactory(slug="acme")
    run("create_operator", "acme", "olivia", "--password", "a-long-password")
    user = get_user_model().objects.get(username="olivia")
    assert user.membership.account.slug == "acme"
    # django-axes checks lockouts per request, so authenticate() needs one.
    assert client.login(request=HttpRequest(), username="olivia", password="a-long-password")


@pytest.mark.django_db
def test_create_operator_bad_input():
    with pytest.raises(CommandError, match="No account"):
        run("create_operator", "nope", "olivia", "--password", "a-long-password")
    AccountFactory(slug="acme")
    with pytest.raises(CommandError, match="too short"):
        run("create_operator", "acme", "olivia", "--password", "x")
    run("create_operator", "acme", "olivia", "--password", "a-long-password")
    with pytest.raises(CommandError, match="already exists"):
        run("create_operator", "acme", "olivia", "--password", "a-long-password")


@pytest.mark.django_db
def test_create_template_prints_the_id_last():
    AccountFactory(slug="acme")
    lines = run(
        "create_template", "acme", "otp", "--type", "verification", "--body", "Code {{code}}", "--approved"
    )
    template = Template.objects.get(pk=int(lines[-1]))
    assert template.name == "otp" and template.is_approved and template.variable_names == ["code"]


@pytest.mark.django_db
def test_create_template_is_pending_without_approved_flag():
    AccountFactory(slug="acme")
    lines = run("create_template", "acme", "promo", "--type", "marketing", "--body", "Sale!")
    assert Template.objects.get(pk=int(lines[-1])).approval_status == "pending"


@pytest.mark.django_db
def test_create_template_bad_input():
    with pytest.raises(CommandError, match="No account"):
        run("create_template", "nope", "otp", "--type", "verification", "--body", "x")
    AccountFactory(slug="acme")
    with pytest.raises(CommandError):
        run("create_template", "acme", "otp", "--type", "spam", "--body", "x")
    run("create_template", "acme", "otp", "--type", "verification", "--body", "x")
    with pytest.raises(CommandError, match="already exists"):
        run("create_template", "acme", "otp", "--type", "verification", "--body", "y")
