from delivery.models import Channel
from smsconsole.management.commands._base import CommandError, ServiceCommand
from smsconsole.services import account_create


class Command(ServiceCommand):
    help = "Create a customer account."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--channel", help="Code of the account's default channel.")
        parser.add_argument("--time-zone", default="Asia/Tokyo")
        parser.add_argument("--region", default="JP", help="Default phone region (ISO 3166 code).")

    def handle(self, *args, slug, name, channel, time_zone, region, **options):
        default_channel = None
        if channel:
            default_channel = Channel.objects.filter(code=channel).first()
            if default_channel is None:
                raise CommandError(f"No channel with code {channel!r}.")
        account = account_create(
            slug=slug,
            name=name,
            time_zone=time_zone,
            default_region=region.upper(),
            default_channel=default_channel,
        )
        self.stdout.write(f"Created account {account.slug} (id {account.pk}).")
