"""Coverage of an area small enough to hold in memory (a street, most districts): what the
items' conditions read about its elders, and the records that reached them, read once for the
whole list in a few queries, and each item's condition evaluated in Python
(``regions.conditions.predicate``, which a property test holds equal to the SQL reading).

The SQL reading (servicelist.coverage) counts each item's entitled and reached elders with
queries of their own, and each of them reads the area's elders again: 74 queries for a
street's 37 items, each re-reading some 16,000 scattered rows at a million elders. Here the
area's elders are read once, whatever the length of the list; items with the same condition
are evaluated once, and items reached through the same records share one query.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL

from regions import conditions
from regions.models import Region
from residents.models import AbilityAssessment, Elder, ElderCategory
from servicelist.choices import ReachedThrough
from servicelist.item_selectors import DELIVERY_RECORDS
from servicelist.models import ServiceDelivery, ServiceItem
from servicelist.selectors import lineages


@dataclass(slots=True)
class AreaElder:
    """One elder of the area: what the conditions read, and what the named list shows."""

    id_number: str
    name: str
    birth_date: datetime.date
    death_date: datetime.date | None
    pension_type: str
    disability_category: str
    disability_grade: int | None
    hukou_path: str
    residence_path: str  # "" when no residence is recorded
    residence_code: str
    # (category, first day, last day or None) of the categories the conditions name.
    categories: list = field(default_factory=list)
    # (assessed on, final level), newest first (latest date, then latest entered).
    assessments: list = field(default_factory=list)
    # (first day, end day or None, placement approved on or None) of stays in institutions'
    # beds; None when no condition asks about stays (a condition that does then raises).
    stays: list | None = None

    def alive_on(self, day: datetime.date) -> bool:
        # As the SQL reading (coverage.alive_on): alive on the day they died.
        return self.death_date is None or self.death_date >= day

    def facts_on(self, day: datetime.date) -> conditions.Facts:
        return conditions.facts_on(
            day,
            birth_date=self.birth_date,
            categories=self.categories,
            assessments=self.assessments,
            stays=self.stays,
            pension_type=self.pension_type,
            disability_category=self.disability_category,
            disability_grade=self.disability_grade,
            hukou_path=self.hukou_path,
            residence_path=self.residence_path,
        )


class AreaReading:
    """The elders living in ``region`` (residence, else registration) and what ``items`` read
    of them in [start, end]. ``entitled``, ``reached`` and ``held`` answer per item with sets
    of elder ids, without a query per elder."""

    def __init__(
        self, region: Region, start: datetime.date, end: datetime.date, items: list[ServiceItem]
    ):
        from servicelist.coverage import lives_in

        self.region, self.start, self.end = region, start, end
        self.items = items
        population = Elder.objects.filter(lives_in(region))
        self.elders: dict[int, AreaElder] = {}
        for pk, *values in population.values_list(
            "pk",
            "id_number",
            "name",
            "birth_date",
            "death_date",
            "pension_type",
            "disability_category",
            "disability_grade",
            "hukou_region__path",
            "residence_region__path",
            "residence_region__code",
        ):
            *head, residence_path, residence_code = values
            self.elders[pk] = AreaElder(*head, residence_path or "", residence_code or "")
        # Each read below is narrowed to the area's elders. On PostgreSQL by their ids, read
        # above, as one array: another pass over the area's rows (scattered over the table)
        # costs each read some 50 ms at a million elders, a join with the ids a few.
        if connection.vendor == "postgresql":
            self.ids = RawSQL("SELECT unnest(%s::bigint[])", (list(self.elders),))
        else:
            # Elsewhere as a subquery, read again by each query: an elder who came to live in
            # the area meanwhile (outside PostgreSQL's transaction) is skipped below.
            self.ids = population.values("pk")
        read = [i.condition for i in items if i.condition is not None]
        operators = set().union(*(conditions.operators_of(c) for c in read))
        codes = sorted(set().union(*(conditions.codes_of(c, "category") for c in read)))
        if codes:
            for pk, category, first, last in (
                ElderCategory.objects.filter(elder_id__in=self.ids, category__in=codes)
                .filter(start_date__lte=end)
                .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
                .values_list("elder_id", "category", "start_date", "end_date")
            ):
                if pk in self.elders:
                    self.elders[pk].categories.append((category, first, last))
        if "ability_level" in operators:
            for pk, assessed_on, level in (
                AbilityAssessment.objects.filter(elder_id__in=self.ids, assessed_on__lte=end)
                .order_by("elder_id", "-assessed_on", "-id")
                .values_list("elder_id", "assessed_on", "final_level")
            ):
                if pk in self.elders:
                    self.elders[pk].assessments.append((assessed_on, level))
        if operators & set(conditions.STAY_LEAVES):
            for elder in self.elders.values():
                elder.stays = []
            for pk, first, ended, approved in (
                conditions.institution_stays()
                .filter(elder_id__in=self.ids, start_date__lte=end)
                .filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
                .values_list("elder_id", "start_date", "end_date", "placement_approved_on")
            ):
                if pk in self.elders:
                    self.elders[pk].stays.append((first, ended, approved))
        self._lineages = lineages(
            [i for i in items if i.reached_through == ReachedThrough.DELIVERY]
        )
        self._facts: dict[datetime.date, list[tuple[int, conditions.Facts]]] = {}
        self._leaves: dict[tuple, set[int]] = {}
        self._reached: dict[tuple, set[int]] = {}
        self._cash: dict[str, dict[str, set[int]]] = {}
        self._delivered: dict[str, dict[str, set[int]]] | None = None

    def figures(self, item: ServiceItem, *, named: bool):
        """The item's figures (servicelist.coverage.Figures), as the SQL reading gives them."""
        from servicelist.coverage import Figures

        entitled = self.entitled(item)
        reached = self.reached(item)
        if reached is None:
            return Figures(len(entitled), None)
        figures = Figures(len(entitled), len(entitled & reached))
        if named and figures.reached < figures.entitled:
            held = self.held(item)
            for pk in sorted(entitled - reached):
                elder = self.elders[pk]
                figures.missed.append(
                    (
                        elder.id_number,
                        elder.name,
                        elder.residence_code,
                        elder.residence_path,
                        elder.hukou_path,
                        pk in held,
                    )
                )
        return figures

    def _facts_on(self, day: datetime.date) -> list[tuple[int, conditions.Facts]]:
        found = self._facts.get(day)
        if found is None:
            found = self._facts[day] = [
                (pk, elder.facts_on(day))
                for pk, elder in self.elders.items()
                if elder.alive_on(day)
            ]
        return found

    def entitled(self, item: ServiceItem) -> set[int]:
        """The ids of the area's elders the item is for on its evaluation day (alive then);
        PolicyValueNotSet when its condition reads a rulebook value that is not set."""
        from servicelist.coverage import evaluation_day

        day = evaluation_day(item, self.start)
        values = conditions.resolve_values(item.condition, self.region, day)
        return self._holding(item.condition, day, values)

    def _holding(self, node, day: datetime.date, values) -> set[int]:
        """The ids of the area's elders alive on ``day`` for whom ``node`` holds: ``all``,
        ``any`` and ``not`` as set algebra, each leaf read by the Python reading of the
        conditions over every elder once (and kept: the items of a list share most of their
        leaves: an age, a category)."""
        operator = next(k for k in node if k != conditions.ANNOTATION)
        value = node[operator]
        if operator == "all":
            if not value:
                return set(self._alive(day))
            return set.intersection(*(self._holding(c, day, values) for c in value))
        if operator == "any":
            return set().union(*(self._holding(c, day, values) for c in value))
        if operator == "not":
            return set(self._alive(day)) - self._holding(value, day, values)
        leaf = {operator: value}
        key = (json.dumps(leaf, sort_keys=True), day, tuple(sorted(values.items())))
        found = self._leaves.get(key)
        if found is None:
            holds = conditions.predicate(leaf, values=values)
            found = self._leaves[key] = {pk for pk, facts in self._facts_on(day) if holds(facts)}
        return found

    def _alive(self, day: datetime.date):
        return (pk for pk, _facts in self._facts_on(day))

    def reached(self, item: ServiceItem) -> set[int] | None:
        """The ids of the area's elders the item reached in the period; None when no system
        of ours records it (the same records as coverage.reached_elders)."""
        from servicelist.coverage import reached_elders

        how = item.reached_through
        if how == ReachedThrough.PAYMENT_LINE:
            by_scheme = self._cash_by_scheme("paid")
            return set().union(*(by_scheme.get(code, ()) for code in item.schemes))
        codes = self._lineages.get(item.code, set())
        if how == ReachedThrough.DELIVERY and (
            not item.record_kind or item.record_kind in DELIVERY_RECORDS
        ):
            by_code = self._deliveries().get(item.record_kind, {})
            return set().union(*(by_code.get(code, ()) for code in codes))
        key = (how, item.record_kind, tuple(sorted(codes)))
        found = self._reached.get(key)
        if found is None:
            rows = reached_elders(item, self.start, self.end, codes=codes)
            if rows is None:
                return None
            found = self._reached[key] = set(
                rows.filter(elder_id__in=self.ids).order_by().values_list("elder_id", flat=True)
            )
        return found

    def _deliveries(self) -> dict[str, dict[str, set[int]]]:
        """The area's elders with a delivery in the period, per item code: under "" every
        delivery, under a record kind (DELIVERY_RECORDS) those carrying its record. One query
        for every item delivered in kind."""
        if self._delivered is None:
            codes = set().union(*self._lineages.values())
            flags = {
                f"carries_{kind}": ExpressionWrapper(has, output_field=BooleanField())
                for kind, has in DELIVERY_RECORDS.items()
            }
            rows = (
                ServiceDelivery.objects.filter(
                    item__code__in=sorted(codes),
                    delivered_on__gte=self.start,
                    delivered_on__lte=self.end,
                    elder_id__in=self.ids,
                )
                .order_by()
                .annotate(**flags)
                .values_list("elder_id", "item__code", *flags)
                .distinct()
            )
            self._delivered = {"": {}, **{kind: {} for kind in DELIVERY_RECORDS}}
            for pk, code, *carried in rows:
                self._delivered[""].setdefault(code, set()).add(pk)
                for kind, has in zip(DELIVERY_RECORDS, carried, strict=True):
                    if has:
                        self._delivered[kind].setdefault(code, set()).add(pk)
        return self._delivered

    def held(self, item: ServiceItem) -> set[int]:
        """The ids of the area's elders whose line for a cash item is held for want of an
        account (coverage.held_for_want_of_account); empty for other items."""
        if item.reached_through != ReachedThrough.PAYMENT_LINE:
            return set()
        by_scheme = self._cash_by_scheme("held")
        return set().union(*(by_scheme.get(code, ()) for code in item.schemes))

    def _cash_by_scheme(self, which: str) -> dict[str, set[int]]:
        """The area's elders with a paid (or a held) line, per scheme, for every cash item
        of the list at once."""
        found = self._cash.get(which)
        if found is None:
            from servicelist.coverage import cash_lines
            from subsidies.selectors import held_q, unpaid_q

            schemes = {
                code
                for item in self.items
                if item.reached_through == ReachedThrough.PAYMENT_LINE
                for code in item.schemes
            }
            lines: QuerySet = cash_lines(schemes, self.start, self.end).filter(
                elder_id__in=self.ids
            )
            lines = lines.exclude(unpaid_q()) if which == "paid" else lines.filter(held_q())
            found = self._cash[which] = {}
            for pk, scheme in lines.order_by().values_list("elder_id", "scheme__code").distinct():
                found.setdefault(scheme, set()).add(pk)
        return found
