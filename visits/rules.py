"""Who must be visited: the visit lists are data (docs/policy.md §6).

Each jurisdiction's lists are EligibilityRule rows of subject ``visit_list``
(regions/data/eligibility.toml, the admin after the first load): who is on a list, as a
condition over the registry, and how often, as the rulebook key in the row's
``frequency_key``, resolved for the elder's residence region on the day. A region's lists are
inherited code by code from the levels above (regions.models.EligibilityRule). Nothing here
names a region, a date or a group of people; this module only says what the code needs to
read those rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from regions.choices import RuleSubject
from residents.choices import Category
from visits.choices import VisitGroup

SUBJECT = RuleSubject.VISIT_LIST
# The parameter of a visit list naming the rulebook key of its frequency.
FREQUENCY_PARAM = "frequency_key"
COVERAGE_TARGET_KEY = "visit_coverage_target"
HEALTH_CHECK_KEY = "health_check_frequency_special_difficulty"

_GROUP_ORDER = {group: index for index, group in enumerate(VisitGroup.values)}


def ordered_groups(groups: Iterable[str]) -> tuple[str, ...]:
    """Groups (why an elder is listed) in VisitGroup order; any other reason a list names
    (a category a bureau added) after them, alphabetically."""
    return tuple(sorted(set(groups), key=lambda g: (_GROUP_ORDER.get(g, len(_GROUP_ORDER)), g)))


def group_labels() -> dict[str, str]:
    """The label of every reason a list can give: a VisitGroup, or a category held."""
    labels = {value: str(label) for value, label in Category.choices}
    labels.update({value: str(label) for value, label in VisitGroup.choices})
    return labels
