"""Writes of the service list: catalogue items (checked: the condition language, the standard's
key, the version periods, "not lower" than the item above), deliveries in kind and
satisfaction surveys."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.dates import check_elder_date
from accounts.scoping import require_in_scope
from regions import conditions
from regions.catalog import KEYS
from regions.choices import FloorDirection
from regions.models import Region
from regions.selectors import in_force_on, overlapping, resolve_policy
from residents.models import Elder
from servicelist.choices import DeliverySource, ReachedThrough, SatisfactionScore, SurveySource
from servicelist.models import SatisfactionSurvey, ServiceDelivery, ServiceItem, item_code


def describe_item(item: ServiceItem) -> str:
    return _("%(region)s（%(code)s）清单%(number)s“%(name)s”，%(start)s–%(end)s") % {
        "region": item.region.name,
        "code": item.region.code,
        "number": item.number,
        "name": item.name,
        "start": item.effective_from,
        "end": item.effective_to or "…",
    }


def _standard_text(item: ServiceItem, value) -> str:
    return _("%(code)s“%(name)s”的标准 %(value)s（%(key)s，%(region)s）") % {
        "code": item.code,
        "name": item.name,
        "value": f"{value.normalize():f}",
        "key": KEYS[item.standard_key].label,
        "region": item.region.name,
    }


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
    region_code, _colon, number = item.corresponds_to.partition(":")
    ancestors = [c for c in item.region.path.split("/") if c][:-1]
    if region_code not in ancestors or not number.isdigit():
        raise ValidationError(
            {
                "corresponds_to": _("“%(code)s”不是本区划上级清单的项目代码（如 330000:6）。")
                % {"code": item.corresponds_to}
            }
        )
    upper = upper_item(item)
    if upper is None:
        raise ValidationError(
            {
                "corresponds_to": _("上级清单项目 %(code)s 在 %(date)s 不在有效期内。")
                % {"code": item.corresponds_to, "date": item.effective_from}
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
            {
                "standard_key": _("标准的单位与上级项目 %(code)s“%(name)s”的不同，无法比较。")
                % {"code": upper.code, "name": upper.name}
            }
        )
    direction = KEYS[upper.standard_key].direction
    lower = mine.value < theirs.value
    if direction == FloorDirection.MAXIMUM:
        lower = mine.value > theirs.value
    if direction != FloorDirection.NONE and lower:
        raise ValidationError(
            {
                "standard_key": _("%(mine)s低于上级清单%(theirs)s：下级清单不得低于上级。")
                % {
                    "mine": _standard_text(item, mine.value),
                    "theirs": _standard_text(upper, theirs.value),
                }
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
                "effective_from": _("与已有版本 %(item)s 的有效期重叠；请先为其设定失效日期。")
                % {"item": describe_item(clash)}
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
            raise ValidationError(
                {"condition": _("条件中的区划 %(codes)s 不存在。") % {"codes": missing}}
            )
    if item.standard_key and item.standard_key not in KEYS:
        raise ValidationError(
            {"standard_key": _("未知的政策参数“%(key)s”。") % {"key": item.standard_key}}
        )
    if not isinstance(item.schemes, list) or not all(isinstance(s, str) for s in item.schemes):
        raise ValidationError({"schemes": _("津贴项目应为代码列表。")})
    if item.schemes and item.reached_through != ReachedThrough.PAYMENT_LINE:
        raise ValidationError({"schemes": _("只有按津贴发放明细落实的项目才列津贴项目。")})
    if item.reached_through == ReachedThrough.PAYMENT_LINE and not item.schemes:
        raise ValidationError({"schemes": _("按津贴发放明细落实的项目须列出发放它的津贴项目。")})
    upper = _check_corresponds(item)
    check_item_overlap(item)
    check_not_lower(item, upper)


@transaction.atomic
def add_service_item(*, by=None, reason: str, **fields) -> ServiceItem:
    """A new item (or a later version of one, as a row of its own), checked and recorded with
    its reason. Only writers covering the list's region (a bureau) add to it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写新增原因。")})
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


# --- deliveries and surveys ---------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """Who delivered: a facility of the registry (by its code), or a name (a canteen, a meal
    point, a company)."""

    facility: object | None
    name: str


def find_provider(text: str, *, required: bool = True) -> Provider | None:
    """The provider a code or name stands for; None for an empty one when not ``required``."""
    from facilities.models import Facility

    text = (text or "").strip()
    if not text:
        if not required:
            return None
        raise ValidationError({"provider": _("请填写服务提供方（机构代码或名称）。")})
    facility = Facility.objects.filter(code=text).first()
    if facility is not None:
        return Provider(facility=facility, name=facility.name)
    if len(text) > 200:
        raise ValidationError({"provider": _("服务提供方名称不能超过 200 个字。")})
    return Provider(facility=None, name=text)


def find_item(code: str, on: datetime.date, *, delivered: bool = True) -> ServiceItem:
    """The item of ``code`` in force on ``on``; with ``delivered``, only an item delivered in
    kind (recorded here as deliveries)."""
    item = ServiceItem.objects.select_related("region").filter(code=code).filter(in_force_on(on))
    item = item.first()
    if item is None:
        if ServiceItem.objects.filter(code=code).exists():
            raise ValidationError(
                {
                    "item": _("服务项目 %(code)s 在 %(date)s 不在有效期内。")
                    % {"code": code, "date": on}
                }
            )
        raise ValidationError(
            {"item": _("没有代码为 %(code)s 的服务项目（应为 区划代码:序号）。") % {"code": code}}
        )
    if delivered and item.reached_through != ReachedThrough.DELIVERY:
        raise ValidationError(
            {
                "item": _("%(code)s“%(name)s”由%(through)s落实，不在此登记服务记录。")
                % {
                    "code": item.code,
                    "name": item.name,
                    "through": item.get_reached_through_display(),
                }
            }
        )
    return item


def _place_name(region: Region | None) -> str:
    return f"{region.name}（{region.code}）" if region is not None else _("未登记")


def check_item_applies(item: ServiceItem, elder: Elder) -> None:
    """An item is for the elders of its list's region (docs/policy.md §0: a list covers its
    region and everything below it): a district's item is neither delivered to nor surveyed
    of an elder who neither lives nor is registered there (a Xihu item for a Ningbo elder)."""
    places = [r for r in (elder.residence_region, elder.hukou_region) if r is not None]
    if any(place.path.startswith(item.region.path) for place in places):
        return
    raise ValidationError(
        {
            "item": _(
                "%(code)s“%(name)s”是%(list)s清单的项目，不适用于%(elder)s"
                "（常住地：%(residence)s；户籍地：%(hukou)s）。"
            )
            % {
                "code": item.code,
                "name": item.name,
                "list": _place_name(item.region),
                "elder": elder.name,
                "residence": _place_name(elder.residence_region),
                "hukou": _place_name(elder.hukou_region),
            }
        }
    )


def check_item_in_force(item: ServiceItem, on: datetime.date, field: str = "date") -> None:
    """The item is in force on ``on``; the error is given on ``field`` (the day's own column)."""
    if not (item.effective_from <= on and (item.effective_to is None or on <= item.effective_to)):
        raise ValidationError(
            {field: _("%(date)s 不在 %(code)s 的有效期内。") % {"date": on, "code": item.code}}
        )


def _elder_label(elder: Elder) -> str:
    return _("老年人%(name)s") % {"name": elder.name}


def _upsert(model, key: dict, values: dict, *, new: dict, by):
    """The record of ``model`` with ``key``, created with ``new`` or updated to ``values``,
    locked while compared: (record, created, updated); the same values again change nothing
    (a resend, a re-import). A concurrent insert of the same key is refused, to be retried."""
    existing = model.objects.select_for_update().filter(**key).first()
    if existing is not None and all(getattr(existing, f) == v for f, v in values.items()):
        return existing, False, False
    record = existing or model(**key, **new)
    for name, value in values.items():
        setattr(record, name, value)
    record.full_clean(validate_unique=False, validate_constraints=False)
    if by is not None:
        record._history_user = by
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise ValidationError({"date": _("该记录刚被另一次提交登记，请重试。")}) from None
    return record, existing is None, existing is not None


@dataclass(frozen=True)
class DeliveryResult:
    delivery: ServiceDelivery
    created: bool
    updated: bool


def record_delivery(
    *,
    item: ServiceItem,
    elder: Elder,
    delivered_on: datetime.date,
    provider: Provider,
    quantity: Decimal | None = None,
    amount: Decimal | None = None,
    evidence: str = "",
    end_on: datetime.date | None = None,
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """Record that ``elder`` received ``item`` on a day from a provider, as the item records
    it: an item with a record of its own (``ServiceItem.record_kind``: meals at a meal point,
    a home-care bed's visit, a respite stay to ``end_on``, an adaptation's completion) gets
    that record beside its delivery, whichever door the row came through (the admin, the
    import, the API, a script), so that coverage, which reads the record, counts it. See
    ``record_delivery_alone`` for what every delivery checks."""
    if item.record_kind or end_on is not None:
        from servicelist.item_services import record_item_delivery

        return record_item_delivery(
            item=item,
            elder=elder,
            delivered_on=delivered_on,
            provider=provider,
            quantity=quantity,
            amount=amount,
            evidence=evidence,
            end_on=end_on,
            source=source,
            by=by,
        )
    return record_delivery_alone(
        item=item,
        elder=elder,
        delivered_on=delivered_on,
        provider=provider,
        quantity=quantity,
        amount=amount,
        evidence=evidence,
        source=source,
        by=by,
    )


@transaction.atomic
def record_delivery_alone(
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
    """The delivery row alone, for an item with no record of its own, or written by that
    record's service (servicelist.item_services) beside it; every other caller goes through
    ``record_delivery``. The same (item, elder, day, provider) again updates its quantity,
    amount and evidence, and a resend with the same values changes nothing. The writer must
    cover the elder (accounts.scoping), checked first so that nothing of an elder outside the
    scope is told; the item must apply where the elder lives or is registered; the day is one
    of the elder's life, not in the future (accounts.dates), and within the item's period."""
    key = {
        "item": item,
        "elder": elder,
        "delivered_on": delivered_on,
        "provider_name": provider.name,
    }
    require_in_scope(by, ServiceDelivery(**key), field="id_number", label=_elder_label(elder))
    if item.reached_through != ReachedThrough.DELIVERY:
        raise ValidationError(
            {
                "item": _("%(code)s“%(name)s”不以服务记录落实。")
                % {"code": item.code, "name": item.name}
            }
        )
    check_item_applies(item, elder)
    check_elder_date(elder, delivered_on, field="date", label=_("服务日期"))
    check_item_in_force(item, delivered_on)
    values = {
        "provider_facility_id": getattr(provider.facility, "pk", None),
        "quantity": quantity,
        "amount": amount,
        "evidence": evidence,
    }
    delivery, created, updated = _upsert(
        ServiceDelivery, key, values, new={"source": source, "recorded_by": by}, by=by
    )
    return DeliveryResult(delivery, created=created, updated=updated)


@dataclass(frozen=True)
class SurveyResult:
    survey: SatisfactionSurvey
    created: bool
    updated: bool


COMMENT_MAX = 1000


@transaction.atomic
def record_survey(
    *,
    elder: Elder,
    surveyed_on: datetime.date,
    score: int,
    item: ServiceItem | None = None,
    provider: Provider | None = None,
    comment: str = "",
    source: str = SurveySource.WORKER,
    by=None,
) -> SurveyResult:
    """Record an elder's satisfaction with an item, a provider, or a provider's delivery of an
    item (docs/policy.md §7 — 000 三(二)): a score on the five-point scale and a comment. The
    same (elder, item, provider, day) again updates the score and comment, or changes nothing
    when equal. The writer must cover the elder (checked first); the item must apply where
    the elder lives or is registered and be in force that day; the day is one of the elder's
    life, not in the future (accounts.dates)."""
    key = {
        "elder": elder,
        "item": item,
        "provider_name": provider.name if provider is not None else "",
        "surveyed_on": surveyed_on,
    }
    require_in_scope(by, SatisfactionSurvey(**key), field="id_number", label=_elder_label(elder))
    if item is None and provider is None:
        raise ValidationError({"item": _("请填写所测评的服务项目或服务提供方（至少一项）。")})
    if item is not None:
        check_item_applies(item, elder)
    check_elder_date(elder, surveyed_on, field="date", label=_("测评日期"))
    if item is not None:
        check_item_in_force(item, surveyed_on)
    if isinstance(score, bool) or score not in SatisfactionScore.values:
        raise ValidationError(
            {
                "score": _("满意度“%(score)s”应为 1（很不满意）至 5（很满意）的整数。")
                % {"score": score}
            }
        )
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(
            {"comment": _("意见建议不能超过 %(max)s 个字。") % {"max": COMMENT_MAX}}
        )
    values = {
        "provider_facility_id": getattr(getattr(provider, "facility", None), "pk", None),
        "score": score,
        "comment": comment,
    }
    survey, created, updated = _upsert(
        SatisfactionSurvey, key, values, new={"source": source, "recorded_by": by}, by=by
    )
    return SurveyResult(survey, created=created, updated=updated)
