from smsconsole.management.commands._base import ServiceCommand
from smsconsole.services import operator_create


class Command(ServiceCommand):
    help = "Create a console operator (a Django user) for an account."

    def add_arguments(self, parser):
        parser.add_argument("account_slug")
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")

    def handle(self, *args, account_slug, username, password, email, **options):
        account = self.account_by_slug(account_slug)
        user = operator_create(account=account, username=username, password=password, email=email)
        self.stdout.write(f"Created operator {user.username} for {account.slug}.")
