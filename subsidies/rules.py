"""Who is paid: the eligibility rules of the allowance schemes (docs/policy.md §1), as plain functions.

An elder is paid for month M by the rules in force on the 1st of M when, on that day, they are
alive, registered (户籍) in the run's region or below, and their age in completed years and their
categories meet the scheme's conditions. These functions see one elder's facts on that day and
one scheme's conditions; the run (subsidies/run/) feeds them set-based rows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

# The project's one age function (completed years, docs/policy.md §0), named here for the run.
from residents.ages import age_on as age_on
from residents.choices import PensionType
from subsidies.choices import Eligibility
from subsidies.periods import add_months as add_months
from subsidies.periods import first_of_month as first_of_month


def is_alive_on(death_date: datetime.date | None, on: datetime.date) -> bool:
    # Alive on the 1st means paid for that month, even when death comes later in the month.
    return death_date is None or death_date >= on


@dataclass(frozen=True)
class SchemeConditions:
    eligibility: str
    min_age: int | None = None
    max_age: int | None = None
    all_from_age: int | None = None
    categories: frozenset[str] = frozenset()
    ability_levels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ElderFacts:
    age: int
    categories: frozenset[str]
    pension_type: str
    ability_level: str | None = None


def in_age_band(age: int, low: int | None, high: int | None) -> bool:
    # docs/policy.md §0 — "80-89周岁" is 80 ≤ age ≤ 89; "100周岁及以上" has no upper end.
    return (low is None or age >= low) and (high is None or age <= high)


def holds_any(facts: ElderFacts, categories: frozenset[str]) -> bool:
    return bool(facts.categories & categories)


def is_eligible(conditions: SchemeConditions, facts: ElderFacts) -> bool:
    """Whether an elder with these facts on the 1st of the month qualifies for the scheme."""
    rule = conditions.eligibility
    in_band = in_age_band(facts.age, conditions.min_age, conditions.max_age)
    if rule == Eligibility.AGE_BAND:
        # docs/policy.md §1 — 000 §3, 001 §3, 002 §2, 003 §3: high-age bands by completed years;
        # 001 清单11: 70–79周岁 yearly e-allowance.
        return in_band
    if rule == Eligibility.AGE_AND_RESIDENT_PENSION:
        # docs/policy.md §1 — 001 西政办〔2023〕46号 §3: 享受城乡居民养老金待遇的年满80周岁老年人.
        return in_band and facts.pension_type == PensionType.RESIDENT
    if rule == Eligibility.CATEGORY:
        # docs/policy.md §1 — 001 清单23/29/32: 低保, 失独, 重点优抚对象/老劳模/困难老居(村)干部.
        return in_band and holds_any(facts, conditions.categories)
    if rule == Eligibility.AGE_AND_CATEGORY_OR_AGE:
        # docs/policy.md §1 — 001 清单12: 70周岁及以上的空巢、独居、孤寡老人和80周岁及以上的高龄老人.
        if conditions.all_from_age is not None and facts.age >= conditions.all_from_age:
            return True
        return in_band and holds_any(facts, conditions.categories)
    if rule == Eligibility.NURSING_TIER:
        # docs/policy.md §1 — 000 §12: 低保家庭失能老年人, by self-care ability (latest assessment).
        return (
            in_band
            and holds_any(facts, conditions.categories)
            and facts.ability_level in conditions.ability_levels
        )
    # Caregiver schemes are not paid to elders.
    return False


def rule_text(conditions: SchemeConditions) -> str:
    """A short statement of the conditions, kept in each line's inputs."""
    parts = []
    if conditions.min_age is not None or conditions.max_age is not None:
        low = conditions.min_age if conditions.min_age is not None else 0
        parts.append(
            f"{low} ≤ age ≤ {conditions.max_age}"
            if conditions.max_age is not None
            else f"age ≥ {low}"
        )
    if conditions.eligibility == Eligibility.AGE_AND_RESIDENT_PENSION:
        parts.append("pension_type = resident")
    if conditions.categories:
        parts.append("category in " + "/".join(sorted(conditions.categories)))
    if conditions.ability_levels:
        parts.append("ability level in " + "/".join(sorted(conditions.ability_levels)))
    text = " and ".join(parts)
    if conditions.all_from_age is not None:
        text = f"({text}) or age ≥ {conditions.all_from_age}"
    return text
