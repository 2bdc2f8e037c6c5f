from delivery.models import Channel
from delivery.services.kannel import kannel_mo_url
from delivery.services.setup import channel_create
from smsconsole.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = "Create a channel. Prints its webhook secret alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--kind", required=True, choices=Channel.Kind.values)
        parser.add_argument(
            "--send-url", default="", help="http: the carrier's URL; kannel: smsbox's sendsms URL."
        )
        parser.add_argument("--username", default="", help="Kannel only: the sendsms-user's username.")
        parser.add_argument("--password", default="", help="Kannel only: the sendsms-user's password.")
        parser.add_argument("--failure-rate", type=float, default=0.0, help="Simulator only.")

    def handle(self, *args, code, kind, send_url, username, password, failure_rate, **options):
        channel = channel_create(
            code=code,
            kind=kind,
            send_url=send_url,
            send_username=username,
            send_password=password,
            simulated_failure_rate=failure_rate,
        )
        if channel.kind == Channel.Kind.KANNEL:
            # Replies come through a Kannel sms-service: this is its get-url, token included.
            self.stdout.write("Kannel sms-service get-url (replies):")
            self.stdout.write(f'  get-url = "{kannel_mo_url(channel)}"')
        self.stdout.write(f"Created {channel.get_kind_display()} channel {channel.code}. Webhook secret:")
        self.stdout.write(channel.webhook_secret)
