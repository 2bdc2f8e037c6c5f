"""Shared plumbing for the project's management commands: services refuse, commands exit non-zero."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from smsconsole.exceptions import ServiceError
from smsconsole.models import Account


class ServiceCommand(BaseCommand):
    def execute(self, *args, **options):
        # Command output is for engineers' terminals and logs: English, whatever LANGUAGE_CODE says.
        with translation.override("en"):
            try:
                return super().execute(*args, **options)
            except ServiceError as exc:
                raise CommandError(exc.message) from None

    @staticmethod
    def account_by_slug(slug: str) -> Account:
        account = Account.objects.filter(slug=slug).first()
        if account is None:
            raise CommandError(f"No account with slug {slug!r}.")
        return account
