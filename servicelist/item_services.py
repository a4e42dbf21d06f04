"""Writes of the items' own records (docs/policy.md §1, §2, §8): meal points and the meals
served there (助餐), home adaptations from application to completion (适老化改造), home-care
beds set up, visited and closed (家庭养老床位), and respite stays (喘息).

Each delivery among them is written by ``record_delivery_alone``: a meal, a finished
adaptation, a bed's visit and a respite stay are deliveries of their item like any other, with
the record's own fields beside. ``record_item_delivery`` sends a row to its item's record
(``ServiceItem.record_kind``); ``servicelist.services.record_delivery``, the door of every
caller (spreadsheets, API, scripts), goes through it for an item with a record of its own.

Every write checks the writer's scope first (accounts.scoping), so that nothing of an elder
outside it is told; dates are checked against today and the record's other dates
(accounts.dates); an amount the rulebook does not set is never made up: the record says it is
not set (docs/policy.md §13)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.dates import check_elder_date, refuse_before, refuse_future
from accounts.scoping import require_in_scope
from regions.models import Region
from regions.selectors import resolve_policy
from residents.models import Elder
from servicelist.choices import AssessmentResult, DeliverySource, RecordKind
from servicelist.item_selectors import days_in_years, open_meal_points, respite_days_by_year
from servicelist.models import (
    MEALS_PER_DAY_MAX,
    HomeAdaptation,
    HomeCareBed,
    HomeCareBedVisit,
    MealPoint,
    MealService,
    RespiteStay,
    ServiceDelivery,
    ServiceItem,
)
from servicelist.services import (
    DeliveryResult,
    Provider,
    check_item_applies,
    check_item_in_force,
    record_delivery_alone,
)

ADAPTATION_SUBSIDY = "home_adaptation_subsidy"
RESPITE_DAYS = "respite_days_per_year"


def _elder_label(elder: Elder) -> str:
    return _("老年人%(name)s") % {"name": elder.name}


def _in_scope(by, record, elder: Elder) -> None:
    require_in_scope(by, record, field="id_number", label=_elder_label(elder))


def _place(elder: Elder) -> Region | None:
    """Where the elder's rulebook values are read: where they live, else where registered."""
    return elder.residence_region or elder.hukou_region


def _require_kind(item: ServiceItem, kind: str) -> None:
    if item.record_kind != kind:
        raise ValidationError(
            {
                "item": _("%(code)s“%(name)s”不登记%(record)s。")
                % {"code": item.code, "name": item.name, "record": RecordKind(kind).label}
            }
        )


def _check_for_elder(item: ServiceItem, elder: Elder, on: datetime.date, field: str) -> None:
    """The item is in force on ``on`` and its list covers where the elder lives or is
    registered, as for any delivery."""
    check_item_in_force(item, on, field)
    check_item_applies(item, elder)


def _save(record, by) -> None:
    """full_clean (every constraint's own message), then save; a collision with a concurrent
    write is refused, to be retried."""
    record.full_clean()
    if by is not None:
        record._history_user = by
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise ValidationError(_("该记录刚被另一次提交修改，请重试。")) from None


def _lock_elder(elder: Elder) -> None:
    """Serialise the writes of one elder's records whose rule spans rows (one open bed, stays
    that do not overlap, the days of a year)."""
    Elder.objects.select_for_update().filter(pk=elder.pk).first()


# --- meal points and meals (助餐) ---------------------------------------------------------------


@transaction.atomic
def save_meal_point(*, point: MealPoint, by=None) -> MealPoint:
    """Register or change a meal point (the admin, the API): in the writer's areas, as stored
    and as it will be saved; its name is the facility's when it is one and has none; opened
    and closed on days that have come, in order."""
    require_in_scope(by, point, field="region")
    point.name = (point.name or "").strip()
    if not point.name and point.facility_id:
        point.name = point.facility.name
    if point.facility_id and point.region_id is None:
        point.region = point.facility.region
    refuse_future(point.opened_on, field="opened_on", label=_("开办日期"))
    refuse_future(point.closed_on, field="closed_on", label=_("停办日期"))
    refuse_before(
        point.closed_on,
        point.opened_on,
        field="closed_on",
        label=_("停办日期"),
        earliest_label=_("开办日期"),
    )
    _save(point, by)
    return point


def find_meal_point(provider: Provider, item: ServiceItem, on: datetime.date) -> MealPoint:
    """The meal point a provider (a facility code or a name) stands for, open on ``on`` within
    the item's list region."""
    points = open_meal_points(item.region, on)
    if provider.facility is not None:
        points = points.filter(facility=provider.facility)
    else:
        points = points.filter(name=provider.name)
    found = list(points.select_related("facility")[:2])
    if not found:
        raise ValidationError(
            {
                "provider": _("“%(name)s”不是 %(date)s 在开的助餐点；请先登记助餐点。")
                % {"name": provider.name, "date": on}
            }
        )
    if len(found) > 1:
        raise ValidationError(
            {
                "provider": _("有多个名为“%(name)s”的助餐点，请改填其机构代码。")
                % {"name": provider.name}
            }
        )
    return found[0]


def _meals(quantity: Decimal | None) -> int:
    if quantity is None:
        return 1
    if quantity != quantity.to_integral_value() or not 1 <= quantity <= MEALS_PER_DAY_MAX:
        raise ValidationError(
            {
                "quantity": _("餐次“%(value)s”应为 1 至 %(max)s 的整数（每人每天）。")
                % {"value": quantity, "max": MEALS_PER_DAY_MAX}
            }
        )
    return int(quantity)


@transaction.atomic
def record_meals(
    *,
    item: ServiceItem,
    elder: Elder,
    served_on: datetime.date,
    provider: Provider,
    meals: int = 1,
    amount: Decimal | None = None,
    evidence: str = "",
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """The meals ``elder`` had at a meal point on a day (one to three): a delivery of the 助餐
    item by that meal point, and its meal record. The same day and point again updates the
    meals, or changes nothing when equal."""
    _in_scope(by, ServiceDelivery(item=item, elder=elder), elder)
    _require_kind(item, RecordKind.MEAL)
    _check_for_elder(item, elder, served_on, "date")
    check_elder_date(elder, served_on, field="date", label=_("服务日期"))
    meals = _meals(Decimal(meals))
    point = find_meal_point(provider, item, served_on)
    result = record_delivery_alone(
        item=item,
        elder=elder,
        delivered_on=served_on,
        provider=Provider(facility=point.facility, name=point.name),
        quantity=Decimal(meals),
        amount=amount,
        evidence=evidence,
        source=source,
        by=by,
    )
    meal = MealService.objects.filter(delivery=result.delivery).first()
    if meal is not None and meal.meal_point_id == point.pk and meal.meals == meals:
        return result
    meal = meal or MealService(delivery=result.delivery)
    meal.meal_point, meal.meals = point, meals
    _save(meal, by)
    return result


# --- home adaptations (适老化改造) ---------------------------------------------------------------


@transaction.atomic
def apply_for_adaptation(
    *, elder: Elder, item: ServiceItem, applied_on: datetime.date, by=None
) -> HomeAdaptation:
    """An elder's application for a home adaptation of ``item``: once per elder and item
    while no assessment refused it (the adaptation is given once)."""
    adaptation = HomeAdaptation(elder=elder, item=item, applied_on=applied_on, recorded_by=by)
    _in_scope(by, adaptation, elder)
    _require_kind(item, RecordKind.ADAPTATION)
    _check_for_elder(item, elder, applied_on, "applied_on")
    check_elder_date(elder, applied_on, field="applied_on", label=_("申请日期"))
    _lock_elder(elder)
    earlier = (
        HomeAdaptation.objects.filter(elder=elder, item=item)
        .exclude(assessment=AssessmentResult.REJECTED)
        .first()
    )
    if earlier is not None:
        raise ValidationError(
            {
                "item": _("%(elder)s已有%(code)s的改造申请（申请日期 %(date)s）。")
                % {"elder": elder.name, "code": item.code, "date": earlier.applied_on}
            }
        )
    _save(adaptation, by)
    return adaptation


def _locked(adaptation: HomeAdaptation) -> HomeAdaptation:
    return (
        HomeAdaptation.objects.select_for_update(of=("self",))
        .select_related("elder__residence_region", "elder__hukou_region", "item__region")
        .get(pk=adaptation.pk)
    )


@transaction.atomic
def assess_adaptation(
    *,
    adaptation: HomeAdaptation,
    assessed_on: datetime.date,
    approved: bool,
    note: str = "",
    by=None,
) -> HomeAdaptation:
    """The assessment of an application: approved or not, on a day not before it was
    applied for. A finished adaptation keeps its assessment."""
    adaptation = _locked(adaptation)
    elder = adaptation.elder
    _in_scope(by, adaptation, elder)
    if adaptation.completed_on is not None:
        raise ValidationError(
            {
                "assessed_on": _("改造已于 %(date)s 完工，不能再评估。")
                % {"date": adaptation.completed_on}
            }
        )
    check_elder_date(elder, assessed_on, field="assessed_on", label=_("评估日期"))
    refuse_before(
        assessed_on,
        adaptation.applied_on,
        field="assessed_on",
        label=_("评估日期"),
        earliest_label=_("申请日期"),
    )
    adaptation.assessed_on = assessed_on
    adaptation.assessment = AssessmentResult.APPROVED if approved else AssessmentResult.REJECTED
    adaptation.assessment_note = (note or "").strip()
    _save(adaptation, by)
    return adaptation


def adaptation_subsidy(
    elder: Elder, on: datetime.date, asked: Decimal | None
) -> tuple[Decimal | None, str]:
    """The one-off subsidy of an adaptation finished on ``on``: the rulebook's amount for where
    the elder lives (a cap per household: a smaller amount may be given), or none, with the
    reason, while the rulebook does not set it — an amount is then refused, never made up."""
    resolved = resolve_policy(ADAPTATION_SUBSIDY, _place(elder), on)
    if not resolved.is_set:
        if asked is not None:
            raise ValidationError(
                {
                    "amount": _("%(key)s未设定，不能登记补贴金额；请先在政策参数中填写。")
                    % {"key": resolved.key.label}
                }
            )
        return None, _("补贴标准未设定（%(key)s）") % {"key": resolved.key.label}
    if asked is None:
        return resolved.value.quantize(Decimal("0.01")), ""
    if asked > resolved.value:
        raise ValidationError(
            {
                "amount": _("补贴 %(asked)s 元超过%(key)s %(cap)s 元。")
                % {"asked": asked, "key": resolved.key.label, "cap": resolved.value}
            }
        )
    return asked, ""


@transaction.atomic
def complete_adaptation(
    *,
    adaptation: HomeAdaptation,
    completed_on: datetime.date,
    provider: Provider,
    subsidy: Decimal | None = None,
    evidence: str = "",
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """An approved adaptation finished on a day (not before its assessment): a delivery of its
    item that day by the provider, with the one-off subsidy (``adaptation_subsidy``). The
    same completion again changes nothing; a different day is refused (it is done once)."""
    adaptation = _locked(adaptation)
    elder, item = adaptation.elder, adaptation.item
    _in_scope(by, adaptation, elder)
    if adaptation.assessment != AssessmentResult.APPROVED:
        raise ValidationError(
            {"item": _("改造申请（%(date)s）尚未评估通过。") % {"date": adaptation.applied_on}}
        )
    if adaptation.completed_on is not None and adaptation.completed_on != completed_on:
        raise ValidationError(
            {"date": _("改造已于 %(date)s 完工。") % {"date": adaptation.completed_on}}
        )
    check_elder_date(elder, completed_on, field="date", label=_("完工日期"))
    refuse_before(
        completed_on,
        adaptation.assessed_on,
        field="date",
        label=_("完工日期"),
        earliest_label=_("评估日期"),
    )
    amount, note = adaptation_subsidy(elder, completed_on, subsidy)
    result = record_delivery_alone(
        item=item,
        elder=elder,
        delivered_on=completed_on,
        provider=provider,
        amount=amount,
        evidence=evidence,
        source=source,
        by=by,
    )
    changed = (
        adaptation.completed_on,
        adaptation.subsidy,
        adaptation.subsidy_note,
        adaptation.delivery_id,
    ) != (completed_on, amount, note, result.delivery.pk)
    if not changed:
        return result
    adaptation.completed_on, adaptation.subsidy, adaptation.subsidy_note = (
        completed_on,
        amount,
        note,
    )
    adaptation.delivery = result.delivery
    _save(adaptation, by)
    return DeliveryResult(
        result.delivery, created=result.created, updated=result.updated or not result.created
    )


def approved_adaptation(item: ServiceItem, elder: Elder) -> HomeAdaptation:
    """The elder's approved adaptation of ``item`` that a provider's completion row reports."""
    adaptation = HomeAdaptation.objects.filter(
        item=item, elder=elder, assessment=AssessmentResult.APPROVED
    ).first()
    if adaptation is None:
        raise ValidationError(
            {
                "item": _("%(elder)s没有评估通过的%(code)s改造申请：请先登记申请和评估。")
                % {"elder": elder.name, "code": item.code}
            }
        )
    return adaptation


# --- home-care beds (家庭养老床位) ---------------------------------------------------------------


@transaction.atomic
def set_up_home_care_bed(
    *,
    elder: Elder,
    item: ServiceItem,
    provider: Provider,
    set_up_on: datetime.date,
    by=None,
) -> HomeCareBed:
    """A home-care bed set up in the elder's home by a provider on a day: one at a time, and
    not on a day an earlier bed of the elder still covered."""
    bed = HomeCareBed(
        elder=elder,
        item=item,
        provider_facility=provider.facility,
        provider_name=provider.name,
        set_up_on=set_up_on,
        recorded_by=by,
    )
    _in_scope(by, bed, elder)
    _require_kind(item, RecordKind.HOME_CARE_BED)
    _check_for_elder(item, elder, set_up_on, "set_up_on")
    check_elder_date(elder, set_up_on, field="set_up_on", label=_("建床日期"))
    _lock_elder(elder)
    clash = (
        HomeCareBed.objects.filter(elder=elder)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=set_up_on))
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "set_up_on": _("%(elder)s已有家庭养老床位（%(provider)s，%(date)s 建床）尚未撤床。")
                % {"elder": elder.name, "provider": clash.provider_name, "date": clash.set_up_on}
            }
        )
    _save(bed, by)
    return bed


@transaction.atomic
def close_home_care_bed(
    *, bed: HomeCareBed, closed_on: datetime.date, reason: str = "", by=None
) -> HomeCareBed:
    """Close a bed on a day: not before it was set up nor before a visit recorded to it (a
    bed may be closed on the day after the elder's death)."""
    bed = HomeCareBed.objects.select_for_update(of=("self",)).select_related("elder").get(pk=bed.pk)
    _in_scope(by, bed, bed.elder)
    if bed.closed_on is not None:
        raise ValidationError(
            {"closed_on": _("该床位已于 %(date)s 撤床。") % {"date": bed.closed_on}}
        )
    check_elder_date(
        bed.elder, closed_on, field="closed_on", label=_("撤床日期"), allow_after_death=True
    )
    refuse_before(
        closed_on,
        bed.set_up_on,
        field="closed_on",
        label=_("撤床日期"),
        earliest_label=_("建床日期"),
    )
    last = (
        HomeCareBedVisit.objects.filter(bed=bed)
        .order_by("-delivery__delivered_on")
        .values_list("delivery__delivered_on", flat=True)
        .first()
    )
    refuse_before(
        closed_on,
        last,
        field="closed_on",
        label=_("撤床日期"),
        earliest_label=_("最近一次上门服务"),
    )
    bed.closed_on, bed.close_reason = closed_on, (reason or "").strip()
    _save(bed, by)
    return bed


@transaction.atomic
def record_bed_visit(
    *,
    item: ServiceItem,
    elder: Elder,
    visited_on: datetime.date,
    provider: Provider,
    quantity: Decimal | None = None,
    amount: Decimal | None = None,
    evidence: str = "",
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """A service visit to the elder's home-care bed of ``item`` by the bed's provider, on a
    day the bed was in place: a delivery of the item, linked to the bed."""
    _in_scope(by, ServiceDelivery(item=item, elder=elder), elder)
    _require_kind(item, RecordKind.HOME_CARE_BED)
    _check_for_elder(item, elder, visited_on, "date")
    check_elder_date(elder, visited_on, field="date", label=_("服务日期"))
    bed = (
        HomeCareBed.objects.filter(elder=elder, item=item, set_up_on__lte=visited_on)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=visited_on))
        .first()
    )
    if bed is None:
        raise ValidationError(
            {
                "date": _("%(elder)s在 %(date)s 没有在用的家庭养老床位（%(code)s）。")
                % {"elder": elder.name, "date": visited_on, "code": item.code}
            }
        )
    if provider.name != bed.provider_name:
        raise ValidationError(
            {
                "provider": _("该家庭养老床位由%(bed)s提供，不是%(given)s。")
                % {"bed": bed.provider_name, "given": provider.name}
            }
        )
    result = record_delivery_alone(
        item=item,
        elder=elder,
        delivered_on=visited_on,
        provider=provider,
        quantity=quantity,
        amount=amount,
        evidence=evidence,
        source=source,
        by=by,
    )
    if not HomeCareBedVisit.objects.filter(delivery=result.delivery).exists():
        _save(HomeCareBedVisit(delivery=result.delivery, bed=bed), by)
    return result


# --- respite stays (喘息) -----------------------------------------------------------------------


def _check_allowance(
    elder: Elder, start: datetime.date, end: datetime.date, *, exclude: int | None
) -> int | None:
    """The yearly respite allowance in force for the elder on ``start`` (None: not set, so
    nothing to count against); refused when the stay's days in a year, with the other stays'
    in that year, exceed it."""
    resolved = resolve_policy(RESPITE_DAYS, _place(elder), start)
    if not resolved.is_set:
        return None
    allowance = int(resolved.value)
    here = days_in_years(start, end)
    used = respite_days_by_year(elder, sorted(here), exclude=exclude)
    for year, days in here.items():
        if used.get(year, 0) + days > allowance:
            raise ValidationError(
                {
                    "end_date": _(
                        "%(year)s年已用喘息服务 %(used)s 天，本次 %(days)s 天，超过每年 %(allowance)s 天。"
                    )
                    % {
                        "year": year,
                        "used": used.get(year, 0),
                        "days": days,
                        "allowance": allowance,
                    }
                }
            )
    return allowance


@transaction.atomic
def record_respite_stay(
    *,
    item: ServiceItem,
    elder: Elder,
    start_on: datetime.date,
    end_on: datetime.date | None,
    provider: Provider,
    quantity: Decimal | None = None,
    amount: Decimal | None = None,
    evidence: str = "",
    source: str = DeliverySource.MANUAL,
    by=None,
) -> DeliveryResult:
    """A respite stay at a facility from one day to another (both counted): a delivery of its
    item on the first day with the days as quantity, not overlapping another stay of the
    elder, within the yearly allowance where the rulebook sets one. The same stay again
    changes nothing; a corrected end updates it."""
    _in_scope(by, ServiceDelivery(item=item, elder=elder), elder)
    _require_kind(item, RecordKind.RESPITE)
    if provider.facility is None:
        raise ValidationError({"provider": _("喘息服务由养老服务机构提供：请填写机构代码。")})
    if end_on is None:
        raise ValidationError({"end_date": _("请填写喘息服务的结束日期（YYYY-MM-DD）。")})
    _check_for_elder(item, elder, start_on, "date")
    check_elder_date(elder, start_on, field="date", label=_("开始日期"))
    check_elder_date(elder, end_on, field="end_date", label=_("结束日期"))
    refuse_before(
        end_on, start_on, field="end_date", label=_("结束日期"), earliest_label=_("开始日期")
    )
    days = (end_on - start_on).days + 1
    if quantity is not None and quantity != days:
        raise ValidationError(
            {
                "quantity": _("天数 %(quantity)s 与起止日期（%(days)s 天）不符。")
                % {"quantity": quantity, "days": days}
            }
        )
    _lock_elder(elder)
    stay = RespiteStay.objects.filter(elder=elder, start_on=start_on).first()
    if stay is not None and stay.facility_id != provider.facility.pk:
        raise ValidationError(
            {
                "provider": _("%(elder)s %(date)s 开始的喘息服务在%(facility)s。")
                % {"elder": elder.name, "date": start_on, "facility": stay.facility.name}
            }
        )
    clash = (
        RespiteStay.objects.filter(elder=elder, start_on__lte=end_on, end_on__gte=start_on)
        .exclude(pk=getattr(stay, "pk", None))
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "date": _("与%(elder)s %(start)s 至 %(end)s 的喘息服务重叠。")
                % {"elder": elder.name, "start": clash.start_on, "end": clash.end_on}
            }
        )
    allowance = _check_allowance(elder, start_on, end_on, exclude=getattr(stay, "pk", None))
    result = record_delivery_alone(
        item=item,
        elder=elder,
        delivered_on=start_on,
        provider=provider,
        quantity=Decimal(days),
        amount=amount,
        evidence=evidence,
        source=source,
        by=by,
    )
    if stay is not None and (stay.end_on, stay.days, stay.delivery_id) == (
        end_on,
        days,
        result.delivery.pk,
    ):
        return result
    stay = stay or RespiteStay(elder=elder, item=item, start_on=start_on)
    stay.facility, stay.end_on, stay.days = provider.facility, end_on, days
    stay.yearly_allowance, stay.delivery = allowance, result.delivery
    _save(stay, by)
    return result


# --- the one door of the providers' spreadsheets and API ----------------------------------------


def record_item_delivery(
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
    """A provider's row (item, elder, day, provider, quantity, amount; ``end_on`` for respite),
    recorded as its item records it: meals at a meal point (quantity: the meals), a visit to
    the elder's home-care bed, a respite stay from the day to ``end_on`` (quantity: its days,
    if given), the completion of the elder's approved adaptation (amount: the subsidy, if not
    the rulebook's), or a delivery alone."""
    kind = item.record_kind
    if end_on is not None and kind != RecordKind.RESPITE:
        raise ValidationError({"end_date": _("只有喘息服务填写结束日期。")})
    common = {"evidence": evidence, "source": source, "by": by}
    row = {"item": item, "elder": elder, "provider": provider, "amount": amount, **common}
    if kind == RecordKind.MEAL:
        _in_scope(by, ServiceDelivery(item=item, elder=elder), elder)
        return record_meals(served_on=delivered_on, meals=_meals(quantity), **row)
    if kind == RecordKind.HOME_CARE_BED:
        return record_bed_visit(visited_on=delivered_on, quantity=quantity, **row)
    if kind == RecordKind.RESPITE:
        return record_respite_stay(start_on=delivered_on, end_on=end_on, quantity=quantity, **row)
    if kind == RecordKind.ADAPTATION:
        _in_scope(by, HomeAdaptation(item=item, elder=elder), elder)
        return complete_adaptation(
            adaptation=approved_adaptation(item, elder),
            completed_on=delivered_on,
            provider=provider,
            subsidy=amount,
            **common,
        )
    return record_delivery_alone(delivered_on=delivered_on, quantity=quantity, **row)
