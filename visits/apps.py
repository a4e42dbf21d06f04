from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("探访关爱")

    def ready(self) -> None:
        from accounts.scoping import register_scope
        from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker

        # Visits belong to where the elder lives (常住地), which is what street and community
        # offices cover; assignments and tasks to their area.
        register_scope(Visit, regions=("elder__residence_region__path",))
        register_scope(HealthCheck, regions=("elder__residence_region__path",))
        register_scope(FollowUpTask, regions=("area__path",))
        register_scope(VisitWorker, regions=("area__path",))
