"""Writes of the service list: catalogue items (checked: the condition language, the standard's
key, the version periods, "not lower" than the item above) and deliveries in kind."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.scoping import require_in_scope
from regions import conditions
from regions.catalog import KEYS
from regions.choices import FloorDirection
from regions.models import Region
from regions.selectors import in_force_on, overlapping, resolve_policy
from residents.models import Elder
from servicelist.choices import DeliverySource, ReachedThrough
from servicelist.models import ServiceDelivery, ServiceItem, item_code


def describe_item(item: ServiceItem) -> str:
    period = f"{item.effective_from}–{item.effective_to or '…'}"
    return f"{item.region.name}（{item.region.code}）清单{item.number}“{item.name}”，{period}"


def _standard_text(item: ServiceItem, value) -> str:
    return f"{item.code}“{item.name}”的标准 {value.normalize():f}（{KEYS[item.standard_key].label}，{item.region.name}）"


def upper_item(item: ServiceItem) -> ServiceItem | None:
    """The item of a list above that ``item`` restates or raises, in force on its first day."""
    if not item.corresponds_to:
        return None
    return (
        ServiceItem.objects.select_related("region")
        .filter(code=item.corresponds_to)
        .filter(in_force_on(item.effective_from))
        .first()
    )


def _check_corresponds(item: ServiceItem) -> ServiceItem | None:
    if not item.corresponds_to:
        return None
    region_code, _, number = item.corresponds_to.partition(":")
    ancestors = [c for c in item.region.path.split("/") if c][:-1]
    if region_code not in ancestors or not number.isdigit():
        raise ValidationError(
            {
                "corresponds_to": f"“{item.corresponds_to}”不是本区划上级清单的项目代码（如 330000:6）。"
            }
        )
    upper = upper_item(item)
    if upper is None:
        raise ValidationError(
            {
                "corresponds_to": f"上级清单项目 {item.corresponds_to} 在 {item.effective_from} 不在有效期内。"
            }
        )
    return upper


def check_not_lower(item: ServiceItem, upper: ServiceItem | None = None) -> None:
    """A lower list may not fall below the list above (docs/policy.md §0 — 000 §1, 004 (一)1):
    an item that restates or raises an upper item has a standard no lower than the upper
    item's, each read from the rulebook for its own region on the item's first day. Refused
    naming both items and both standards; a standard "not set" on either side has nothing to
    compare and passes (the rulebook's own floor check guards each key)."""
    upper = upper if upper is not None else upper_item(item)
    if upper is None or not item.standard_key or not upper.standard_key:
        return
    on = item.effective_from
    mine = resolve_policy(item.standard_key, item.region, on)
    theirs = resolve_policy(upper.standard_key, upper.region, on)
    if not (mine.is_set and theirs.is_set) or mine.frequency or theirs.frequency:
        return
    if KEYS[item.standard_key].unit != KEYS[upper.standard_key].unit:
        raise ValidationError(
            {"standard_key": f"标准的单位与上级项目 {upper.code}“{upper.name}”的不同，无法比较。"}
        )
    direction = KEYS[upper.standard_key].direction
    lower = mine.value < theirs.value
    if direction == FloorDirection.MAXIMUM:
        lower = mine.value > theirs.value
    if direction != FloorDirection.NONE and lower:
        raise ValidationError(
            {
                "standard_key": f"{_standard_text(item, mine.value)}低于上级清单"
                f"{_standard_text(upper, theirs.value)}：下级清单不得低于上级。"
            }
        )


def check_item_overlap(item: ServiceItem) -> None:
    clash = (
        ServiceItem.objects.filter(region=item.region, number=item.number)
        .filter(overlapping(item.effective_from, item.effective_to))
        .exclude(pk=item.pk)
        .select_related("region")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "effective_from": f"与已有版本 {describe_item(clash)} 的有效期重叠；请先为其设定失效日期。"
            }
        )


def validate_item(item: ServiceItem) -> None:
    """Every check of an item beyond its fields, each naming its field."""
    if item.condition is not None:
        try:
            conditions.validate(item.condition)
        except ValidationError as error:
            raise ValidationError({"condition": error.messages}) from None
        codes = conditions.codes_of(item.condition, "registered_in") | conditions.codes_of(
            item.condition, "resides_in"
        )
        known = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
        if codes - known:
            missing = "、".join(sorted(codes - known))
            raise ValidationError({"condition": f"条件中的区划 {missing} 不存在。"})
    if item.standard_key and item.standard_key not in KEYS:
        raise ValidationError({"standard_key": f"未知的政策参数“{item.standard_key}”。"})
    if not isinstance(item.schemes, list) or not all(isinstance(s, str) for s in item.schemes):
        raise ValidationError({"schemes": "津贴项目应为代码列表。"})
    if item.schemes and item.reached_through != ReachedThrough.PAYMENT_LINE:
        raise ValidationError({"schemes": "只有按津贴发放明细落实的项目才列津贴项目。"})
    if item.reached_through == ReachedThrough.PAYMENT_LINE and not item.schemes:
        raise ValidationError({"schemes": "按津贴发放明细落实的项目须列出发放它的津贴项目。"})
    upper = _check_corresponds(item)
    check_item_overlap(item)
    check_not_lower(item, upper)


@transaction.atomic
def add_service_item(*, by=None, reason: str, **fields) -> ServiceItem:
    """A new item (or a later version of one, as a row of its own), checked and recorded with
    its reason. Only writers covering the list's region (a bureau) add to it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写新增原因。"})
    item = ServiceItem(**fields)
    require_in_scope(by, item, field="region")
    save_service_item(item=item, by=by, reason=reason)
    return item


@transaction.atomic
def save_service_item(*, item: ServiceItem, by=None, reason: str) -> ServiceItem:
    """Save an item as changed (the admin's form, a loader), every check first."""
    require_in_scope(by, item, field="region")
    item.code = item_code(item.region.code, item.number)
    item.full_clean(validate_unique=False)
    validate_item(item)
    if by is not None:
        item._history_user = by
    item._change_reason = reason
    item.save()
    return item


# --- deliveries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """Who delivered: a facility of the registry (by its code), or a name (a canteen, a meal
    point, a company)."""

    facility: object | None
    name: str


def find_provider(text: str) -> Provider:
    from facilities.models import Facility

    text = (text or "").strip()
    if not text:
        raise ValidationError({"provider": "请填写服务提供方（机构代码或名称）。"})
    facility = Facility.objects.filter(code=text).first()
    if facility is not None:
        return Provider(facility=facility, name=facility.name)
    if len(text) > 200:
        raise ValidationError({"provider": "服务提供方名称不能超过 200 个字。"})
    return Provider(facility=None, name=text)


def find_item(code: str, on: datetime.date) -> ServiceItem:
    """The item of ``code`` in force on ``on``, delivered in kind."""
    item = ServiceItem.objects.select_related("region").filter(code=code).filter(in_force_on(on))
    item = item.first()
    if item is None:
        if ServiceItem.objects.filter(code=code).exists():
            raise ValidationError({"item": f"服务项目 {code} 在 {on} 不在有效期内。"})
        raise ValidationError({"item": f"没有代码为 {code} 的服务项目（应为 区划代码:序号）。"})
    if item.reached_through != ReachedThrough.DELIVERY:
        raise ValidationError(
            {
                "item": f"{item.code}“{item.name}”由{item.get_reached_through_display()}落实，"
                "不在此登记服务记录。"
            }
        )
    return item


@dataclass(frozen=True)
class DeliveryResult:
    delivery: ServiceDelivery
    created: bool
    updated: bool


def _decimal_equal(a: Decimal | None, b: Decimal | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a == b)


@transaction.atomic
def record_delivery(
    *,
    item: ServiceItem,
    elder: Elder,
    delivered_on: datetime.date,
    provider: Provider,
    quantity: Decimal | None = None,
    amount: Decimal | None = None,
    evidence: str = "",
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """Record that ``elder`` received ``item`` on a day from a provider. The same (item, elder,
    day, provider) again updates its quantity, amount and evidence, and a resend with the same
    values changes nothing. The writer must cover the elder (accounts.scoping)."""
    if item.reached_through != ReachedThrough.DELIVERY:
        raise ValidationError({"item": f"{item.code}“{item.name}”不以服务记录落实。"})
    if not (
        item.effective_from <= delivered_on
        and (item.effective_to is None or delivered_on <= item.effective_to)
    ):
        raise ValidationError({"date": f"{delivered_on} 不在 {item.code} 的有效期内。"})
    if elder.death_date is not None and delivered_on > elder.death_date:
        raise ValidationError({"date": f"老年人已于 {elder.death_date} 去世，不能登记其后的服务。"})
    existing = (
        ServiceDelivery.objects.select_for_update()
        .filter(item=item, elder=elder, delivered_on=delivered_on, provider_name=provider.name)
        .first()
    )
    delivery = existing or ServiceDelivery(
        item=item,
        elder=elder,
        delivered_on=delivered_on,
        provider_name=provider.name,
        source=source,
        recorded_by=by,
    )
    require_in_scope(by, delivery, field="id_number", label=f"老年人{elder.name}")
    if existing is not None and (
        _decimal_equal(existing.quantity, quantity)
        and _decimal_equal(existing.amount, amount)
        and existing.evidence == evidence
        and existing.provider_facility_id == getattr(provider.facility, "pk", None)
    ):
        return DeliveryResult(existing, created=False, updated=False)
    delivery.provider_facility = provider.facility
    delivery.quantity, delivery.amount, delivery.evidence = quantity, amount, evidence
    delivery.full_clean(validate_unique=False, validate_constraints=False)
    if by is not None:
        delivery._history_user = by
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:
        raise ValidationError({"date": "该服务记录刚被另一次提交登记，请重试。"}) from None
    return DeliveryResult(delivery, created=existing is None, updated=existing is not None)
