"""Who must be visited: the groups each jurisdiction names, as a cited table (docs/policy.md §6).

How *often* is not here: each group points at a rulebook key (``visit_frequency_*``) that
``regions.selectors`` resolves for the elder's residence region on the date. This table only
says which groups a document names and from when; the nearest jurisdiction, from the elder's
residence upwards, with a row in force on the date decides (the same inheritance as the
rulebook, docs/policy.md §0). A jurisdiction that lists groups lists all of them: a lower level
repeats its parent's groups rather than adding to them implicitly, so each row reads as its
document does.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from regions.models import Region
from residents.choices import AbilityLevel, Category
from visits.choices import VisitGroup

# Rulebook keys that give the frequency of each kind of group.
DAILY_KEY = "visit_frequency_childless_alone"
MONTHLY_KEY = "visit_frequency_special_difficulty"
HIGH_AGE_KEY = "visit_high_age_threshold"
COVERAGE_TARGET_KEY = "visit_coverage_target"
HEALTH_CHECK_KEY = "health_check_frequency_special_difficulty"

# "失能" in the visit lists: moderate or worse by the latest ability assessment
# (GB/T 42195-2022 §5.3; mild disability is not named by any seed as needing visits).
DISABLED_LEVELS = frozenset({AbilityLevel.MODERATE, AbilityLevel.SEVERE, AbilityLevel.TOTAL})

# Groups that are simply a category of the registry, by the category code.
CATEGORY_GROUPS = {
    VisitGroup.CHILDLESS_ALONE: Category.CHILDLESS_ALONE,
    VisitGroup.LIVING_ALONE: Category.LIVING_ALONE,
    VisitGroup.EMPTY_NEST: Category.EMPTY_NEST,
    VisitGroup.LEFT_BEHIND: Category.LEFT_BEHIND,
    VisitGroup.SEVERELY_DISABLED: Category.SEVERELY_DISABLED,
    VisitGroup.COGNITIVE_IMPAIRMENT: Category.COGNITIVE_IMPAIRMENT,
    VisitGroup.FAMILY_PLANNING_SPECIAL: Category.FAMILY_PLANNING_SPECIAL,
    VisitGroup.LOST_ONLY_CHILD: Category.LOST_ONLY_CHILD,
    VisitGroup.DESTITUTE: Category.DESTITUTE,
    VisitGroup.MINIMUM_LIVING: Category.MINIMUM_LIVING,
    VisitGroup.NEAR_MINIMUM_LIVING: Category.NEAR_MINIMUM_LIVING,
}

# Every seed's service list: 面向常住的独居、空巢、留守、失能、重残、计划生育特殊困难老年人.
# 失独 (lost only child) is a kind of 计划生育特殊家庭, so it is named with it.
_SEED_LIST_GROUPS = frozenset(
    {
        VisitGroup.LIVING_ALONE,
        VisitGroup.EMPTY_NEST,
        VisitGroup.LEFT_BEHIND,
        VisitGroup.DISABLED,
        VisitGroup.SEVERELY_DISABLED,
        VisitGroup.FAMILY_PLANNING_SPECIAL,
        VisitGroup.LOST_ONLY_CHILD,
    }
)


@dataclass(frozen=True)
class VisitGroupRule:
    """The groups one jurisdiction's document names, with the rulebook key of each frequency."""

    region_code: str
    effective_from: datetime.date
    groups_by_frequency_key: dict[str, frozenset[str]]
    citation: str
    effective_to: datetime.date | None = None

    @property
    def groups(self) -> frozenset[str]:
        return frozenset().union(*self.groups_by_frequency_key.values())

    def in_force_on(self, on: datetime.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


RULES: list[VisitGroupRule] = [
    # docs/policy.md §6 — 浙政办发〔2022〕71号 清单14 (探访服务). No frequency: monthly is the setting.
    VisitGroupRule(
        "330000",
        datetime.date(2022, 12, 6),
        {MONTHLY_KEY: _SEED_LIST_GROUPS},
        "浙政办发〔2022〕71号 清单14",
    ),
    # docs/policy.md §6 — 西政办〔2023〕46号 §12: 孤寡老人日访率达到100%，独居、空巢、失能、失智等
    # 特殊困难老年人月访率达到100%; 清单26 names the province's groups too.
    VisitGroupRule(
        "330106",
        datetime.date(2024, 1, 30),
        {
            DAILY_KEY: frozenset({VisitGroup.CHILDLESS_ALONE}),
            MONTHLY_KEY: _SEED_LIST_GROUPS | {VisitGroup.COGNITIVE_IMPAIRMENT},
        },
        "西政办〔2023〕46号 §12、清单26",
    ),
    # docs/policy.md §6 — 金政办发〔2023〕18号 §3、清单16: …计划生育特殊家庭、经济困难等老年人.
    # 经济困难 = 特困、低保、低保边缘 (the registry's economic categories).
    VisitGroupRule(
        "330700",
        datetime.date(2023, 5, 1),
        {
            MONTHLY_KEY: _SEED_LIST_GROUPS
            | {VisitGroup.DESTITUTE, VisitGroup.MINIMUM_LIVING, VisitGroup.NEAR_MINIMUM_LIVING}
        },
        "金政办发〔2023〕18号 §3、清单16",
    ),
    # docs/policy.md §6 — 安吉县实施意见 §12: 空巢、独居、失能、重残、高龄、计划生育特殊家庭;
    # its list item 19 (探访服务) adds 留守. The high-age threshold is the rulebook's.
    VisitGroupRule(
        "330523",
        datetime.date(2023, 8, 24),
        {MONTHLY_KEY: _SEED_LIST_GROUPS | {VisitGroup.HIGH_AGE}},
        "安吉县实施意见 §12、清单19",
    ),
    # docs/policy.md §6 — 甬政办发〔2023〕60号 清单18: the province's groups.
    VisitGroupRule(
        "330200",
        datetime.date(2023, 12, 31),
        {MONTHLY_KEY: _SEED_LIST_GROUPS},
        "甬政办发〔2023〕60号 清单18",
    ),
]

ALL_FREQUENCY_KEYS = sorted({key for rule in RULES for key in rule.groups_by_frequency_key})


def rule_for_path(path: str, on: datetime.date) -> VisitGroupRule | None:
    """The nearest jurisdiction's rule in force on ``on`` for a region path ("330000/…/")."""
    codes = [c for c in path.split("/") if c]
    in_force = {r.region_code: r for r in RULES if r.in_force_on(on)}
    for code in reversed(codes):
        if code in in_force:
            return in_force[code]
    return None


def rule_for(region: Region, on: datetime.date) -> VisitGroupRule | None:
    return rule_for_path(region.path, on)
