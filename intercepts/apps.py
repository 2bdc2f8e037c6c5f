from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterceptsConfig(AppConfig):
    name = "intercepts"
    verbose_name = _("Intercepts")
