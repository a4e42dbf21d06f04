"""Reads of the items' own records (servicelist.item_services): who an item reached through
its record in a period (for coverage), the meal points open in an area and how far they cover
its villages and communities against the target the rulebook sets, and the respite days an
elder has used in a year. Set-based: a few queries per item and area, none per elder."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from regions.choices import RegionLevel
from regions.models import Region
from regions.selectors import resolve_policy
from servicelist.choices import RecordKind
from servicelist.models import HomeAdaptation, MealPoint, RespiteStay, ServiceDelivery, ServiceItem

MEAL_POINT_TARGET = "meal_point_community_coverage_target"
SHARE_PLACES = Decimal("0.0001")


# The items whose own record hangs on a delivery: the delivery reaches the elder only when it
# carries that record (a meal served at a meal point; a service visit to a home-care bed).
DELIVERY_RECORDS = {
    RecordKind.MEAL: Q(meal__isnull=False),
    RecordKind.HOME_CARE_BED: Q(home_care_bed_visit__isnull=False),
}


def reached_by_record(
    item: ServiceItem, codes: set[str], start: datetime.date, end: datetime.date
) -> QuerySet | None:
    """The elders ``item`` (and the items above it it restates: ``codes``) reached in
    [start, end] through its own record, as ``elder_id`` rows; None for an item recorded by
    its deliveries alone. Meals: a meal at a meal point in the period; a home-care bed: a
    visit to the bed in the period (so a bed set up and visited); a respite stay: one that
    overlaps the period; an adaptation, given once: one finished by the period's end."""
    kind = item.record_kind
    codes = sorted(codes)
    in_period = {"item__code__in": codes, "delivered_on__gte": start, "delivered_on__lte": end}
    if kind in DELIVERY_RECORDS:
        return ServiceDelivery.objects.filter(DELIVERY_RECORDS[kind], **in_period).values(
            "elder_id"
        )
    if kind == RecordKind.RESPITE:
        return RespiteStay.objects.filter(
            item__code__in=codes, start_on__lte=end, end_on__gte=start
        ).values("elder_id")
    if kind == RecordKind.ADAPTATION:
        return HomeAdaptation.objects.filter(
            item__code__in=codes, completed_on__isnull=False, completed_on__lte=end
        ).values("elder_id")
    return None


def not_reached_reason(item: ServiceItem) -> str | None:
    """Why an entitled elder was not reached by an item with its own record; None otherwise."""
    return {
        RecordKind.MEAL: _("本期无助餐记录"),
        RecordKind.HOME_CARE_BED: _("无家庭养老床位或本期无上门服务"),
        RecordKind.RESPITE: _("本期无喘息服务"),
        RecordKind.ADAPTATION: _("尚未完成适老化改造"),
    }.get(item.record_kind)


def open_meal_points(region: Region, on: datetime.date) -> QuerySet:
    """The meal points in ``region`` (or below it) open on ``on``."""
    return MealPoint.objects.filter(region__path__startswith=region.path, opened_on__lte=on).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=on)
    )


@dataclass(frozen=True)
class MealPointCoverage:
    """How many villages and communities of an area have a meal point open on a day, and the
    target the rulebook sets for the share (docs/policy.md §10 — 002 §7: 80% in Jinhua by
    2025); ``target`` None: not set, with ``target_note`` saying so."""

    region: Region
    on: datetime.date
    communities: int
    covered: int
    target: Decimal | None
    target_note: str

    @property
    def share(self) -> Decimal | None:
        if not self.communities:
            return None
        return (Decimal(self.covered) / Decimal(self.communities)).quantize(
            SHARE_PLACES, rounding=ROUND_HALF_UP
        )

    @property
    def meets_target(self) -> bool | None:
        if self.target is None or self.share is None:
            return None
        return self.share >= self.target


def meal_point_coverage(region: Region, on: datetime.date) -> MealPointCoverage:
    """Two queries: the area's villages and communities, and those with a meal point open on
    ``on`` in them."""
    communities = Region.objects.filter(
        path__startswith=region.path, level=RegionLevel.COMMUNITY, is_active=True
    )
    has_point = Exists(
        open_meal_points(region, on).filter(region__path__startswith=OuterRef("path"))
    )
    counts = communities.aggregate(total=Count("pk"), covered=Count("pk", filter=Q(has_point)))
    resolved = resolve_policy(MEAL_POINT_TARGET, region, on)
    note = "" if resolved.is_set else _("未设定（%(key)s）") % {"key": resolved.key.label}
    return MealPointCoverage(
        region=region,
        on=on,
        communities=counts["total"],
        covered=counts["covered"],
        target=resolved.value if resolved.is_set else None,
        target_note=note,
    )


def respite_days_by_year(elder, years: list[int], *, exclude: int | None = None) -> dict[int, int]:
    """The respite days of ``elder`` in each of ``years`` (a stay across New Year counts in
    both), leaving out the stay ``exclude``: one query."""
    if not years:
        return {}
    first, last = datetime.date(min(years), 1, 1), datetime.date(max(years), 12, 31)
    stays = RespiteStay.objects.filter(elder=elder, start_on__lte=last, end_on__gte=first)
    if exclude is not None:
        stays = stays.exclude(pk=exclude)
    used = dict.fromkeys(years, 0)
    for start, end in stays.values_list("start_on", "end_on"):
        for year, days in days_in_years(start, end).items():
            if year in used:
                used[year] += days
    return used


def days_in_years(start: datetime.date, end: datetime.date) -> dict[int, int]:
    """The days of [start, end] (both counted) in each calendar year it touches."""
    days = {}
    for year in range(start.year, end.year + 1):
        first = max(start, datetime.date(year, 1, 1))
        last = min(end, datetime.date(year, 12, 31))
        days[year] = (last - first).days + 1
    return days
