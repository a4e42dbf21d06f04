from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResidentsConfig(AppConfig):
    name = "residents"
    verbose_name = _("老年人信息")

    def ready(self) -> None:
        from accounts.scoping import register_scope
        from residents.models import AbilityAssessment

        # Assessments are as visible as their elder (accounts/rules.py registers Elder): the
        # household-registration office and the office where the elder lives.
        register_scope(
            AbilityAssessment,
            regions=("elder__hukou_region__path", "elder__residence_region__path"),
        )
