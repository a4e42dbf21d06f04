from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


def _install_schedule_triggers(sender, using="default", **kwargs):
    from visits.schedule_store import install_triggers

    install_triggers(using)


def _drop_schedule_triggers(sender, using="default", **kwargs):
    from visits.schedule_store import drop_sqlite_triggers

    drop_sqlite_triggers(using)


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("探访关爱")

    def ready(self):
        # The stored visit schedules' triggers, after every migrate (and a test database's
        # flush). On SQLite, whose ALTER rebuilds a table — dropping its triggers, or refused
        # for a table a trigger names — no migration meets them: they are dropped before.
        pre_migrate.connect(
            _drop_schedule_triggers, sender=self, dispatch_uid="visits_schedule_triggers_aside"
        )
        post_migrate.connect(
            _install_schedule_triggers, sender=self, dispatch_uid="visits_schedule_triggers"
        )
