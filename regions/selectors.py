"""Reads of the administrative tree and the rulebook.

The one lookup every rule goes through: ``resolve_policy(key, region, on)`` — the value of K for
region R on date D is the value of the nearest region, from R upwards, that has a row for K in
force on D (docs/policy.md §0). No rate is hard-coded anywhere else.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet

from regions.catalog import PolicyKey, get_key
from regions.models import EligibilityRule, PolicyValue, Region


class PolicyValueNotSet(Exception):
    """A rule needs a value that the rulebook does not give (yet) for this region and date."""

    def __init__(self, *, key: str, region: Region, on: datetime.date, reason: str):
        self.key, self.region, self.on, self.reason = key, region, on, reason
        super().__init__(f"{key} for {region.code} on {on.isoformat()}: {reason}")


@dataclass(frozen=True)
class ResolvedPolicy:
    key: PolicyKey
    region: Region  # the region asked about
    on: datetime.date
    row: PolicyValue | None  # the row that answers, possibly from an ancestor

    @property
    def is_set(self) -> bool:
        return self.row is not None and self.row.is_set

    @property
    def value(self) -> Decimal | None:
        return self.row.value if self.row else None

    @property
    def frequency(self) -> str:
        return self.row.frequency if self.row else ""

    @property
    def source_region(self) -> Region | None:
        return self.row.region if self.row else None

    @property
    def citation(self) -> str:
        return self.row.citation if self.row else ""

    @property
    def not_set_reason(self) -> str:
        if self.row is None:
            return "no value in the rulebook for this region or any region above it"
        return f"not set at {self.row.region.name} ({self.row.citation}): the seed gives no amount"

    def require(self) -> Decimal | str:
        """The value (or frequency), or PolicyValueNotSet naming why there is none."""
        if not self.is_set:
            raise PolicyValueNotSet(
                key=self.key.key, region=self.region, on=self.on, reason=self.not_set_reason
            )
        return self.row.frequency or self.row.value


def in_force_on(on: datetime.date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def overlapping(start: datetime.date, end: datetime.date | None) -> Q:
    """Rows whose [effective_from, effective_to] period overlaps [start, end] (None = open)."""
    condition = Q(effective_to__isnull=True) | Q(effective_to__gte=start)
    if end is not None:
        condition &= Q(effective_from__lte=end)
    return condition


def nearest_in_force(
    rows: Mapping[tuple[str, str], Iterable[PolicyValue]], path: str, key: str, on: datetime.date
) -> PolicyValue | None:
    """The rulebook's one lookup rule (docs/policy.md §0): from the region on ``path``
    upwards, the first region with a row for ``key`` in force on ``on`` that sets a value. A
    "not set" row (the level names the item, no amount yet) never hides a value in force above
    it; it answers only when nothing above is set, so that the reason names the nearest missing
    setting. ``rows`` holds the candidate rows by (region code, key); every reader of the
    rulebook comes here."""
    not_set = None
    for code in reversed([c for c in path.split("/") if c]):
        for row in rows.get((code, key), ()):
            if row.effective_from <= on and (row.effective_to is None or on <= row.effective_to):
                if row.is_set:
                    return row
                not_set = not_set or row
    return not_set


def resolve_policies_for(
    keys: list[str], regions, on: datetime.date
) -> dict[int, dict[str, ResolvedPolicy]]:
    """Several keys for many regions on one date, in one query: {region.pk: {key: resolved}}.

    Set-based callers (a run or a due list over thousands of elders) resolve once per distinct
    region this way instead of once per region with its own queries.
    """
    catalog = {k: get_key(k) for k in keys}
    regions = list(regions)
    ancestor_codes = {c for r in regions for c in r.path.split("/") if c}
    rows: dict[tuple[str, str], list[PolicyValue]] = defaultdict(list)
    for row in (
        PolicyValue.objects.filter(key__in=keys, region__code__in=ancestor_codes)
        .filter(in_force_on(on))
        .select_related("region")
    ):
        rows[(row.region.code, row.key)].append(row)
    return {
        region.pk: {
            key: ResolvedPolicy(
                catalog[key], region, on, nearest_in_force(rows, region.path, key, on)
            )
            for key in keys
        }
        for region in regions
    }


class PolicyBook:
    """Rulebook rows for some keys over a period, resolved in memory by region path.

    Readers that walk many days (visit schedules, compliance) load it once; ``resolve``
    answers with the same rule as ``resolve_policy`` (``nearest_in_force``).
    """

    def __init__(self, keys: Iterable[str], start: datetime.date, end: datetime.date):
        self.keys = list(keys)
        self._rows: dict[tuple[str, str], list[PolicyValue]] = defaultdict(list)
        rows = (
            PolicyValue.objects.filter(key__in=self.keys)
            .filter(overlapping(start, end))
            .select_related("region")
        )
        for row in rows:
            self._rows[(row.region.code, row.key)].append(row)
        self._cache: dict[tuple[str, str, datetime.date], ResolvedPolicy] = {}
        self._changes: dict[str, frozenset[datetime.date]] = {}

    def values(self, key: str) -> set[Decimal]:
        """Every value ``key`` takes in some region over the period (unset rows left out)."""
        return {
            row.value
            for (_code, k), rows in self._rows.items()
            if k == key
            for row in rows
            if row.value is not None
        }

    def changes(self, path: str) -> frozenset[datetime.date]:
        """The days on which a row of the regions on ``path`` comes into force or lapses: the
        only days on which ``resolve`` can answer differently from the day before."""
        if path not in self._changes:
            days = set()
            for code in [c for c in path.split("/") if c]:
                for key in self.keys:
                    for row in self._rows.get((code, key), ()):
                        days.add(row.effective_from)
                        if row.effective_to is not None and row.effective_to < datetime.date.max:
                            days.add(row.effective_to + datetime.timedelta(days=1))
            self._changes[path] = frozenset(days)
        return self._changes[path]

    def resolve(self, key: str, region: Region, on: datetime.date) -> ResolvedPolicy:
        cache_key = (region.path, key, on)
        if cache_key not in self._cache:
            found = nearest_in_force(self._rows, region.path, key, on)
            self._cache[cache_key] = ResolvedPolicy(get_key(key), region, on, found)
        return self._cache[cache_key]


def resolve_policies(
    keys: list[str], region: Region, on: datetime.date
) -> dict[str, ResolvedPolicy]:
    """Several keys for one region and date: nearest region upwards with a row in force."""
    return resolve_policies_for(keys, [region], on)[region.pk]


def resolve_policy(key: str, region: Region, on: datetime.date) -> ResolvedPolicy:
    return resolve_policies([key], region, on)[key]


def policy_value(key: str, region: Region, on: datetime.date) -> Decimal | str:
    """Shorthand: the value in force, or PolicyValueNotSet."""
    return resolve_policy(key, region, on).require()


def policy_gaps() -> QuerySet[PolicyValue]:
    """Every rulebook row that is "not set" (the seed names the item but gives no amount)."""
    return (
        PolicyValue.objects.filter(value__isnull=True, frequency="")
        .select_related("region")
        .order_by("region__code", "key", "effective_from")
    )


def region_by_code(code: str) -> Region:
    return Region.objects.get(code=code)


# --- rules of "who it is for" (EligibilityRule) ---------------------------------------------


def _codes(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


class RuleBook:
    """The rules of one subject over [start, end], read in one query, resolved in memory for
    any region and day by the inheritance of EligibilityRule: per code, the nearest region
    upwards with a row of that code in force decides.

    ``within``: only the rules that can apply somewhere in these areas (set at or above one of
    them, or below one) are read.
    """

    def __init__(
        self,
        subject: str,
        start: datetime.date,
        end: datetime.date,
        *,
        within: list[Region] | None = None,
    ):
        self.subject, self.start, self.end = subject, start, end
        rows = (
            EligibilityRule.objects.filter(subject=subject)
            .filter(overlapping(start, end))
            .select_related("region")
            .order_by("effective_from", "pk")
        )
        if within is not None:
            rows = [
                r
                for r in rows
                if any(
                    a.path.startswith(r.region.path) or r.region.path.startswith(a.path)
                    for a in within
                )
            ]
        self.rows: list[EligibilityRule] = list(rows)
        self._by_region: dict[str, list[EligibilityRule]] = defaultdict(list)
        for row in self.rows:
            self._by_region[row.region.code].append(row)
        self._cache: dict[tuple[str, datetime.date], list[EligibilityRule]] = {}

    def in_force(self, path: str, on: datetime.date) -> list[EligibilityRule]:
        """The rules for the region with this path on ``on``, first by rank, then by code."""
        cached = self._cache.get((path, on))
        if cached is not None:
            return cached
        chosen: dict[str, EligibilityRule] = {}
        for code in reversed(_codes(path)):
            for row in self._by_region.get(code, ()):
                if row.code not in chosen and (
                    row.effective_from <= on
                    and (row.effective_to is None or on <= row.effective_to)
                ):
                    chosen[row.code] = row
        result = sorted(chosen.values(), key=lambda r: (r.rank is None, r.rank or 0, r.code))
        self._cache[(path, on)] = result
        return result

    def change_days(self, path: str) -> set[datetime.date]:
        """The days on which a rule of a region on ``path`` comes into force or lapses: the only
        days ``in_force`` can answer differently from the day before."""
        days = set()
        for code in _codes(path):
            for row in self._by_region.get(code, ()):
                days.add(row.effective_from)
                if row.effective_to is not None and row.effective_to < datetime.date.max:
                    days.add(row.effective_to + datetime.timedelta(days=1))
        return days


def rules_in_force(subject: str, region: Region, on: datetime.date) -> list[EligibilityRule]:
    """A region's rules of a subject on a day (one query), first by rank, then by code."""
    return RuleBook(subject, on, on, within=[region]).in_force(region.path, on)


def rules_in_force_for(
    subject: str, regions, on: datetime.date
) -> dict[int, list[EligibilityRule]]:
    """The same for many regions, in one query: {region.pk: rules}."""
    regions = list(regions)
    book = RuleBook(subject, on, on, within=regions)
    return {region.pk: book.in_force(region.path, on) for region in regions}
