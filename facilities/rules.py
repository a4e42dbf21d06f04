"""Policy rules of the facilities app: the staffing formula, and how the waiting-list
precedence and the staffing classes, which are data, are read.

Waiting-list precedence (docs/policy.md §5) and which assessment level counts in which staffing
class (docs/policy.md §3) are EligibilityRule rows (subjects ``waiting_list_precedence`` and
``care_class``, regions/data/eligibility.toml), inherited code by code down the tree: Anji's
幸福养 rule is Anji's row, and applies to Anji's institutions. No database access here;
selectors read the rows and call these."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from fractions import Fraction

from facilities.choices import CareClass
from regions.choices import RuleSubject
from regions.conditions import Facts, predicate
from residents.choices import AbilityLevel

PRECEDENCE_SUBJECT = RuleSubject.WAITING_LIST_PRECEDENCE
CARE_CLASS_SUBJECT = RuleSubject.CARE_CLASS

# --- staffing (docs/policy.md §3) -----------------------------------------------------------------


def care_class_by_level(rules, on: datetime.date) -> dict[str, str]:
    """{ability level: staffing class} under the ``care_class`` rules of a region on a day: the
    first class, in rank order, whose condition the level meets. A level no rule names is
    absent (its residents cannot be counted; the staffing check says so)."""
    mapping = {}
    for level in AbilityLevel.values:
        facts = Facts(on=on, birth_date=on, ability_level=level)
        for rule in rules:
            if predicate(rule.condition)(facts):
                mapping[level] = rule.code
                break
    return mapping


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


@dataclass(frozen=True)
class PrecedenceRule:
    """The rule that places an applicant: its rank (smaller first), name and source."""

    precedence: int
    code: str
    label: str
    citation: str

    @classmethod
    def of(cls, rule) -> PrecedenceRule:
        return cls(precedence=rule.rank, code=rule.code, label=rule.label, citation=rule.citation)


def unranked(rules: list[PrecedenceRule]) -> PrecedenceRule:
    """Where an applicant no rule places stands: after every rank (the shipped rules end with
    one for everybody, so this only shows when a bureau's rules leave people out)."""
    last = max((r.precedence for r in rules), default=0)
    return PrecedenceRule(precedence=last + 1, code="", label="未列入任何顺位", citation="")
