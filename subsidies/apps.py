from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubsidiesConfig(AppConfig):
    name = "subsidies"
    verbose_name = _("津贴补贴发放")

    def ready(self):
        from regions.services import register_change_preview, register_revision_follow_up
        from subsidies.run.corrections import correct_months
        from subsidies.run.preview import preview_policy_revision

        # The keys whose amounts the allowance run pays (their catalogue ``used_by``).
        for used_by in (
            "subsidies: monthly allowance run",
            "subsidies: yearly allowance",
            "subsidies: nursing subsidy",
        ):
            register_change_preview(used_by, preview_policy_revision)
            register_revision_follow_up(used_by, correct_months)
