from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsConsoleConfig(AppConfig):
    name = "smsconsole"
    verbose_name = _("Accounts")
