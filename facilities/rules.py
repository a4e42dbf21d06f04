"""Pure policy rules of the facilities app: waiting-list precedence and the staffing formula.
No database access here; selectors gather the facts and call these."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings

from facilities.choices import CareClass, Precedence
from residents.choices import AbilityLevel, Category

# --- staffing (docs/policy.md §3) -----------------------------------------------------------------

# Which ability level counts as which staffing class. A setting (FACILITIES_CARE_CLASS_BY_LEVEL
# in the Django settings overrides it); the default follows the issue: 完全失能 and 重度失能 →
# fully disabled, 中度 and 轻度 → partly disabled, 能力完好 → self-caring.
DEFAULT_CARE_CLASS_BY_LEVEL: dict[str, str] = {
    AbilityLevel.TOTAL: CareClass.FULLY_DISABLED,
    AbilityLevel.SEVERE: CareClass.FULLY_DISABLED,
    AbilityLevel.MODERATE: CareClass.PARTLY_DISABLED,
    AbilityLevel.MILD: CareClass.PARTLY_DISABLED,
    AbilityLevel.INTACT: CareClass.SELF_CARING,
}


def care_class_by_level() -> dict[str, str]:
    return getattr(settings, "FACILITIES_CARE_CLASS_BY_LEVEL", DEFAULT_CARE_CLASS_BY_LEVEL)


# The rulebook key holding "residents per caregiver" for each class.
RATIO_KEYS: dict[str, str] = {
    CareClass.FULLY_DISABLED: "staffing_ratio_fully_disabled",
    CareClass.PARTLY_DISABLED: "staffing_ratio_partly_disabled",
    CareClass.SELF_CARING: "staffing_ratio_self_caring",
}


def required_caregivers(counts: dict[str, int], ratios: dict[str, Fraction]) -> int:
    """ceil(full/r_full + partial/r_partial + self/r_self), exactly (docs/policy.md §3).

    Fractions, never floats: 3/3 + 0 + 0 is exactly 1, not 1.0000000000000002 rounded up to 2.
    """
    total = sum((Fraction(counts.get(c, 0)) / ratios[c] for c in RATIO_KEYS), Fraction(0))
    return math.ceil(total)


# --- waiting-list precedence (docs/policy.md §5) --------------------------------------------------

ECONOMICALLY_DIFFICULT = {Category.MINIMUM_LIVING, Category.NEAR_MINIMUM_LIVING}
FAMILY_PLANNING_SPECIAL = {Category.FAMILY_PLANNING_SPECIAL, Category.LOST_ONLY_CHILD}
VETERANS = {Category.VETERAN, Category.MARTYR_FAMILY, Category.KEY_ENTITLED}
DISABLED_LEVELS = {
    AbilityLevel.MILD,
    AbilityLevel.MODERATE,
    AbilityLevel.SEVERE,
    AbilityLevel.TOTAL,
}
MODERATE_OR_WORSE = {AbilityLevel.MODERATE, AbilityLevel.SEVERE, AbilityLevel.TOTAL}
ANJI = "330523"
# 003 安吉县实施意见 清单12 “幸福养”: 低保、低边等困难家庭中中度及以上失能和80岁以上高龄老年人.
HAPPY_CARE_MIN_AGE = 80


@dataclass(frozen=True)
class ApplicantFacts:
    categories: frozenset[str]
    level: str | None  # latest assessment's level, None if never assessed
    age: int
    facility_region_path: str


@dataclass(frozen=True)
class PrecedenceRule:
    precedence: Precedence
    citation: str
    applies: Callable[[ApplicantFacts], bool]

    @property
    def label(self) -> str:
        return str(self.precedence.label)


PRECEDENCE_RULES: list[PrecedenceRule] = [
    PrecedenceRule(
        Precedence.DESTITUTE,
        "浙政办发〔2022〕71号 §13：有集中供养意愿的特困老年人全部实行集中供养",
        lambda f: Category.DESTITUTE in f.categories,
    ),
    PrecedenceRule(
        Precedence.FAMILY_PLANNING_SPECIAL,
        "浙政办发〔2022〕71号 清单15；甬政办发〔2023〕60号 清单19：计划生育特殊家庭"
        "老年人同等条件下优先入住政府投资兴办的养老机构",
        lambda f: bool(f.categories & FAMILY_PLANNING_SPECIAL),
    ),
    PrecedenceRule(
        Precedence.ECONOMICALLY_DIFFICULT_DISABLED,
        "浙政办发〔2022〕71号 §8：重点为经济困难失能老年人提供无偿或低偿托养",
        lambda f: bool(f.categories & ECONOMICALLY_DIFFICULT) and f.level in DISABLED_LEVELS,
    ),
    PrecedenceRule(
        Precedence.VETERANS,
        "浙政办发〔2022〕71号 清单：老年残疾军人、退役军人、“三属”优先",
        lambda f: bool(f.categories & VETERANS),
    ),
    PrecedenceRule(
        Precedence.BRAVERY_DISABLED,
        "西政办〔2023〕46号 清单35：见义勇为致残人员优先安排入住公办机构",
        lambda f: Category.BRAVERY_DISABLED in f.categories,
    ),
    PrecedenceRule(
        Precedence.ANJI_HAPPY_CARE,
        "安吉县实施意见 清单12 “幸福养”工程",
        lambda f: (
            f"{ANJI}/" in f.facility_region_path
            and bool(f.categories & ECONOMICALLY_DIFFICULT)
            and (f.level in MODERATE_OR_WORSE or f.age >= HAPPY_CARE_MIN_AGE)
        ),
    ),
]

GENERAL_RULE = PrecedenceRule(
    Precedence.GENERAL,
    "浙政办发〔2022〕71号 §8（入住轮候管理制度）：同一顺位按申请先后",
    lambda f: True,
)


def precedence_of(facts: ApplicantFacts) -> PrecedenceRule:
    """The first rule, in docs/policy.md §5 order, that the applicant meets."""
    for rule in PRECEDENCE_RULES:
        if rule.applies(facts):
            return rule
    return GENERAL_RULE
