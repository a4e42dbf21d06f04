from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceListConfig(AppConfig):
    name = "servicelist"
    verbose_name = _("基本养老服务清单")
