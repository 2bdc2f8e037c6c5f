from smsconsole.management.commands._base import ServiceCommand
from smsconsole.services import sms_user_create


class Command(ServiceCommand):
    help = "Create an SMS_USER (API credential). Prints the API key alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("account_slug")
        parser.add_argument("name")

    def handle(self, *args, account_slug, name, **options):
        account = self.account_by_slug(account_slug)
        sms_user, raw_key = sms_user_create(account=account, name=name)
        self.stdout.write(f"Created SMS_USER {sms_user.name} for {account.slug}. API key (shown once):")
        self.stdout.write(raw_key)
