"""The lines a set of elders gets for a month's plan, decided in Python over their rows.

Used for arrears, and for the month itself where the chunk is not written by one statement
(subsidies.setbased). The chunk's elders are read with one ``values_list`` query (plus one for
their categories, one for assessments when a scheme needs them); no ORM call per elder.
"""

from __future__ import annotations

import datetime

from django.db.models import Q

from regions.models import Region
from residents.models import ElderCategory
from subsidies import rules
from subsidies.choices import LineKind
from subsidies.models import AllowanceRunChunk, PaymentLine
from subsidies.run.plan import PeriodPlan, RateNode

ELDER_FIELDS = ("id", "birth_date", "hukou_region_id", "pension_type", "death_date")


def alive_on_q(on: datetime.date) -> Q:
    # Alive on the 1st means paid for that month, even when death comes later in the month.
    return Q(death_date__isnull=True) | Q(death_date__gte=on)


def categories_held_on(elders, on: datetime.date) -> dict[int, frozenset[str]]:
    """{elder id: the categories held on ``on``} for ``elders`` (ids or a queryset), one
    query; elders holding none are absent."""
    held: dict[int, set[str]] = {}
    for elder_id, category in (
        ElderCategory.objects.filter(elder__in=elders, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .values_list("elder_id", "category")
    ):
        held.setdefault(elder_id, set()).add(category)
    return {k: frozenset(v) for k, v in held.items()}


class RateMatcher:
    """Region of registration → its code and, per plan, the nearest rate region (by path
    prefix); the regions are read once."""

    def __init__(self, region_ids: set[int]):
        self.regions = {
            region_id: (path, code)
            for region_id, path, code in Region.objects.filter(pk__in=region_ids).values_list(
                "id", "path", "code"
            )
        }
        self.nodes: dict[tuple[datetime.date, int], RateNode | None] = {}

    def code(self, region_id: int) -> str:
        return self.regions.get(region_id, ("", ""))[1]

    def node(self, plan: PeriodPlan, region_id: int) -> RateNode | None:
        key = (plan.period, region_id)
        if key not in self.nodes:
            path = self.regions.get(region_id, (None, ""))[0]
            self.nodes[key] = None if path is None else plan.node_for(path)
        return self.nodes[key]


def eligible_lines(
    *,
    plan: PeriodPlan,
    rows,
    categories: dict[int, frozenset[str]],
    levels: dict[int, str],
    matcher: RateMatcher,
    batch_id: int | None,
    kind: str,
) -> list[PaymentLine]:
    """A line per elder row (ELDER_FIELDS) and scheme of their rate region they qualify for
    on the 1st of the plan's month, with the inputs that say why."""
    lines = []
    period = plan.period
    on = period.isoformat()
    for elder_id, birth_date, region_id, pension_type, death_date in rows:
        if not rules.is_alive_on(death_date, period):
            continue
        node = matcher.node(plan, region_id)
        if node is None or not node.schemes:
            continue
        facts = rules.ElderFacts(
            age=rules.age_on(birth_date, period),
            categories=categories.get(elder_id, frozenset()),
            pension_type=pension_type,
            ability_level=levels.get(elder_id),
        )
        for planned in node.schemes:
            if not rules.is_eligible(planned.conditions, facts):
                continue
            lines.append(
                PaymentLine(
                    batch_id=batch_id,
                    scheme_id=planned.scheme_id,
                    period=period,
                    elder_id=elder_id,
                    amount=planned.amount,
                    kind=kind,
                    policy_value_id=planned.policy_value_id,
                    inputs={
                        **planned.line_inputs(node.region),
                        "on": on,
                        "age": facts.age,
                        "birth_date": birth_date.isoformat(),
                        "categories": sorted(facts.categories),
                        "pension_type": pension_type,
                        "ability_level": facts.ability_level,
                        "hukou_region": matcher.code(region_id),
                    },
                )
            )
    return lines


def missing(lines: list[PaymentLine], chunk: AllowanceRunChunk) -> list[PaymentLine]:
    """The lines whose (scheme, period, elder) has no payment yet (one query per chunk)."""
    if not lines:
        return lines
    paid = set(
        PaymentLine.objects.filter(
            elder_id__gte=chunk.id_from,
            elder_id__lte=chunk.id_to,
            period__in={line.period for line in lines},
            kind__in=[LineKind.NORMAL, LineKind.ARREARS],
        ).values_list("scheme_id", "period", "elder_id")
    )
    return [line for line in lines if (line.scheme_id, line.period, line.elder_id) not in paid]
