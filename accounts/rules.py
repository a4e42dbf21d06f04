"""Who reaches what, for scoping (accounts.scoping). One table for the project: reviewers see
in one place what every role can reach.

Roles (issue 7):
- bureau (民政局): their region and everything below it, every app;
- auditor (审计): the same reach as a bureau, read-only (ScopedWritePermission / ScopedAdminMixin);
- street worker (街道社区): their street, community or grid — elders by where they live (常住地,
  else their registration when no residence is recorded: ElderPlace),
  their categories, assessments and visits, and the facilities in the area;
- finance (财务): their region's allowance runs, batches, payment lines and exports;
- institution staff (机构): their facility — its beds, stays, applications, caregivers, and the
  elders who currently stay there.

Writes reach the same records (accounts.scoping.require_in_scope): a record is written only
if it lies in the writer's scope both as stored and as it will be saved. Auditors write nothing.
"""

from django.db.models import F, Q
from django.db.models.functions import Coalesce

from accounts.choices import Role
from accounts.scoping import lookup_matches, register_role_apps, register_scope

# The apps a role's region assignment reaches (None = all). Reference data (regions) is public.
ROLE_APPS = {
    Role.BUREAU: None,
    Role.AUDITOR: None,
    Role.STREET_WORKER: ("residents", "visits", "facilities", "servicelist"),
    Role.FINANCE: ("subsidies",),
}


class ElderPlace:
    """Where an elder is placed for the offices that work where elders live (street and
    community workers, visits, their lists and compliance): the residence (常住地) when one is
    recorded, else the household registration (户籍), so that an elder whose residence was never
    entered is still reached by the street office of their registration, listed as "residence
    unknown" for it to complete (docs/policy.md §6: the lists name resident elders).

    The one statement of this rule, in the readings its users need: ``q`` a filter for an
    area's path (scoping and the visit lists), ``matches`` a record in memory (writes),
    ``region_id`` an expression for the region placing the elder (the lists read it),
    ``region_id_sql`` the same in plain SQL (the visit logging statement). ``prefix`` reaches
    the elder from another model (``"elder__"``)."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def q(self, path: str) -> Q:
        p = self.prefix
        return Q(**{f"{p}residence_region__path__startswith": path}) | Q(
            **{f"{p}residence_region__isnull": True, f"{p}hukou_region__path__startswith": path}
        )

    # A scope lookup (accounts.scoping) is a function of the area's path.
    __call__ = q

    def matches(self, instance, path: str) -> bool:
        p = self.prefix
        if _recorded(instance, f"{p}residence_region"):
            return lookup_matches(instance, f"{p}residence_region__path", path)
        return lookup_matches(instance, f"{p}hukou_region__path", path)

    def region_id(self) -> Coalesce:
        p = self.prefix
        return Coalesce(F(f"{p}residence_region_id"), F(f"{p}hukou_region_id"))

    @staticmethod
    def region_id_sql(elder_alias: str) -> str:
        return f"COALESCE({elder_alias}.residence_region_id, {elder_alias}.hukou_region_id)"


class _StaysNowAt:
    """Elders (through ``prefix``) with a current (open) stay at one of the facilities. One Q,
    so both conditions apply to the same stay."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self, ids) -> Q:
        p = self.prefix
        return Q(**{f"{p}stays__bed__facility__in": ids, f"{p}stays__end_date__isnull": True})

    def matches(self, instance, ids) -> bool:
        # Stays are other rows: asked of the database for the elder the record points at.
        from residents.models import Elder

        elder = _follow(instance, self.prefix)
        if elder is None or elder.pk is None:
            return False
        return Elder.objects.filter(pk=elder.pk).filter(_StaysNowAt("")(ids)).exists()


def _follow(instance, prefix: str):
    """The record ``prefix`` (``"elder__"``, or ``""`` for the instance itself) points at."""
    for name in filter(None, prefix.split("__")):
        if getattr(instance, f"{name}_id") is None:
            return None
        instance = getattr(instance, name)
    return instance


def _recorded(instance, relation: str) -> bool:
    *path, last = relation.split("__")
    holder = _follow(instance, "__".join(path))
    return holder is not None and getattr(holder, f"{last}_id") is not None


def register_all() -> None:
    for role, apps in ROLE_APPS.items():
        register_role_apps(role, apps)

    from regions.models import EligibilityRule, PolicyValue, Region

    # Reference data: the tree and the rulebook are public documents; everyone signed in may
    # read them. They are written (with the model permissions) only within one's region: a
    # bureau keeps its own rulebook values and the divisions below it.
    register_scope(Region, regions=("path",), public=True, writes=("parent__path",))
    register_scope(PolicyValue, regions=("region__path",), public=True, writes=("region__path",))
    register_scope(
        EligibilityRule, regions=("region__path",), public=True, writes=("region__path",)
    )

    from residents.models import AbilityAssessment, Elder, ElderCategory

    # An elder belongs to the area of their household registration (allowances) and to the
    # area where they live (visits): a bureau needs both; a street office, where they live
    # (ElderPlace: the residence, else the registration).
    for model, prefix in ((Elder, ""), (ElderCategory, "elder__"), (AbilityAssessment, "elder__")):
        register_scope(
            model,
            regions=(f"{prefix}hukou_region__path", f"{prefix}residence_region__path"),
            by_role={Role.STREET_WORKER: (ElderPlace(prefix),)},
            facility=_StaysNowAt(prefix),
        )

    from facilities import models as f

    # A facility belongs to its region (bureaus and street offices see their area) and to its
    # staff (institution staff, through RoleAssignment.facility, see their facility).
    register_scope(f.Facility, regions=("region__path",), facility="pk")
    register_scope(f.ChainContract, regions=("county__path",))
    for model in (f.Rating, f.Building, f.Bed, f.Application, f.Employment):
        register_scope(model, regions=("facility__region__path",), facility="facility")
    register_scope(
        f.Floor, regions=("building__facility__region__path",), facility="building__facility"
    )
    register_scope(
        f.Room,
        regions=("floor__building__facility__region__path",),
        facility="floor__building__facility",
    )
    register_scope(f.Stay, regions=("bed__facility__region__path",), facility="bed__facility")
    # A caregiver is seen by the areas and facilities that employ (or employed) them.
    register_scope(
        f.Caregiver,
        regions=("employments__facility__region__path",),
        facility="employments__facility",
    )
    register_scope(
        f.Certificate,
        regions=("caregiver__employments__facility__region__path",),
        facility="caregiver__employments__facility",
    )

    from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker

    # Visits belong to where the elder lives (常住地, else the registration: ElderPlace), which
    # is what street and community offices cover; assignments and tasks to their area.
    register_scope(Visit, regions=(ElderPlace("elder__"),))
    register_scope(HealthCheck, regions=(ElderPlace("elder__"),))
    register_scope(FollowUpTask, regions=("area__path",))
    register_scope(VisitWorker, regions=("area__path",))

    from subsidies import models as s

    # Batches, runs and their records belong to the region they pay for. Schemes are public
    # definitions. A facility's subsidies belong to the facility's region; a star table to the
    # jurisdiction that set it.
    register_scope(s.Scheme, public=True, writes=("jurisdiction__path",))
    register_scope(s.AllowanceRun, regions=("region__path",))
    # A correction job belongs to the region whose value was revised.
    register_scope(s.CorrectionJob, regions=("region__path",))
    register_scope(s.PaymentBatch, regions=("region__path",))
    for model in (s.PaymentLine, s.BatchExport, s.BankReturnImport):
        register_scope(model, regions=("batch__region__path",))
    register_scope(s.FacilitySubsidy, regions=("facility__region__path",))
    register_scope(s.StarSubsidyRate, regions=("jurisdiction__path",))
    # A payee's account belongs where its payee does: an elder's registration and residence,
    # a caregiver's employers, a facility's region, the region that registered an insurer.
    register_scope(
        s.PayeeAccount,
        regions=(
            "elder__hukou_region__path",
            "elder__residence_region__path",
            "caregiver__employments__facility__region__path",
            "facility__region__path",
            "insurer__region__path",
        ),
    )
    # Insurers are companies everyone may read of (their names and credit codes are public);
    # each is kept by the region that registered it. A cover belongs to the region it insures.
    register_scope(s.Insurer, regions=("region__path",), public=True, writes=("region__path",))
    register_scope(s.InsuranceCover, regions=("region__path",))

    from servicelist.models import SatisfactionSurvey, ServiceDelivery, ServiceItem

    # The service lists are public documents; each bureau keeps its own region's items. A
    # delivery, and an elder's answer to a satisfaction survey, belong where the elder does:
    # registration and residence for a bureau, where the elder lives for a street office.
    register_scope(ServiceItem, regions=("region__path",), public=True, writes=("region__path",))
    for model in (ServiceDelivery, SatisfactionSurvey):
        register_scope(
            model,
            regions=("elder__hukou_region__path", "elder__residence_region__path"),
            by_role={Role.STREET_WORKER: (ElderPlace("elder__"),)},
        )

    from servicelist import models as sl

    # The items' own records belong where their elder does, as deliveries; a meal point to the
    # area it serves, which the street office of that area keeps.
    for model in (sl.HomeAdaptation, sl.HomeCareBed, sl.RespiteStay):
        register_scope(
            model,
            regions=("elder__hukou_region__path", "elder__residence_region__path"),
            by_role={Role.STREET_WORKER: (ElderPlace("elder__"),)},
        )
    for model in (sl.MealService, sl.HomeCareBedVisit):
        register_scope(
            model,
            regions=(
                "delivery__elder__hukou_region__path",
                "delivery__elder__residence_region__path",
            ),
            by_role={Role.STREET_WORKER: (ElderPlace("delivery__elder__"),)},
        )
    register_scope(sl.MealPoint, regions=("region__path",))
