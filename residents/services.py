"""Writes of the elder registry: one verb per change, each in one transaction.

The admin, the API, the import and the tests all go through these functions.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.scoping import require_in_scope, scope_of
from facilities import services as facility_services
from regions.models import Region
from regions.selectors import PolicyValueNotSet, policy_value
from residents.assessment_rules import (
    CARE_RISK_EVENTS_FOR_ADJUSTMENT,
    ITEMS,
    LevelOutcome,
    compute_level,
)
from residents.choices import AbilityLevel, AssessmentStandard, Category, PensionType
from residents.id_numbers import normalize_id_number, parse_id_number
from residents.models import AbilityAssessment, Elder, ElderCategory
from residents.validators import normalize_phone
from subsidies import batches as subsidy_batches
from visits import services as visit_services


def _with_history_user(instance, by):
    if by is not None:
        instance._history_user = by
    return instance


def elder_label(elder: Elder) -> str:
    """How a refusal names an elder: the name and the places the writer gave."""
    places = []
    if elder.hukou_region_id:
        places.append(_("户籍地 %(region)s") % {"region": elder.hukou_region.name})
    if elder.residence_region_id:
        places.append(_("常住地 %(region)s") % {"region": elder.residence_region.name})
    return _("老年人“%(name)s”（%(places)s）") % {"name": elder.name, "places": "，".join(places)}


def require_elder_in_scope(by, elder: Elder, *, field: str | None = None) -> None:
    """The elder as stored lies in the writer's scope (the record it names is theirs)."""
    require_in_scope(
        by, elder, field=field, label=_("老年人“%(name)s”") % {"name": elder.name}, as_changed=False
    )


def require_places_in_scope(by, elder: Elder) -> None:
    """The elder as it will be saved (its household registration and residence) lies in the
    writer's scope: no one registers or moves an elder outside their area. The refusal names
    the place that decides (residence, or registration without one)."""
    field = "residence_region" if elder.residence_region_id else "hukou_region"
    require_in_scope(by, elder, field=field, label=elder_label(elder), as_stored=False)


def registers_for_admission(by) -> bool:
    """Institution staff (a facility's scope, no area) register the elders they are about to
    admit: people come to an institution from anywhere, so the place they are registered is not
    the institution's to check. The new elder is theirs to admit (facilities.services), and lies
    in their scope from the admission."""
    if by is None:
        return False
    scope = scope_of(by)
    return (
        not scope.everything
        and not scope.read_only
        and not scope.region_grants
        and bool(scope.facility_ids)
    )


def apply_id_number_facts(elder: Elder) -> None:
    """Normalise the ID number and derive sex and birth date from it (never typed twice).

    Raises ValidationError naming ``id_number`` when the number is invalid.
    """
    elder.id_number = normalize_id_number(elder.id_number)
    try:
        facts = parse_id_number(elder.id_number)
    except ValidationError as error:
        raise ValidationError({"id_number": error.messages}) from None
    elder.sex = facts.sex
    elder.birth_date = facts.birth_date


@transaction.atomic
def create_elder(
    *,
    id_number: str,
    name: str,
    hukou_region: Region,
    residence_region: Region | None = None,
    phone: str = "",
    pension_type: str = PensionType.NONE,
    disability_category: str = "",
    disability_grade: int | None = None,
    by=None,
) -> Elder:
    elder = Elder(
        disability_category=disability_category or "",
        disability_grade=disability_grade,
        id_number=id_number,
        name=(name or "").strip(),
        hukou_region=hukou_region,
        residence_region=residence_region,
        phone=normalize_phone(phone),
        pension_type=pension_type or PensionType.NONE,
    )
    # Before the registry's own checks, so that a number registered outside the writer's area
    # is answered as any other place outside it.
    if not registers_for_admission(by):
        require_places_in_scope(by, elder)
    apply_id_number_facts(elder)
    elder.full_clean()
    _with_history_user(elder, by).save()
    return elder


# Fields an update may change; the ID number is the registry key and sex/birth date follow it.
UPDATABLE_FIELDS = (
    "name",
    "hukou_region",
    "residence_region",
    "phone",
    "pension_type",
    "disability_category",
    "disability_grade",
)


@transaction.atomic
def update_elder(*, elder: Elder, by=None, **changes) -> Elder:
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), _("该字段不可修改。")))
    require_elder_in_scope(by, elder)
    if "phone" in changes:
        changes["phone"] = normalize_phone(changes["phone"])
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    for field, value in changes.items():
        setattr(elder, field, value)
    require_places_in_scope(by, elder)
    elder.full_clean()
    _with_history_user(elder, by).save()
    return elder


def _overlapping_periods(elder, category, start, end, exclude_pk=None):
    periods = ElderCategory.objects.filter(elder=elder, category=category)
    if exclude_pk:
        periods = periods.exclude(pk=exclude_pk)
    periods = periods.exclude(end_date__lt=start)
    if end is not None:
        periods = periods.exclude(start_date__gt=end)
    return periods


@transaction.atomic
def set_category(
    *,
    elder: Elder,
    category: str,
    start_date: datetime.date,
    end_date: datetime.date | None = None,
    note: str = "",
    by=None,
) -> ElderCategory:
    """Give an elder a category from ``start_date`` (open-ended unless ``end_date``)."""
    require_elder_in_scope(by, elder, field="elder")
    if category not in Category.values:
        raise ValidationError({"category": _("未知的类别代码 %(code)s。") % {"code": category}})
    if elder.death_date and start_date > elder.death_date:
        raise ValidationError(
            {
                "start_date": _("起始日期 %(start)s 晚于死亡日期 %(death)s。")
                % {"start": start_date, "death": elder.death_date}
            }
        )
    if _overlapping_periods(elder, category, start_date, end_date).exists():
        raise ValidationError(
            {
                "start_date": _("该老年人在此期间已有“%(category)s”类别。")
                % {"category": Category(category).label}
            }
        )
    period = ElderCategory(
        elder=elder, category=category, start_date=start_date, end_date=end_date, note=note
    )
    period.full_clean()
    _with_history_user(period, by).save()
    return period


@transaction.atomic
def end_category(*, elder: Elder, category: str, end_date: datetime.date, by=None) -> ElderCategory:
    """End the elder's open period of ``category`` on ``end_date`` (the last day held)."""
    require_elder_in_scope(by, elder, field="elder")
    period = (
        ElderCategory.objects.select_for_update()
        .filter(elder=elder, category=category, end_date__isnull=True)
        .first()
    )
    if period is None:
        raise ValidationError(
            {
                "category": _("该老年人没有进行中的“%(category)s”类别。")
                % {"category": Category(category).label}
            }
        )
    if end_date < period.start_date:
        raise ValidationError(
            {
                "end_date": _("终止日期 %(end)s 早于起始日期 %(start)s。")
                % {"end": end_date, "start": period.start_date}
            }
        )
    period.end_date = end_date
    period.full_clean()
    _with_history_user(period, by).save()
    return period


@transaction.atomic
def record_death(*, elder: Elder, death_date: datetime.date, by=None) -> Elder:
    """Record a death: the categories end on the death date, then each app that owns a
    consequence (bed, visit schedule, allowances from the next month) handles it through its
    ``handle_elder_death(elder=…, death_date=…)``. All in one transaction: nothing half-done.
    """
    require_elder_in_scope(by, elder)
    elder = Elder.objects.select_for_update().get(pk=elder.pk)
    if death_date > datetime.date.today():
        raise ValidationError(
            {"death_date": _("死亡日期 %(date)s 晚于今天。") % {"date": death_date}}
        )
    if death_date < elder.birth_date:
        raise ValidationError(
            {"death_date": _("死亡日期 %(date)s 早于出生日期。") % {"date": death_date}}
        )
    if elder.death_date is not None and elder.death_date != death_date:
        raise ValidationError(
            {
                "death_date": _("已登记死亡日期 %(date)s，更正请联系管理员。")
                % {"date": elder.death_date}
            }
        )
    elder.death_date = death_date
    elder.full_clean()
    _with_history_user(elder, by).save()

    open_periods = ElderCategory.objects.select_for_update().filter(
        elder=elder, end_date__isnull=True
    )
    for period in open_periods:
        # A period recorded as starting after the death never took effect: it is closed on its
        # own start date and kept (registry rows are never deleted).
        period.end_date = max(death_date, period.start_date)
        period.note = (period.note + " 因死亡终止").strip()[:200]
        _with_history_user(period, by).save()

    # Each consequence by its owner, in this order: the bed, the visit schedule, the allowances
    # (named here, so that a renamed handler fails at import instead of stopping recoveries).
    facility_services.handle_elder_death(elder=elder, death_date=death_date)
    visit_services.handle_elder_death(elder=elder, death_date=death_date)
    subsidy_batches.handle_elder_death(elder=elder, death_date=death_date)
    return elder


def _risk_adjustments_stack(elder: Elder, on: datetime.date) -> bool:
    # Rulebook setting: GB/T 42195-2022 leaves open whether the two adjustments stack.
    try:
        value = policy_value("assessment_risk_adjustments_stack", elder.hukou_region, on)
    except PolicyValueNotSet as missing:
        raise ValidationError(
            {
                "care_risk_events_30_days": _("规则库未设定两项降级是否叠加：%(reason)s")
                % {"reason": missing.reason}
            }
        ) from None
    return bool(int(value))


@transaction.atomic
def record_assessment(
    *,
    elder: Elder,
    assessed_on: datetime.date,
    assessor: str,
    scores: dict[str, int],
    in_coma: bool = False,
    has_dementia_or_psychiatric_diagnosis: bool = False,
    care_risk_events_30_days: int = 0,
    final_level: str | None = None,
    change_reason: str = "",
    assessment_agency: str = "",
    by=None,
) -> AbilityAssessment:
    """Record a GB/T 42195-2022 assessment: the 26 item scores, the level the total gives and
    the final level after the standard's adjustments. An assessor may set another final level
    only with a reason."""
    require_elder_in_scope(by, elder, field="elder")
    missing = [item.field for item in ITEMS if scores.get(item.field) is None]
    unknown = sorted(set(scores) - {item.field for item in ITEMS})
    if missing or unknown:
        errors = dict.fromkeys(missing, _("缺少该项评分。"))
        errors.update(dict.fromkeys(unknown, _("不是 GB/T 42195-2022 的评估项目。")))
        raise ValidationError(errors)
    errors = {}
    for item in ITEMS:
        value = scores[item.field]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= item.max_score
        ):
            errors[item.field] = _("%(item)s的评分应为0–%(max)s的整数，收到 %(value)s。") % {
                "item": item.label,
                "max": item.max_score,
                "value": repr(value),
            }
    if errors:
        raise ValidationError(errors)
    if elder.death_date and assessed_on > elder.death_date:
        raise ValidationError({"assessed_on": _("评估日期晚于死亡日期。")})

    dimension_totals: dict[str, int] = {}
    for item in ITEMS:
        dimension_totals[item.dimension] = (
            dimension_totals.get(item.dimension, 0) + scores[item.field]
        )
    total = sum(dimension_totals.values())
    # The stacking setting matters only when both adjustments apply: read it only then.
    both_adjustments = (
        not in_coma
        and has_dementia_or_psychiatric_diagnosis
        and care_risk_events_30_days >= CARE_RISK_EVENTS_FOR_ADJUSTMENT
    )
    outcome: LevelOutcome = compute_level(
        total=total,
        in_coma=in_coma,
        has_dementia_or_psychiatric_diagnosis=has_dementia_or_psychiatric_diagnosis,
        care_risk_events_30_days=care_risk_events_30_days,
        adjustments_stack=both_adjustments and _risk_adjustments_stack(elder, assessed_on),
    )
    level, reason = outcome.final_level, outcome.reason_text
    if final_level is not None and final_level != outcome.final_level:
        if not change_reason.strip():
            raise ValidationError({"change_reason": _("评估员调整能力等级时必须填写变更依据。")})
        level = AbilityLevel(final_level)
        reason = "；".join(filter(None, [reason, f"评估员调整：{change_reason.strip()}"]))
    elif change_reason.strip():
        reason = "；".join(filter(None, [reason, change_reason.strip()]))

    assessment = AbilityAssessment(
        elder=elder,
        standard=AssessmentStandard.GB_T_42195_2022,
        assessed_on=assessed_on,
        assessor=assessor,
        assessment_agency=assessment_agency,
        self_care_score=dimension_totals["self_care"],
        mobility_score=dimension_totals["mobility"],
        mental_state_score=dimension_totals["mental_state"],
        perception_social_score=dimension_totals["perception_social"],
        total_score=total,
        in_coma=in_coma,
        has_dementia_or_psychiatric_diagnosis=has_dementia_or_psychiatric_diagnosis,
        care_risk_events_30_days=care_risk_events_30_days,
        computed_level=outcome.computed_level,
        final_level=level,
        change_reason=reason[:500],
        created_by=by,
        **{item.field: scores[item.field] for item in ITEMS},
    )
    assessment.full_clean()
    _with_history_user(assessment, by).save()
    return assessment


@transaction.atomic
def record_legacy_assessment(
    *,
    elder: Elder,
    assessed_on: datetime.date,
    assessor: str,
    level: str,
    legacy_scores: dict | None = None,
    assessment_agency: str = "",
    by=None,
) -> AbilityAssessment:
    """Keep a record made under MZ/T 039-2013 with its own standard and four levels."""
    require_elder_in_scope(by, elder, field="elder")
    if level == AbilityLevel.TOTAL:
        raise ValidationError(
            {"final_level": _("MZ/T 039-2013 只有四个等级（能力完好、轻度、中度、重度失能）。")}
        )
    assessment = AbilityAssessment(
        elder=elder,
        standard=AssessmentStandard.MZ_T_039_2013,
        assessed_on=assessed_on,
        assessor=assessor,
        assessment_agency=assessment_agency,
        computed_level=level,
        final_level=level,
        legacy_scores=legacy_scores or {},
        created_by=by,
    )
    assessment.full_clean()
    _with_history_user(assessment, by).save()
    return assessment
