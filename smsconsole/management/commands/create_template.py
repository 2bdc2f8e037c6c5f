from delivery.models import TemplateType
from delivery.services.setup import template_create
from smsconsole.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = "Create a message template. Prints the template id alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("account_slug")
        parser.add_argument("name")
        parser.add_argument("--type", required=True, choices=TemplateType.values)
        parser.add_argument("--body", required=True)
        parser.add_argument("--approved", action="store_true")

    def handle(self, *args, account_slug, name, type, body, approved, **options):
        account = self.account_by_slug(account_slug)
        template = template_create(account=account, name=name, type=type, body=body, is_approved=approved)
        self.stdout.write(f"Created template {template.name} ({template.get_approval_status_display()}):")
        self.stdout.write(str(template.pk))
