"""Reads of the facilities app: who is where, current ratings, the ranked waiting list,
staffing checks and workforce figures against the rulebook's targets."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext as _

from facilities.choices import (
    OPEN_APPLICATION_STATUSES,
    SENIOR_OR_ABOVE,
    BedType,
    CertificateKind,
    FacilityKind,
)
from facilities.models import (
    Application,
    Bed,
    Caregiver,
    Certificate,
    Employment,
    Facility,
    Rating,
    Stay,
)
from facilities.rules import (
    CARE_CLASS_SUBJECT,
    PRECEDENCE_SUBJECT,
    RATIO_KEYS,
    PrecedenceRule,
    care_class_by_level,
    required_caregivers,
    unranked,
)
from regions.choices import PolicyUnit
from regions.conditions import to_q
from regions.models import Region
from regions.selectors import (
    PolicyValueNotSet,
    resolve_policies,
    resolve_policies_for,
    rules_in_force,
    rules_in_force_for,
)
from residents.ages import add_years
from residents.choices import AbilityLevel
from residents.models import Elder
from residents.selectors import alive_on, latest_assessment_levels

# --- who is where ------------------------------------------------------------------------------


def stays_on(on: datetime.date) -> Q:
    """Stays in force on a day: periods are half-open [start, end)."""
    return Q(start_date__lte=on) & (Q(end_date__isnull=True) | Q(end_date__gt=on))


def beds_with_occupant(queryset: QuerySet[Bed] | None = None) -> QuerySet[Bed]:
    """Beds annotated with the current occupant's name, elder code and stay start (one query)."""
    queryset = queryset if queryset is not None else Bed.objects.all()
    open_stay = Stay.objects.filter(bed=OuterRef("pk"), end_date__isnull=True)
    return queryset.annotate(
        occupant_name=Subquery(open_stay.values("elder__name")[:1]),
        occupant_code=Subquery(open_stay.values("elder__elder_code")[:1]),
        occupied_since=Subquery(open_stay.values("start_date")[:1]),
    )


def registered_for_admission_by(user) -> QuerySet[Elder]:
    """Elders ``user`` registered themselves (institution staff register the elders they are
    about to admit, residents.services.registers_for_admission) and who have never had a
    stay anywhere: theirs to admit until then."""
    if user is None or user.pk is None:
        return Elder.objects.none()
    registered = Elder.history.filter(history_type="+", history_user_id=user.pk).values("id")
    return Elder.objects.filter(pk__in=registered).exclude(pk__in=Stay.objects.values("elder_id"))


def free_beds(facility: Facility) -> QuerySet[Bed]:
    # A subquery, not exclude(stays__end_date__isnull=True): through the outer join a bed that
    # never had a stay would look occupied.
    occupied = Stay.objects.filter(end_date__isnull=True).values("bed_id")
    return Bed.objects.filter(facility=facility, is_active=True).exclude(pk__in=occupied)


def _stay_payload(stay: Stay | None) -> dict | None:
    if stay is None:
        return None
    bed = stay.bed
    room = bed.room
    return {
        "stay_id": stay.pk,
        "start_date": stay.start_date.isoformat(),
        "elder": {
            "id": stay.elder_id,
            "name": stay.elder.name,
            "elder_code": stay.elder.elder_code,
        },
        "bed": {
            "id": bed.pk,
            "code": bed.code,
            "label": bed.label,
            "bed_type": bed.bed_type,
            "room": str(room) if room else None,
            "home_address": bed.home_address or None,
        },
        "facility": {"id": bed.facility_id, "code": bed.facility.code, "name": bed.facility.name},
    }


def lookup_code(
    code: str, elders: QuerySet[Elder] | None = None, beds: QuerySet[Bed] | None = None
):
    """Scan an elder code (长者码) or a bed code (床位码): who is where, or None if unknown.

    ``elders``/``beds`` are the querysets the caller may see (scoped), so an unknown code and
    one outside the user's scope look the same.
    """
    code = (code or "").strip().upper()
    elders = elders if elders is not None else Elder.objects.all()
    beds = beds if beds is not None else Bed.objects.all()
    open_stays = Stay.objects.filter(end_date__isnull=True).select_related(
        "elder", "bed__facility", "bed__room__floor__building"
    )
    if code.startswith("E"):
        elder = elders.filter(elder_code=code).first()
        if elder is None:
            return None
        stay = open_stays.filter(elder=elder).first()
        return {
            "kind": "elder",
            "code": code,
            "elder": {"id": elder.pk, "name": elder.name, "elder_code": elder.elder_code},
            "stay": _stay_payload(stay),
        }
    bed = beds.select_related("facility").filter(code=code).first()
    if bed is None:
        return None
    stay = open_stays.filter(bed=bed).first()
    return {
        "kind": "bed",
        "code": code,
        "bed": {"id": bed.pk, "label": bed.label, "bed_type": bed.bed_type},
        "facility": {"id": bed.facility_id, "code": bed.facility.code, "name": bed.facility.name},
        "stay": _stay_payload(stay),
    }


# --- ratings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentRating:
    rating: Rating | None
    is_expired: bool

    @property
    def status(self) -> str:
        if self.rating is None:
            return _("未评定")
        return _("已过期") if self.is_expired else _("有效")


def current_rating(facility: Facility, on: datetime.date) -> CurrentRating:
    """The latest rating given on or before ``on``; it shows as expired after its
    ``valid_until`` (never silently replaced by an older one)."""
    rating = facility.ratings.filter(rated_on__lte=on).order_by("-rated_on", "-id").first()
    if rating is None:
        return CurrentRating(None, False)
    return CurrentRating(rating, rating.valid_until < on)


# --- waiting list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingEntry:
    rank: int
    application: Application
    rule: PrecedenceRule

    @property
    def precedence(self) -> int:
        return int(self.rule.precedence)

    @property
    def explanation(self) -> str:
        return _("第%(n)s顺位：%(rule)s（%(citation)s）；同顺位按申请日期 %(applied_on)s") % {
            "n": self.rule.precedence,
            "rule": self.rule.label,
            "citation": self.rule.citation,
            "applied_on": self.application.applied_on,
        }


def waiting_list(facility: Facility, on: datetime.date) -> list[WaitingEntry]:
    """Open applications ranked by the precedence rules in force for the facility's region on
    ``on`` (docs/policy.md §5: the first rule, in rank order, the applicant meets, from their
    categories, latest assessment and age on ``on``), then by application date, then by
    registration order. Two queries: the rules, and the applications with each one's rule
    worked out in the database by the rules' conditions (regions/conditions.py)."""
    rules = rules_in_force(PRECEDENCE_SUBJECT, facility.region, on)
    placed_by = [PrecedenceRule.of(rule) for rule in rules]
    fallback = unranked(placed_by)
    which = Case(
        *(
            When(to_q(rule.condition, on=on, prefix="elder__", region=facility.region), then=i)
            for i, rule in enumerate(rules)
        ),
        default=Value(len(rules)),
        output_field=IntegerField(),
    )
    applications = (
        Application.objects.filter(facility=facility, status__in=OPEN_APPLICATION_STATUSES)
        .select_related("elder", "offered_bed")
        .annotate(precedence_rule=which)
        .order_by("applied_on", "id")
    )
    placed = [
        (placed_by[a.precedence_rule] if a.precedence_rule < len(rules) else fallback, a)
        for a in applications
    ]
    placed.sort(key=lambda p: (p[0].precedence, p[1].applied_on, p[1].pk))
    return [WaitingEntry(rank, app, rule) for rank, (rule, app) in enumerate(placed, start=1)]


def next_applicant(facility: Facility, on: datetime.date) -> WaitingEntry | None:
    """The first applicant still waiting (not yet offered a bed)."""
    for entry in waiting_list(facility, on):
        if entry.application.status == "waiting":
            return entry
    return None


# --- staffing (docs/policy.md §3) ------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    care_class: str
    key: str
    residents_per_caregiver: Fraction
    source_region: str
    citation: str

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "residents_per_caregiver": str(self.residents_per_caregiver),
            "source_region": self.source_region,
            "citation": self.citation,
        }


def _ratios(resolved) -> dict[str, Ratio]:
    """Ratio objects from resolved policies; PolicyValueNotSet if one is missing."""
    ratios = {}
    for care_class, key in RATIO_KEYS.items():
        policy = resolved[key]
        value = policy.require()
        ratios[care_class] = Ratio(
            care_class=care_class,
            key=key,
            # Decimal → Fraction is exact (no binary floating point on the way).
            residents_per_caregiver=Fraction(Decimal(value)),
            source_region=f"{policy.source_region.name} {policy.source_region.code}",
            citation=policy.citation,
        )
    return ratios


def staffing_ratios(region: Region, on: datetime.date) -> dict[str, Ratio]:
    """The jurisdiction's ratios (nearest region upwards); PolicyValueNotSet if one is missing."""
    return _ratios(resolve_policies_for(list(RATIO_KEYS.values()), [region], on)[region.pk])


def required_for_counts(region: Region, counts: dict[str, int], on: datetime.date) -> dict:
    """The planning form: required caregivers for given counts per class."""
    ratios = staffing_ratios(region, on)
    required = required_caregivers(
        counts, {c: r.residents_per_caregiver for c, r in ratios.items()}
    )
    return {
        "region": {"code": region.code, "name": region.name},
        "on": on.isoformat(),
        "counts": {c: counts.get(c, 0) for c in RATIO_KEYS},
        "ratios": {c: r.as_dict() for c, r in ratios.items()},
        "required": required,
    }


@dataclass
class StaffingReport:
    facility: Facility
    on: datetime.date
    counts: dict[str, int]
    unassessed: list[dict]
    ratios: dict[str, Ratio] = field(default_factory=dict)
    required: int | None = None
    actual: int = 0
    error: str = ""

    @property
    def shortfall(self) -> int | None:
        return None if self.required is None else max(self.required - self.actual, 0)

    @property
    def is_short_staffed(self) -> bool:
        # With residents left out, ``required`` is a lower bound: short even so is short.
        return bool(self.shortfall)

    @property
    def verdict(self) -> str:
        """``short``: fewer caregivers than required (even counting only those assessed);
        ``enough``: every resident counted and the caregivers suffice; ``unknown``: it cannot be
        judged — a ratio is not set, or residents without an assessment would be needed to
        say (those are listed in ``unassessed``: who needs assessing)."""
        if self.required is None:
            return "unknown"
        if self.is_short_staffed:
            return "short"
        return "unknown" if self.unassessed else "enough"

    @property
    def can_judge(self) -> bool:
        return self.verdict != "unknown"

    def as_dict(self) -> dict:
        return {
            "facility": {"code": self.facility.code, "name": self.facility.name},
            "on": self.on.isoformat(),
            "counts": self.counts,
            "unassessed": self.unassessed,
            "ratios": {c: r.as_dict() for c, r in self.ratios.items()},
            "required": self.required,
            "actual": self.actual,
            "shortfall": self.shortfall,
            "verdict": self.verdict,
            "error": self.error,
        }


def residents_on(facility: Facility, on: datetime.date) -> QuerySet[Stay]:
    # Home-care beds are in elders' own homes: their care is not the institution's staffing.
    return (
        Stay.objects.filter(stays_on(on), bed__facility=facility)
        .exclude(bed__bed_type=BedType.HOME_CARE)
        .select_related("elder")
    )


def caregivers_on(facility: Facility, on: datetime.date) -> QuerySet[Employment]:
    return Employment.objects.filter(facility=facility, start_date__lte=on).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=on)
    )


# The facilities whose staffing is checked against the ratios (home-care centres have none).
STAFFED_KINDS = [FacilityKind.INSTITUTION, FacilityKind.SMART_CARE_HOME]


def staffing_report(facility: Facility, on: datetime.date) -> StaffingReport:
    """One facility's staffing check: ``staffing_reports`` for a list of one, so the single and
    the batch reading can never differ."""
    return staffing_reports([facility], on, only_staffed_kinds=False)[0]


def staffing_reports(
    facilities: list[Facility], on: datetime.date, *, only_staffed_kinds: bool = True
) -> list[StaffingReport]:
    """Required caregivers from the residents' latest assessments, actual caregivers employed,
    the shortfall, for many facilities in a fixed number of queries. Residents are the stays in
    force on ``on`` outside home-care beds (those are in elders' own homes); each is counted in
    the staffing class its latest assessment's level maps to in the facility's region; one
    never assessed (or whose level no class names) is listed, not counted, and the required
    figure is then a lower bound that says so. The most short-staffed first."""
    if only_staffed_kinds:
        facilities = [f for f in facilities if f.kind in STAFFED_KINDS]
    if not facilities:
        return []
    ids = [f.pk for f in facilities]
    residents = Stay.objects.filter(stays_on(on), bed__facility_id__in=ids).exclude(
        bed__bed_type=BedType.HOME_CARE
    )
    stays = list(
        residents.values_list("bed__facility_id", "elder_id", "elder__elder_code", "elder__name")
    )
    levels = latest_assessment_levels(residents.values("elder_id"), on)
    actual = dict(
        Employment.objects.filter(facility_id__in=ids, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .values("facility_id")
        .annotate(n=Count("caregiver", distinct=True))
        .values_list("facility_id", "n")
    )
    regions = {f.region_id: f.region for f in facilities}
    resolved = resolve_policies_for(list(RATIO_KEYS.values()), regions.values(), on)
    classes = care_classes_for(regions.values(), on)
    unnamed = defaultdict(set)  # levels no staffing class names, per facility
    reports = {
        f.pk: StaffingReport(
            facility=f,
            on=on,
            counts=dict.fromkeys((str(c) for c in RATIO_KEYS), 0),
            unassessed=[],
            actual=actual.get(f.pk, 0),
        )
        for f in facilities
    }
    for facility_id, elder_id, elder_code, name in stays:
        report = reports[facility_id]
        level = levels.get(elder_id)
        mapping = classes[report.facility.region_id]
        if level is None or level not in mapping:
            report.unassessed.append({"elder_code": elder_code, "name": name})
            if level is not None:
                unnamed[facility_id].add(level)
        else:
            report.counts[str(mapping[level])] += 1
    for facility in facilities:
        report = reports[facility.pk]
        try:
            report.ratios = _ratios(resolved[facility.region_id])
        except PolicyValueNotSet as missing:
            report.error = _("护理员配比未设定：%(missing)s") % {"missing": missing}
            continue
        report.required = required_caregivers(
            report.counts, {c: r.residents_per_caregiver for c, r in report.ratios.items()}
        )
        if report.unassessed:
            report.error = unassessed_error(len(report.unassessed), unnamed[facility.pk])
    return sorted(
        reports.values(),
        key=lambda r: (-(r.shortfall or 0), r.required is not None, r.facility.code),
    )


def care_classes(region: Region, on: datetime.date) -> dict[str, str]:
    """{ability level: staffing class} for a region on a day (the ``care_class`` rules)."""
    return care_class_by_level(rules_in_force(CARE_CLASS_SUBJECT, region, on), on)


def care_classes_for(regions, on: datetime.date) -> dict[int, dict[str, str]]:
    """The same for many regions in one query: {region.pk: {level: class}}."""
    return {
        pk: care_class_by_level(rules, on)
        for pk, rules in rules_in_force_for(CARE_CLASS_SUBJECT, regions, on).items()
    }


def unassessed_error(count: int, unnamed_levels) -> str:
    """Why residents were left out of the classes: never assessed, or (a gap in the rules) a
    level that no staffing class names."""
    unnamed = sorted(set(unnamed_levels))
    if unnamed:
        shown = "、".join(str(AbilityLevel(level).label) for level in unnamed)
        return _(
            "%(count)s 名在住老人没有能力评估或其能力等级（%(levels)s）未对应配比类别，"
            "所需护理员数只按已评估的老人计算，是否缺员无法判断：请先为他们评估"
        ) % {"count": count, "levels": shown}
    return _(
        "%(count)s 名在住老人没有能力评估，所需护理员数只按已评估的老人计算，"
        "是否缺员无法判断：请先为他们评估"
    ) % {"count": count}


def short_staffed_facilities(region: Region, on: datetime.date) -> list[StaffingReport]:
    """Institutions in the region whose actual caregivers fall short of the requirement."""
    facilities = Facility.objects.filter(
        region__path__startswith=region.path, is_active=True, kind__in=STAFFED_KINDS
    ).select_related("region")
    return [r for r in staffing_reports(list(facilities), on) if r.is_short_staffed]


# --- workforce figures against targets (docs/policy.md §2) -----------------------------------------

TARGET_KEYS = [
    "target_caregivers_per_10k",
    "target_senior_caregiver_share",
    "target_first_aid_share",
    "target_nursing_bed_share",
    "target_cognitive_beds_per_10k",
]


def _valid_on(on: datetime.date) -> Q:
    return Q(issued_on__lte=on) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def valid_certificates(on: datetime.date) -> QuerySet[Certificate]:
    """Certificates held on ``on``: issued by then and not expired (``valid_until`` is the
    last valid day). An expired 救护员证 is not held, wherever certificates are counted."""
    return Certificate.objects.filter(_valid_on(on))


def certificate_valid_on(certificate: Certificate, on: datetime.date) -> bool:
    """The same rule for one certificate in memory (a list's prefetched rows)."""
    return certificate.issued_on <= on and (
        certificate.valid_until is None or certificate.valid_until >= on
    )


def _share(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def _fmt(value: Fraction | None) -> str | None:
    # Four decimal places for display; the comparison with the target stays exact.
    if value is None:
        return None
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001")))


def _shown(value, unit: str) -> str | None:
    """A figure as people read it: a share as a percentage with two decimals (0.2917 →
    "29.17%"), a count per 10,000 elders with two decimals."""
    if value is None:
        return None
    number = Fraction(value)
    if unit == PolicyUnit.SHARE:
        number *= 100
    shown = (Decimal(number.numerator) / Decimal(number.denominator)).quantize(Decimal("0.01"))
    return f"{shown}%" if unit == PolicyUnit.SHARE else str(shown)


def workforce_figures(region: Region, on: datetime.date) -> dict:
    """Caregivers and beds of a jurisdiction against its 2025 targets (rulebook target_*).

    Certified caregivers: employed on ``on`` at a facility in the region with a valid skill
    certificate. Elders: registered (户籍) in the region, aged 60+, alive on ``on``.
    """
    employed = Caregiver.objects.filter(
        employments__in=Employment.objects.filter(
            facility__region__path__startswith=region.path, start_date__lte=on
        ).filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
    ).distinct()
    skill = Certificate.objects.filter(_valid_on(on), kind=CertificateKind.CAREGIVER_SKILL)
    certified_ids = set(skill.filter(caregiver__in=employed).values_list("caregiver_id", flat=True))
    senior_ids = set(
        skill.filter(caregiver_id__in=certified_ids, grade__in=SENIOR_OR_ABOVE).values_list(
            "caregiver_id", flat=True
        )
    )
    first_aid_ids = set(
        Certificate.objects.filter(
            _valid_on(on), kind=CertificateKind.FIRST_AID, caregiver_id__in=certified_ids
        ).values_list("caregiver_id", flat=True)
    )
    sixty = add_years(on, -60)
    elders = (
        Elder.objects.filter(hukou_region__path__startswith=region.path, birth_date__lte=sixty)
        .filter(alive_on(on))
        .count()
    )
    beds = Bed.objects.filter(
        facility__region__path__startswith=region.path, is_active=True
    ).exclude(bed_type=BedType.HOME_CARE)
    bed_counts = dict(beds.values_list("bed_type").annotate(n=Count("id")))
    all_beds = sum(bed_counts.values())
    per_10k = Fraction(10000, elders) if elders else None
    actual = {
        "target_caregivers_per_10k": per_10k * len(certified_ids) if per_10k else None,
        "target_senior_caregiver_share": _share(len(senior_ids), len(certified_ids)),
        "target_first_aid_share": _share(len(first_aid_ids), len(certified_ids)),
        "target_nursing_bed_share": _share(bed_counts.get(BedType.NURSING, 0), all_beds),
        "target_cognitive_beds_per_10k": per_10k * bed_counts.get(BedType.COGNITIVE, 0)
        if per_10k
        else None,
    }
    resolved = resolve_policies(TARGET_KEYS, region, on)
    figures = {}
    for key in TARGET_KEYS:
        target = resolved[key]
        value = actual[key]
        met = None
        if target.is_set and value is not None:
            met = value >= Fraction(Decimal(target.value))
        figures[key] = {
            "label": str(target.key.label),
            "actual": _fmt(value),
            "actual_shown": _shown(value, target.key.unit),
            "target": None if not target.is_set else str(target.value.normalize()),
            "target_shown": _shown(target.value, target.key.unit) if target.is_set else None,
            "target_source": target.citation or None,
            "target_note": "" if target.is_set else target.not_set_reason,
            "met": met,
        }
    return {
        "region": {"code": region.code, "name": region.name},
        "on": on.isoformat(),
        "elders_60_plus": elders,
        "certified_caregivers": len(certified_ids),
        "senior_or_above": len(senior_ids),
        "with_first_aid": len(first_aid_ids),
        "beds": all_beds,
        "beds_by_type": {str(k): v for k, v in bed_counts.items()},
        "figures": figures,
    }


# --- the county's approval of a placement ------------------------------------------------------


def placement_approval_stays(user):
    """The stays on which ``user`` may record the county's approval of a placement in
    institutional care (facilities.services.record_placement_approval), and see what it needs
    to: the stays in their scope, and — for a civil-affairs bureau — the institutional stays of
    the elders registered in its area, wherever the institution is (a county bureau approves
    its 低保 elders' placements in another county's institution, which it otherwise does not
    see). Only this action reads the second part, and only the stay's placement facts."""
    from django.db.models import Q

    from accounts.choices import Role
    from accounts.scoping import scope_of, scoped
    from facilities.choices import BedType

    stays = Stay.objects.all()
    scope = scope_of(user)
    if scope.everything:
        return stays
    registered = Q(pk__in=scoped(stays, user).values("pk"))
    if Role.BUREAU in scope.roles and not scope.read_only:
        for role, path in scope.region_grants:
            if role == Role.BUREAU:
                registered |= Q(elder__hukou_region__path__startswith=path) & ~Q(
                    bed__bed_type=BedType.HOME_CARE
                )
    return stays.filter(registered)
