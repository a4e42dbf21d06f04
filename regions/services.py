"""Writes to the rulebook. Every change goes through ``set_policy_value``, which refuses a value
that would break the floor rule of POLICY.md §0 in either direction (a child below its parent, or
a parent raised above an existing child) for an overlapping period."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from regions.catalog import get_key
from regions.choices import FREQUENCY_ORDER, FloorDirection
from regions.models import PolicyValue, Region
from regions.selectors import overlapping


def _stricter_or_equal(direction: str, child: PolicyValue, parent: PolicyValue) -> bool:
    """Whether the child's value respects the parent's as a floor."""
    if child.frequency or parent.frequency:
        # More frequent is stricter: "daily" satisfies a "monthly" floor, not the reverse.
        return FREQUENCY_ORDER.index(child.frequency) <= FREQUENCY_ORDER.index(parent.frequency)
    if direction == FloorDirection.MINIMUM:
        return child.value >= parent.value
    return child.value <= parent.value


def _describe(row: PolicyValue) -> str:
    period = f"{row.effective_from}–{row.effective_to or '…'}"
    return (
        f"{row.region.name}（{row.region.code}）{row.display_value}，{period}，依据 {row.citation}"
    )


def check_floor(candidate: PolicyValue) -> None:
    """Raise ValidationError naming both values when the candidate breaks an inheritance floor."""
    catalog_key = get_key(candidate.key)
    if catalog_key.direction == FloorDirection.NONE or not candidate.is_set:
        return
    region = candidate.region
    ancestors = region.ancestors_and_self()[1:]
    period = overlapping(candidate.effective_from, candidate.effective_to)
    others = PolicyValue.objects.filter(key=candidate.key).filter(period).select_related("region")
    errors = []
    for parent in others.filter(region__in=ancestors):
        if parent.is_set and not _stricter_or_equal(catalog_key.direction, candidate, parent):
            errors.append(
                f"{catalog_key.label}：{_describe(candidate)} 低于上级标准 {_describe(parent)}。"
            )
    descendants = Region.objects.within(region).exclude(pk=region.pk)
    for child in others.filter(region__in=descendants):
        if child.is_set and not _stricter_or_equal(catalog_key.direction, child, candidate):
            errors.append(
                f"{catalog_key.label}：{_describe(candidate)} 将使下级 {_describe(child)} 低于上级标准。"
            )
    if errors:
        raise ValidationError({"value": errors})


def check_no_overlap(candidate: PolicyValue) -> None:
    clash = (
        PolicyValue.objects.filter(region=candidate.region, key=candidate.key)
        .filter(overlapping(candidate.effective_from, candidate.effective_to))
        .exclude(pk=candidate.pk)
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "effective_from": f"与已有参数 {_describe(clash)} 的有效期重叠；请先为其设定失效日期。"
            }
        )


def validate_policy_value(candidate: PolicyValue) -> None:
    """Every rule a policy value must obey; the admin form and ``set_policy_value`` call it."""
    catalog_key = get_key(candidate.key)
    if candidate.unit != catalog_key.unit:
        raise ValidationError({"unit": f"{catalog_key.key} 的单位应为 {catalog_key.unit.label}。"})
    if catalog_key.is_frequency and candidate.value is not None:
        raise ValidationError({"value": "频次类参数请填写“频次”，不填数值。"})
    if not catalog_key.is_frequency and candidate.frequency:
        raise ValidationError({"frequency": "该参数为数值，不能填写频次。"})
    check_no_overlap(candidate)
    check_floor(candidate)


@transaction.atomic
def set_policy_value(
    *,
    region: Region,
    key: str,
    effective_from: datetime.date,
    value: Decimal | None = None,
    frequency: str = "",
    effective_to: datetime.date | None = None,
    is_minimum: bool = False,
    citation: str,
    note: str = "",
) -> tuple[PolicyValue, str]:
    """Create or update the row for (region, key, effective_from).

    Returns (row, status) with status "created", "updated" or "unchanged": the same arguments
    a second time change nothing.
    """
    catalog_key = get_key(key)
    row = (
        PolicyValue.objects.select_for_update()
        .filter(region=region, key=key, effective_from=effective_from)
        .first()
    )
    fields = {
        "value": value,
        "frequency": frequency,
        "unit": catalog_key.unit,
        "effective_to": effective_to,
        "is_minimum": is_minimum,
        "citation": citation,
        "note": note,
    }
    if row is not None and all(getattr(row, f) == v for f, v in fields.items()):
        return row, "unchanged"
    status = "updated" if row is not None else "created"
    if row is None:
        row = PolicyValue(region=region, key=key, effective_from=effective_from)
    for field, field_value in fields.items():
        setattr(row, field, field_value)
    row.full_clean()
    validate_policy_value(row)
    row.save()
    return row, status


@transaction.atomic
def upsert_divisions(divisions) -> tuple[int, int]:
    """Create or update regions from Division records (parents first). Returns (created, updated).

    Idempotent; a division whose parent is unknown is refused with its code named.
    """
    known = {r.code: r for r in Region.objects.all()}
    created = updated = 0
    for division in divisions:
        parent = None
        if division.parent_code:
            parent = known.get(division.parent_code)
            if parent is None:
                raise ValidationError(
                    f"区划 {division.code}（{division.name}）的上级 {division.parent_code} 不存在。"
                )
        wanted = {
            "name": division.name,
            "level": division.level,
            "parent": parent,
            "is_active": division.is_active,
            "valid_from_year": division.valid_from_year,
            "valid_to_year": division.valid_to_year,
            "source": division.source,
        }
        region = known.get(division.code)
        if region is None:
            region = Region(code=division.code, **wanted)
            region.full_clean(exclude=["path"])
            region.save()
            known[region.code] = region
            created += 1
        elif any(getattr(region, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(region, field, value)
            region.full_clean(exclude=["path"])
            region.save()
            updated += 1
    return created, updated
