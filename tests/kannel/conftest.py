import pytest

from delivery.services.setup import channel_create
from smsconsole.models import Account
from tests.factories import TemplateFactory
from tests.kannel import gateway as kannel_gateway
from tests.kannel.fake_smsbox import FakeSmsbox


@pytest.fixture
def smsbox():
    with FakeSmsbox() as box:
        yield box


@pytest.fixture
def kannel(account, smsbox):
    """A kannel channel in front of the fake smsbox, the account's default channel."""
    channel = channel_create(
        code="kannel",
        kind="kannel",
        send_url=smsbox.url,
        send_username="console",
        send_password="console-password",
    )
    Account.objects.filter(pk=account.pk).update(default_channel=channel)
    return channel


@pytest.fixture
def template(account):
    return TemplateFactory(account=account, body="{{text}}")


def pytest_terminal_summary(terminalreporter):
    """Say it plainly when the test through a real Kannel did not run: a skip is easy to miss."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "test_kannel_e2e" in getattr(report, "nodeid", "")
    ]
    if skipped:
        terminalreporter.write_sep("-", "Kannel", yellow=True)
        terminalreporter.write_line(
            f"SKIPPED {len(skipped)} end-to-end tests through a real Kannel: "
            f"{kannel_gateway.BEARERBOX} is missing (apt-get install kannel; .ci/run does).",
            yellow=True,
        )
