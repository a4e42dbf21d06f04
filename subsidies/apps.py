from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubsidiesConfig(AppConfig):
    name = "subsidies"
    verbose_name = _("津贴补贴发放")

    def ready(self):
        from django.db.models.signals import post_migrate, pre_migrate

        from regions.services import register_change_preview, register_revision_follow_up
        from subsidies import line_checks
        from subsidies.run.correction_jobs import request_correction
        from subsidies.run.preview import preview_policy_revision

        # SQLite: the payment lines' reference checks are set aside while migrations run.
        pre_migrate.connect(
            line_checks.set_aside_before_migrating, dispatch_uid="subsidies.line_checks.aside"
        )
        post_migrate.connect(
            line_checks.install_after_migrating, dispatch_uid="subsidies.line_checks.install"
        )

        # The keys whose amounts the allowance run pays (their catalogue ``used_by``).
        for used_by in (
            "subsidies: monthly allowance run",
            "subsidies: yearly allowance",
            "subsidies: yearly run",
            "subsidies: yearly run (paid to the insurer)",
            "subsidies: nursing subsidy",
        ):
            register_change_preview(used_by, preview_policy_revision)
            register_revision_follow_up(used_by, request_correction)
        # The caregivers' post allowance is paid by the run too: its months already run are
        # corrected alike, and its preview compares the caregivers' lines.
        register_change_preview("subsidies: caregiver post allowance", preview_policy_revision)
        register_revision_follow_up("subsidies: caregiver post allowance", request_correction)
        # Facility grants are bounded by caps, shares and coefficients: a grant whose rules
        # read a value revised backwards is read again by the same job.
        for used_by in ("subsidies: operating subsidies", "subsidies: liability insurance"):
            register_revision_follow_up(used_by, request_correction)
