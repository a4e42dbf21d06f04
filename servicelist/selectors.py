"""Reads of the service list: a region's list on a day or over a period, inherited down the
tree (docs/policy.md §0)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from regions.models import Region
from regions.selectors import overlapping
from servicelist.models import ServiceItem


@dataclass(frozen=True)
class ListedItem:
    """An item as a region's list shows it: ``inherited`` when a list above names it;
    ``raises`` the item above that this one restates or raises, if any."""

    item: ServiceItem
    inherited: bool
    raises: ServiceItem | None


def region_list(region: Region, start: datetime.date, end: datetime.date | None = None):
    """The items in force in ``region`` on some day of [start, end] (end None: the day
    ``start``): its own list's items and every item of the lists above it that no nearer
    list restates or raises, nearest list first, then by number. Of several versions of one
    item in the period, the latest. Two queries whatever the list's length."""
    end = end or start
    codes = [c for c in region.path.split("/") if c]
    depth = {code: index for index, code in enumerate(codes)}
    rows = (
        ServiceItem.objects.select_related("region")
        .filter(region__code__in=codes)
        .filter(overlapping(start, end))
        .filter(effective_from__lte=end)
        .order_by("region__code", "number", "effective_from")
    )
    latest: dict[str, ServiceItem] = {}
    for row in rows:
        latest[row.code] = row  # ordered by start: the last one wins
    # The deepest list restating each item: an item is replaced only by a nearer list's.
    replaced_at: dict[str, int] = {}
    for item in latest.values():
        if item.corresponds_to:
            level = depth[item.region.code]
            replaced_at[item.corresponds_to] = max(level, replaced_at.get(item.corresponds_to, -1))
    listed = []
    for item in latest.values():
        if replaced_at.get(item.code, -1) > depth[item.region.code]:
            continue
        upper = latest.get(item.corresponds_to) if item.corresponds_to else None
        listed.append(
            ListedItem(item=item, inherited=item.region.code != region.code, raises=upper)
        )
    listed.sort(key=lambda li: (-depth[li.item.region.code], li.item.number))
    return listed


def items_in_force(region: Region, start: datetime.date, end: datetime.date | None = None):
    return [listed.item for listed in region_list(region, start, end)]


def lineages(items) -> dict[str, set[str]]:
    """For each of ``items``, the codes that stand for the same service: itself and the items
    above it that it restates, transitively (a delivery recorded against the province's item
    counts for a district's item that restates it). One query whatever the number of items:
    the catalogue's codes with the upper item each one's latest version restates."""
    restates: dict[str, str] = {}
    for code, upper in ServiceItem.objects.order_by("effective_from").values_list(
        "code", "corresponds_to"
    ):
        restates[code] = upper  # ordered by start: the latest version's wins
    found = {}
    for item in items:
        codes = {item.code}
        code = item.corresponds_to
        while code and code not in codes:
            codes.add(code)
            code = restates.get(code, "")
        found[item.code] = codes
    return found


def lineage(item: ServiceItem) -> set[str]:
    """``lineages`` of one item."""
    return lineages([item])[item.code]
