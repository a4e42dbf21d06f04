from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResidentsConfig(AppConfig):
    name = "residents"
    verbose_name = _("老年人信息")
    # Scope rules of elders, categories and assessments: accounts/rules.py (one table).
