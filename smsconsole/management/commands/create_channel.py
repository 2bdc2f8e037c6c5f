from delivery.models import Channel
from delivery.services.setup import channel_create
from smsconsole.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = "Create a channel. Prints its webhook secret alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--kind", required=True, choices=Channel.Kind.values)
        parser.add_argument("--send-url", default="")
        parser.add_argument("--failure-rate", type=float, default=0.0, help="Simulator only.")

    def handle(self, *args, code, kind, send_url, failure_rate, **options):
        channel = channel_create(code=code, kind=kind, send_url=send_url, simulated_failure_rate=failure_rate)
        self.stdout.write(f"Created {channel.get_kind_display()} channel {channel.code}. Webhook secret:")
        self.stdout.write(channel.webhook_secret)
