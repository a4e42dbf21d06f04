from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubsidiesConfig(AppConfig):
    name = "subsidies"
    verbose_name = _("津贴补贴发放")

    def ready(self) -> None:
        from accounts.scoping import register_scope
        from subsidies.models import (
            AllowanceRun,
            BankReturnImport,
            BatchExport,
            FacilitySubsidy,
            PaymentBatch,
            PaymentLine,
            Scheme,
            StarSubsidyRate,
        )

        # Batches, runs and their records belong to the region they pay for; lines also to
        # the elder's region of registration. Schemes are public definitions.
        register_scope(Scheme, public=True)
        register_scope(AllowanceRun, regions=("region__path",))
        register_scope(PaymentBatch, regions=("region__path",))
        register_scope(PaymentLine, regions=("batch__region__path",))
        register_scope(BatchExport, regions=("batch__region__path",))
        register_scope(BankReturnImport, regions=("batch__region__path",))
        # A facility's subsidies belong to the facility's region; a star table to the
        # jurisdiction that set it.
        register_scope(FacilitySubsidy, regions=("facility__region__path",))
        register_scope(StarSubsidyRate, regions=("jurisdiction__path",))
