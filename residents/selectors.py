"""Reads of the elder registry."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max, OuterRef, Q, QuerySet, Subquery

from regions.models import Region
from regions.selectors import resolve_policies, resolve_policies_for

# Ages are stated once, in residents.ages; these names stay importable from the selectors.
from residents.ages import add_years as add_years
from residents.ages import age_on as age_on
from residents.choices import AgeBand
from residents.models import AbilityAssessment, Elder, ElderCategory


def birth_date_range_for_age_band(band: str, on: datetime.date) -> Q:
    """A filter on ``birth_date`` for elders whose age on ``on`` is in the band."""
    low, _, high = band.rstrip("+").partition("-")
    condition = Q(birth_date__lte=add_years(on, -int(low)))
    if high:
        # Age ≤ high  ⇔  born after the day one turned high + 1.
        condition &= Q(birth_date__gt=add_years(on, -(int(high) + 1)))
    return condition


def age_band(birth_date: datetime.date, on: datetime.date) -> str | None:
    age = age_on(birth_date, on)
    for band in reversed(AgeBand.values):
        if age >= int(band.rstrip("+").partition("-")[0]):
            return band
    return None


def alive_on(on: datetime.date) -> Q:
    return Q(death_date__isnull=True) | Q(death_date__gte=on)


def elders_in_category(category: str, on: datetime.date) -> QuerySet[Elder]:
    held = ElderCategory.objects.filter(category=category, start_date__lte=on).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=on)
    )
    return Elder.objects.filter(pk__in=held.values("elder_id"))


def categories_on(elder_ids: Iterable[int], on: datetime.date) -> dict[int, set[str]]:
    """Categories held on a date, for many elders in one query."""
    result: dict[int, set[str]] = {}
    rows = (
        ElderCategory.objects.filter(elder_id__in=elder_ids, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .values_list("elder_id", "category")
    )
    for elder_id, category in rows:
        result.setdefault(elder_id, set()).add(category)
    return result


def latest_assessments(elder_ids, on_date: datetime.date) -> QuerySet[AbilityAssessment]:
    """Each elder's latest assessment on or before ``on_date`` (one SQL statement).

    ``elder_ids`` may be a list or a queryset of ids (then it stays a subquery).
    """
    latest_id = (
        AbilityAssessment.objects.filter(elder_id=OuterRef("elder_id"), assessed_on__lte=on_date)
        .order_by("-assessed_on", "-id")
        .values("id")[:1]
    )
    return AbilityAssessment.objects.filter(
        elder_id__in=elder_ids, assessed_on__lte=on_date, id=Subquery(latest_id)
    )


def latest_assessment_levels(elder_ids, on_date: datetime.date) -> dict[int, str]:
    """{elder_id: final level} of each elder's latest assessment on or before ``on_date``;
    elders never assessed by then are absent. One query."""
    return dict(latest_assessments(elder_ids, on_date).values_list("elder_id", "final_level"))


# --- free ability assessment (docs/policy.md §1: 80+ yearly, under 80 every two years) -----------

FREE_ASSESSMENT_KEYS = [
    "free_assessment_age_threshold",
    "free_assessment_interval_years_above",
    "free_assessment_interval_years_below",
]


@dataclass(frozen=True)
class FreeAssessmentRule:
    age_threshold: int
    interval_above: int
    interval_below: int


def free_assessment_rule(region: Region, on: datetime.date) -> FreeAssessmentRule:
    # docs/policy.md §1 — 浙政办发〔2022〕71号 §2 and every seed: 80周岁以上每年一次, 以下每两年一次.
    return _free_assessment_rule_from(resolve_policies(FREE_ASSESSMENT_KEYS, region, on))


def _free_assessment_rule_from(resolved) -> FreeAssessmentRule:
    values = {key: int(resolved[key].require()) for key in FREE_ASSESSMENT_KEYS}
    return FreeAssessmentRule(
        age_threshold=values["free_assessment_age_threshold"],
        interval_above=values["free_assessment_interval_years_above"],
        interval_below=values["free_assessment_interval_years_below"],
    )


def next_free_assessment_due(
    *,
    birth_date: datetime.date,
    last_assessed_on: datetime.date | None,
    rule: FreeAssessmentRule,
) -> datetime.date:
    """When the next free assessment falls due.

    Never assessed: due since the elder became an elder (60th birthday). Otherwise the longer
    interval applies below the threshold age and the shorter one from it; an elder who reaches
    the threshold in between is due on that birthday if the shorter interval has passed by then.
    """
    if last_assessed_on is None:
        return add_years(birth_date, 60)
    threshold_birthday = add_years(birth_date, rule.age_threshold)
    short = add_years(last_assessed_on, rule.interval_above)
    long = add_years(last_assessed_on, rule.interval_below)
    return min(long, max(short, threshold_birthday))


@dataclass(frozen=True)
class AssessmentDue:
    elder_id: int
    due_on: datetime.date
    last_assessed_on: datetime.date | None
    # The due date is a birthday (the 60th of one never assessed, or the threshold age's), which
    # gives the birth date, the digits a masked ID number hides: lists show no date for it.
    on_birthday: bool = False
    # Aged at or above the yearly-assessment threshold (80) on the day read: assessed first.
    high_age: bool = False

    def is_overdue(self, on: datetime.date) -> bool:
        return self.due_on < on

    @property
    def never_assessed(self) -> bool:
        return self.last_assessed_on is None

    @property
    def shown_due_on(self) -> datetime.date | None:
        return None if self.on_birthday else self.due_on


def free_assessments_due(
    on: datetime.date, elders: QuerySet[Elder] | None = None
) -> list[AssessmentDue]:
    """Living elders whose free assessment is due on or before ``on`` (due or overdue), most
    urgent first: those at or above the yearly-assessment age (80, docs/policy.md §1) before the
    others, and within each, those never assessed, then the most overdue. One query for the
    elders with their last assessment date, plus the rulebook lookups per household-registration
    region."""
    elders = (elders if elders is not None else Elder.objects.all()).filter(alive_on(on))
    rows = elders.annotate(
        last_assessed_on=Max("assessments__assessed_on", filter=Q(assessments__assessed_on__lte=on))
    ).values_list("id", "birth_date", "hukou_region_id", "last_assessed_on")
    rows = list(rows)
    regions = Region.objects.filter(pk__in={row[2] for row in rows})
    rules = {
        region_id: _free_assessment_rule_from(resolved)
        for region_id, resolved in resolve_policies_for(FREE_ASSESSMENT_KEYS, regions, on).items()
    }
    due: list[tuple[tuple, AssessmentDue]] = []
    for elder_id, birth_date, region_id, last in rows:
        if age_on(birth_date, on) < 60:
            continue
        rule = rules[region_id]
        due_on = next_free_assessment_due(birth_date=birth_date, last_assessed_on=last, rule=rule)
        if due_on > on:
            continue
        on_birthday = due_on in (
            add_years(birth_date, 60),
            add_years(birth_date, rule.age_threshold),
        )
        # The most overdue first, but never ordered by a birthday, which the order would give
        # away between the dates shown around it: those never assessed first, and one due on
        # the threshold birthday where the shorter interval after the last assessment ended.
        high_age = age_on(birth_date, on) >= rule.age_threshold
        if last is None:
            order = (not high_age, datetime.date.min, elder_id)
        elif on_birthday:
            order = (not high_age, add_years(last, rule.interval_above), elder_id)
        else:
            order = (not high_age, due_on, elder_id)
        item = AssessmentDue(
            elder_id=elder_id,
            due_on=due_on,
            last_assessed_on=last,
            on_birthday=on_birthday,
            high_age=high_age,
        )
        due.append((order, item))
    due.sort(key=lambda pair: pair[0])
    return [item for _order, item in due]
