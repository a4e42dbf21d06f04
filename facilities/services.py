"""Writes of the facilities app. The admin, the API, the commands, the demo and the tests all go
through these functions: each checks, writes in one transaction and leaves history."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import AuditAction
from accounts.dates import check_elder_date, refuse_after, refuse_before, refuse_future
from accounts.errors import Conflict
from accounts.scoping import (
    OutOfScopeWrite,
    is_bureau_over,
    require_in_scope,
    scoped_for_write,
)
from accounts.services import record_audit
from facilities import selectors
from facilities.choices import (
    OPEN_APPLICATION_STATUSES,
    ApplicationStatus,
    BedType,
    CertificateKind,
    FacilityKind,
    StayEndReason,
)
from facilities.models import (
    Application,
    Bed,
    Caregiver,
    Certificate,
    ChainContract,
    Employment,
    Facility,
    Rating,
    Room,
    Stay,
)
from facilities.validators import normalize_uscc
from regions.choices import RegionLevel
from regions.models import Region
from regions.selectors import PolicyValueNotSet, policy_value
from residents.models import Elder
from residents.selectors import add_years


class StayConflict(Conflict):
    """A bed or an elder is already taken: the API answers 409 Conflict."""


def _with_history_user(instance, by):
    if by is not None:
        instance._history_user = by
    return instance


def _bed_name(bed: Bed) -> str:
    return _("床位 %(label)s（床位码 %(code)s，%(facility)s）") % {
        "label": bed.label,
        "code": bed.code,
        "facility": bed.facility.name,
    }


def _elder_name(elder: Elder) -> str:
    return _("%(name)s（长者码 %(code)s）") % {"name": elder.name, "code": elder.elder_code}


# --- the writer's scope ------------------------------------------------------------------------
# Every write with a writer (``by``) checks the records it touches lie in the writer's scope
# (accounts.scoping.require_in_scope): a record the write names (a bed, an application) as
# stored, a record it creates or changes as it will be saved. ``by=None`` is the system.


def _require_admissible(by, elder: Elder, facility: Facility, *, field: str = "elder") -> None:
    """An elder may be admitted (or put on a list) by a writer whose scope holds the elder, or
    who runs a facility the elder has applied to, or who registered the elder to admit them:
    an institution reaches an applicant, or a newcomer it registered, before the stay that
    puts them in its scope. No one brings an unrelated elder into their scope."""
    if (
        by is None
        or Application.objects.filter(
            elder=elder,
            facility__in=scoped_for_write(Facility.objects.filter(pk=facility.pk), by),
            status__in=OPEN_APPLICATION_STATUSES,
        ).exists()
    ):
        return
    # An elder the writer registered to admit, never admitted anywhere yet.
    if (
        scoped_for_write(Facility.objects.filter(pk=facility.pk), by).exists()
        and selectors.registered_for_admission_by(by).filter(pk=elder.pk).exists()
    ):
        return
    require_in_scope(
        by, elder, field=field, label=_("老年人“%(name)s”") % {"name": elder.name}, as_changed=False
    )


# --- facilities, contracts, ratings ----------------------------------------------------------


@transaction.atomic
def create_facility(*, by=None, **fields) -> Facility:
    fields["uscc"] = normalize_uscc(fields.get("uscc", ""))
    facility = Facility(**fields)
    require_in_scope(
        by, facility, field="region", label=_("机构“%(name)s”") % {"name": facility.name}
    )
    facility.full_clean()
    _with_history_user(facility, by).save()
    return facility


def check_chain_contract(
    *,
    county: Region,
    zone_count: int,
    zone_number: int,
    start_date: datetime.date,
    end_date: datetime.date,
    is_government_purchase: bool = True,
) -> None:
    """Raise ValidationError naming the field when a contract breaks the rulebook's limits
    (docs/policy.md §2 — 浙政办发〔2022〕71号 §11: 2–5 zones; purchase contracts at most 3 years)."""
    try:
        zones_min = int(policy_value("chain_zones_min", county, start_date))
        zones_max = int(policy_value("chain_zones_max", county, start_date))
        max_years = int(policy_value("purchase_contract_max_years", county, start_date))
    except PolicyValueNotSet as missing:
        raise ValidationError(
            {"start_date": _("连锁运营规则未设定：%(missing)s") % {"missing": missing}}
        ) from None
    errors: dict[str, str] = {}
    if not zones_min <= zone_count <= zones_max:
        errors["zone_count"] = _("全县片区数 %(count)s 不在规定范围 %(min)s–%(max)s 个片区内。") % {
            "count": zone_count,
            "min": zones_min,
            "max": zones_max,
        }
    elif not 1 <= zone_number <= zone_count:
        errors["zone_number"] = _("片区序号 %(number)s 应在 1–%(count)s 之间。") % {
            "number": zone_number,
            "count": zone_count,
        }
    if end_date < start_date:
        errors["end_date"] = _("终止日期 %(end)s 早于起始日期 %(start)s。") % {
            "end": end_date,
            "start": start_date,
        }
    elif is_government_purchase:
        last_allowed = add_years(start_date, max_years) - datetime.timedelta(days=1)
        if end_date > last_allowed:
            errors["end_date"] = _(
                "政府购买服务合同期限最长 %(years)s 年：自 %(start)s 起最晚至 "
                "%(last)s，所填终止日期为 %(end)s。"
            ) % {"years": max_years, "start": start_date, "last": last_allowed, "end": end_date}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_chain_contract(
    *,
    county: Region,
    operator: str,
    zone_count: int,
    zone_number: int,
    start_date: datetime.date,
    end_date: datetime.date,
    is_government_purchase: bool = True,
    zone_name: str = "",
    facilities=(),
    by=None,
) -> ChainContract:
    """A chain-operation contract for one zone of a county (docs/policy.md §2 — 浙政办发〔2022〕71号
    §11): the county is split into chain_zones_min–chain_zones_max zones, and a government
    purchase contract lasts at most purchase_contract_max_years (``end_date`` is the last day)."""
    check_chain_contract(
        county=county,
        zone_count=zone_count,
        zone_number=zone_number,
        start_date=start_date,
        end_date=end_date,
        is_government_purchase=is_government_purchase,
    )
    for facility in facilities:
        require_in_scope(by, facility, field="facilities", as_changed=False)
    contract = ChainContract(
        county=county,
        operator=operator,
        zone_count=zone_count,
        zone_number=zone_number,
        zone_name=zone_name,
        is_government_purchase=is_government_purchase,
        start_date=start_date,
        end_date=end_date,
    )
    require_in_scope(
        by, contract, field="county", label=_("%(county)s的连锁运营合同") % {"county": county.name}
    )
    contract.full_clean()
    _with_history_user(contract, by).save()
    if facilities:
        contract.facilities.set(facilities)
    return contract


def rating_validity(*, facility: Facility, rated_on: datetime.date) -> tuple[int, datetime.date]:
    """(years, last valid day) of a rating given on ``rated_on``, from the rulebook."""
    try:
        years = int(policy_value("rating_validity_years", facility.region, rated_on))
    except PolicyValueNotSet as missing:
        raise ValidationError(
            {"rated_on": _("评定有效期未设定：%(missing)s") % {"missing": missing}}
        ) from None
    return years, add_years(rated_on, years) - datetime.timedelta(days=1)


@transaction.atomic
def record_rating(
    *,
    facility: Facility,
    stars: int,
    rated_on: datetime.date,
    score=None,
    scheme: str | None = None,
    rated_by: str = "",
    by=None,
) -> Rating:
    """Record a rating; its validity comes from the rulebook (rating_validity_years, GB/T
    37276-2018: three years), ``valid_until`` being the last valid day."""
    require_in_scope(by, facility, field="facility", as_changed=False)
    refuse_future(rated_on, field="rated_on", label=_("评定日期"))
    years, valid_until = rating_validity(facility=facility, rated_on=rated_on)
    rating = Rating(
        facility=facility,
        stars=stars,
        rated_on=rated_on,
        score=score,
        rated_by=rated_by,
        valid_until=valid_until,
        validity_citation=f"rating_validity_years = {years}",
    )
    if scheme:
        rating.scheme = scheme
    elif facility.kind == FacilityKind.INSTITUTION:
        rating.scheme = "grade"
    rating.full_clean()
    _with_history_user(rating, by).save()
    return rating


# --- beds -------------------------------------------------------------------------------------


@transaction.atomic
def create_bed(
    *,
    facility: Facility,
    label: str,
    bed_type: str = BedType.GENERAL,
    room: Room | None = None,
    home_address: str = "",
    by=None,
) -> Bed:
    require_in_scope(by, facility, field="facility", as_changed=False)
    if room is not None and room.floor.building.facility_id != facility.pk:
        raise ValidationError(
            {
                "room": _("房间 %(room)s 不属于 %(facility)s。")
                % {"room": room, "facility": facility.name}
            }
        )
    if bed_type == BedType.HOME_CARE and room is not None:
        raise ValidationError({"room": _("家庭养老床位设在老年人家中，不属于机构房间。")})
    if bed_type == BedType.HOME_CARE and not home_address.strip():
        raise ValidationError({"home_address": _("家庭养老床位须填写老年人家庭地址。")})
    if bed_type != BedType.HOME_CARE and room is None:
        raise ValidationError({"room": _("机构床位须选择房间。")})
    bed = Bed(
        facility=facility, room=room, label=label, bed_type=bed_type, home_address=home_address
    )
    bed.full_clean()
    _with_history_user(bed, by).save()
    return bed


# --- stays: admission, discharge, transfer ----------------------------------------------------


def _overlapping_stays(start_date: datetime.date) -> Q:
    # A new open stay [start, ∞) overlaps any stay still open or ending after its start.
    return Q(end_date__isnull=True) | Q(end_date__gt=start_date)


def _check_bed_free(bed: Bed, start_date: datetime.date, exclude_elder: Elder | None = None):
    taken = Stay.objects.filter(bed=bed).filter(_overlapping_stays(start_date))
    if exclude_elder is not None:
        taken = taken.exclude(elder=exclude_elder)
    other = taken.select_related("elder").order_by("start_date").first()
    if other is not None:
        today = timezone.localdate()
        # A stay recorded with a date still to come holds the bed until then: say how to put
        # it right (correct_stay) rather than leave the bed refused with no way out.
        wrong = other.start_date > today or (other.end_date is not None and other.end_date > today)
        raise StayConflict(
            {
                "bed": (
                    _("%(bed)s已由 %(elder)s 入住（自 %(start)s 起），不能在 %(date)s 再安排入住。")
                    if other.end_date is None
                    else _(
                        "%(bed)s已由 %(elder)s 入住（自 %(start)s 起至 %(end)s），"
                        "不能在 %(date)s 再安排入住。"
                    )
                )
                % {
                    "bed": _bed_name(bed),
                    "elder": _elder_name(other.elder),
                    "start": other.start_date,
                    "end": other.end_date,
                    "date": start_date,
                }
                + (
                    _("该入住记录的日期晚于今天，如登记有误，请在入住记录中“更正”。")
                    if wrong
                    else ""
                )
            },
            code="bed_taken",
        )


def _check_elder_free(elder: Elder, start_date: datetime.date):
    other = (
        Stay.objects.filter(elder=elder)
        .filter(_overlapping_stays(start_date))
        .select_related("bed__facility")
        .order_by("start_date")
        .first()
    )
    if other is not None:
        raise StayConflict(
            {
                "elder": _("%(elder)s已入住 %(bed)s（自 %(start)s 起），请先办理退住或转床。")
                % {
                    "elder": _elder_name(elder),
                    "bed": _bed_name(other.bed),
                    "start": other.start_date,
                }
            },
            code="elder_taken",
        )


def _create_stay(*, elder: Elder, bed: Bed, start_date: datetime.date, by, **placement) -> Stay:
    stay = Stay(elder=elder, bed=bed, start_date=start_date, **placement)
    stay.full_clean(validate_constraints=False)
    try:
        # The database constraints are the last word (a race the locks did not cover, or a
        # write from outside the services): turn their refusal into the same clear error.
        with transaction.atomic():
            _with_history_user(stay, by).save()
    except IntegrityError:
        raise StayConflict(
            {
                "bed": _("%(bed)s或%(elder)s已有在住记录，入住未办理。")
                % {"bed": _bed_name(bed), "elder": _elder_name(elder)}
            },
            code="stay_conflict",
        ) from None
    return stay


def _lock(elder: Elder, *beds: Bed) -> tuple[Elder, list[Bed]]:
    """Lock the elder, then the beds in primary-key order: every service takes its locks in
    this order, so two of them never wait on each other in a cycle."""
    elder = Elder.objects.select_for_update().get(pk=elder.pk)
    locked = {
        b.pk: b
        for b in Bed.objects.select_for_update()
        .select_related("facility")
        .filter(pk__in=[b.pk for b in beds])
        .order_by("pk")
    }
    return elder, [locked[b.pk] for b in beds]


@transaction.atomic
def admit_to_bed(*, elder: Elder, bed: Bed, start_date: datetime.date, by=None) -> Stay:
    """Admit an elder to a bed from ``start_date``.

    Raises StayConflict (a ValidationError naming the bed and the person) when the bed is
    occupied or the elder already has a bed; ValidationError for a dead elder or a retired bed.
    """
    require_in_scope(by, bed, field="bed", label=_bed_name(bed), as_changed=False)
    _require_admissible(by, elder, bed.facility)
    elder, (bed,) = _lock(elder, bed)
    if elder.death_date is not None and elder.death_date <= start_date:
        raise ValidationError(
            {
                "elder": _("%(elder)s已于 %(date)s 死亡，不能办理入住。")
                % {"elder": _elder_name(elder), "date": elder.death_date}
            }
        )
    check_elder_date(elder, start_date, field="start_date", label=_("入住日期"))
    if not bed.is_active:
        raise ValidationError({"bed": _("%(bed)s已停用。") % {"bed": _bed_name(bed)}})
    _check_bed_free(bed, start_date)
    _check_elder_free(elder, start_date)
    return _create_stay(elder=elder, bed=bed, start_date=start_date, by=by)


def _open_stay(elder: Elder) -> Stay:
    stay = (
        Stay.objects.select_for_update()
        .select_related("bed__facility")
        .filter(elder=elder, end_date__isnull=True)
        .first()
    )
    if stay is None:
        raise ValidationError(
            {"elder": _("%(elder)s目前没有在住床位。") % {"elder": _elder_name(elder)}}
        )
    return stay


def _end_stay(stay: Stay, end_date: datetime.date, reason: str, by, *, field="end_date") -> Stay:
    if end_date < stay.start_date:
        raise ValidationError(
            {
                field: _("退住日期 %(end)s 早于 %(elder)s在%(bed)s的入住日期 %(start)s。")
                % {
                    "end": end_date,
                    "elder": _elder_name(stay.elder),
                    "bed": _bed_name(stay.bed),
                    "start": stay.start_date,
                }
            }
        )
    _refuse_end_before_approval(stay, end_date, field=field)
    stay.end_date = end_date
    stay.end_reason = reason
    stay.full_clean(validate_constraints=False)
    _with_history_user(stay, by).save(update_fields=["end_date", "end_reason"])
    return stay


def _refuse_end_before_approval(stay: Stay, end_date, *, field: str) -> None:
    # An approval recorded on the stay was given while it lasted (stay_placement_approved_by_
    # its_end): a discharge dated before it means one of the two dates is wrong.
    refuse_before(
        end_date,
        stay.placement_approved_on,
        field=field,
        label=_("退住日期"),
        earliest_label=_("县级民政部门批准纳入机构养老日期"),
    )


@transaction.atomic
def discharge(
    *,
    elder: Elder,
    end_date: datetime.date,
    reason: str = StayEndReason.DISCHARGED,
    by=None,
) -> Stay:
    """End the elder's open stay on ``end_date`` (the bed is free from that day): a day that
    has come, on or after the admission."""
    elder, __ = _lock(elder)
    stay = _open_stay(elder)
    require_in_scope(
        by, stay, label=_("%(elder)s的入住") % {"elder": _elder_name(elder)}, as_changed=False
    )
    refuse_future(end_date, field="end_date", label=_("退住日期"))
    return _end_stay(stay, end_date, reason, by)


@transaction.atomic
def transfer(*, elder: Elder, to_bed: Bed, on: datetime.date, by=None) -> Stay:
    """Move an elder to another bed on ``on``: the old stay ends and the new one starts that
    day, in one transaction (a refused target leaves the elder where they were)."""
    current = Stay.objects.filter(elder=elder, end_date__isnull=True).only("bed_id").first()
    if current is None:
        raise ValidationError(
            {"elder": _("%(elder)s目前没有在住床位，无法转床。") % {"elder": _elder_name(elder)}}
        )
    if current.bed_id == to_bed.pk:
        raise ValidationError(
            {
                "to_bed": _("%(elder)s已在%(bed)s。")
                % {"elder": _elder_name(elder), "bed": _bed_name(to_bed)}
            }
        )
    elder, (_from_bed, to_bed) = _lock(elder, current.bed, to_bed)
    stay = _open_stay(elder)
    require_in_scope(
        by, stay, label=_("%(elder)s的入住") % {"elder": _elder_name(elder)}, as_changed=False
    )
    require_in_scope(by, to_bed, field="to_bed", label=_bed_name(to_bed), as_changed=False)
    if not to_bed.is_active:
        raise ValidationError({"to_bed": _("%(bed)s已停用。") % {"bed": _bed_name(to_bed)}})
    refuse_future(on, field="on", label=_("转床日期"))
    _check_bed_free(to_bed, on)
    _end_stay(stay, on, StayEndReason.TRANSFERRED, by, field="on")
    # The county approved placing the elder in institutional care, not in one bed: a move to
    # another institution bed keeps it; a home-care bed is care at home.
    placement = {}
    if stay.placement_approved_on is not None and to_bed.bed_type != BedType.HOME_CARE:
        placement = {f: getattr(stay, f) for f in PLACEMENT_FIELDS}
    return _create_stay(elder=elder, bed=to_bed, start_date=on, by=by, **placement)


def _overlapping(start: datetime.date, end: datetime.date | None) -> Q:
    """Stays whose half-open period meets [start, end) (``end`` None: still open)."""
    meets = Q(end_date__isnull=True) | Q(end_date__gt=start)
    return meets if end is None else meets & Q(start_date__lt=end)


@transaction.atomic
def correct_stay(
    *,
    stay: Stay,
    reason: str,
    start_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
    bed: Bed | None = None,
    by=None,
) -> Stay:
    """Correct a stay recorded wrongly: its admission date, its discharge date (a closed stay)
    or its bed (the bed it really was, not a transfer). Left as None, a value is kept.

    The corrected stay obeys every rule an admission does (days that have come, in order,
    within the elder's life, no other stay of the bed or the elder in its period); the change
    is kept in the stay's history with who made it and ``reason``, and in the audit trail (a
    correction rewrites a record others have relied on: billing, the bed board). This is how a
    stay typed with a date in the future, which holds its bed until then, is put right."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写更正原因。")})
    stored = Stay.objects.select_related("bed__facility", "elder").get(pk=stay.pk)
    label = _("%(elder)s的入住") % {"elder": _elder_name(stored.elder)}
    require_in_scope(by, stored, label=label, as_changed=False)
    if bed is not None and bed.pk != stored.bed_id:
        require_in_scope(by, bed, field="bed", label=_bed_name(bed), as_changed=False)
    elder, beds = _lock(stored.elder, stored.bed, *([bed] if bed is not None else []))
    stay = Stay.objects.select_for_update().select_related("bed__facility").get(pk=stored.pk)
    new_bed = beds[-1]
    if end_date is not None and stay.end_date is None:
        raise ValidationError({"end_date": _("该入住尚未退住：请办理退住，而不是更正退住日期。")})
    start = start_date or stay.start_date
    end = end_date or stay.end_date
    if new_bed.pk != stay.bed_id and not new_bed.is_active:
        raise ValidationError({"bed": _("%(bed)s已停用。") % {"bed": _bed_name(new_bed)}})
    check_elder_date(elder, start, field="start_date", label=_("入住日期"))
    refuse_future(end, field="end_date", label=_("退住日期"))
    refuse_before(end, start, field="end_date", label=_("退住日期"), earliest_label=_("入住日期"))
    _refuse_end_before_approval(stay, end, field="end_date")
    other = (
        Stay.objects.filter(bed=new_bed)
        .exclude(pk=stay.pk)
        .filter(_overlapping(start, end))
        .select_related("elder")
        .first()
    )
    if other is not None:
        raise StayConflict(
            {
                "bed": _("%(bed)s在 %(start)s 起已由%(elder)s入住，与更正后的期间重叠。")
                % {
                    "bed": _bed_name(new_bed),
                    "start": other.start_date,
                    "elder": _elder_name(other.elder),
                }
            },
            code="bed_taken",
        )
    other = (
        Stay.objects.filter(elder=elder)
        .exclude(pk=stay.pk)
        .filter(_overlapping(start, end))
        .select_related("bed__facility")
        .first()
    )
    if other is not None:
        raise StayConflict(
            {
                "start_date": _("%(elder)s在 %(start)s 起入住%(bed)s，与更正后的期间重叠。")
                % {
                    "elder": _elder_name(elder),
                    "start": other.start_date,
                    "bed": _bed_name(other.bed),
                }
            },
            code="elder_taken",
        )
    before = {"start_date": stay.start_date, "end_date": stay.end_date, "bed": stay.bed}
    stay.start_date, stay.end_date, stay.bed = start, end, new_bed
    stay.full_clean(validate_constraints=False)
    stay._change_reason = f"更正：{reason}"[:100]
    try:
        with transaction.atomic():
            _with_history_user(stay, by).save(update_fields=["start_date", "end_date", "bed"])
    except IntegrityError:
        raise StayConflict(
            {
                "bed": _("%(bed)s或%(elder)s在该期间已有入住记录，未更正。")
                % {"bed": _bed_name(new_bed), "elder": _elder_name(elder)}
            },
            code="stay_conflict",
        ) from None
    _record_correction(stay, before, reason=reason, by=by)
    return stay


def _record_correction(stay: Stay, before: dict, *, reason: str, by) -> None:
    """The correction in the audit trail: what changed, from what to what, and why."""

    def shown(field, value):
        if field == "bed":
            return f"{value.label}（{value.code}）"
        return str(value) if value is not None else "—"

    changes = {
        field: f"{shown(field, old)} → {shown(field, getattr(stay, field))}"
        for field, old in before.items()
        if old != getattr(stay, field)
    }
    record_audit(
        user=by,
        action=AuditAction.CORRECT_STAY,
        object_type=stay._meta.label_lower,
        object_id=stay.pk,
        reason=reason,
        details={"elder": stay.elder.elder_code, **changes},
    )


@transaction.atomic
def handle_elder_death(*, elder: Elder, death_date: datetime.date) -> None:
    """Called by residents.services.record_death: the bed is released on the death date and
    open waiting-list applications are closed."""
    stay = Stay.objects.select_for_update().filter(elder=elder, end_date__isnull=True).first()
    if stay is not None:
        # A stay recorded as starting after the death is closed on its own start date.
        _end_stay(stay, max(death_date, stay.start_date), StayEndReason.DIED, None)
    for application in Application.objects.select_for_update().filter(
        elder=elder, status__in=OPEN_APPLICATION_STATUSES
    ):
        application.status = ApplicationStatus.WITHDRAWN
        application.closed_on = death_date
        application.note = (application.note + " 因死亡终止").strip()[:300]
        application.save(update_fields=["status", "closed_on", "note"])


# --- placement approved by the county ---------------------------------------------------------

PLACEMENT_FIELDS = ("placement_approved_on", "placement_approval_number", "placement_approved_by")


@transaction.atomic
def record_placement_approval(
    *,
    stay: Stay,
    approved_on: datetime.date | None,
    approval_number: str = "",
    approved_by: Region | None = None,
    reason: str = "",
    by=None,
) -> Stay:
    """Record on ``stay`` that the county civil-affairs bureau approved placing the elder in
    institutional care (经县级民政部门批准纳入机构养老, docs/policy.md §1 nursing subsidy —
    000 §12, 002 清单11, 003 §11, 004 (一)2): from ``approved_on`` and while the stay lasts,
    a 低保 elder's nursing subsidy is paid at the destitute nursing-fee rate, not a home tier.

    ``approved_by`` is the county (县、市、区) whose bureau approved, the county of the elder's
    household registration (the 低保 household's county, which pays); ``approval_number`` the
    approval's document number. The approval is the bureau's decision: only a civil-affairs
    bureau whose area holds that county records it — also on a stay in another county's
    institution, which it finds only for this (selectors.placement_approval_stays). ``approved_on=None`` withdraws an approval
    recorded wrongly; changing or withdrawing one needs ``reason``, kept in the history."""
    stored = Stay.objects.select_related("elder", "bed__facility").get(pk=stay.pk)
    label = _("%(elder)s的入住") % {"elder": _elder_name(stored.elder)}
    require_in_scope(by, stored.elder, field="stay", label=label, as_changed=False)
    # The stay itself: in the writer's scope, or (a bureau) a stay of an elder registered in
    # its area, in an institution anywhere (selectors.placement_approval_stays).
    if by is not None and not (
        selectors.placement_approval_stays(by).filter(pk=stored.pk).exists()
    ):
        raise OutOfScopeWrite(_("%(record)s不在您的管辖范围内。") % {"record": label})
    reason = (reason or "").strip()
    elder, _beds = _lock(stored.elder)
    stay = Stay.objects.select_for_update().select_related("bed").get(pk=stored.pk)
    # Read from the locked row: an approval another bureau recorded meanwhile is a change
    # (it needs the reason), not a first recording that silently overwrites it.
    had_one = stay.placement_approved_on is not None
    if had_one and not reason:
        raise ValidationError({"reason": _("更改或撤销已登记的批准，请填写原因。")})
    if approved_on is None:
        if not had_one:
            raise ValidationError(
                {"placement_approved_on": _("请填写县级民政部门批准纳入机构养老的日期。")}
            )
        values = {"placement_approved_on": None, "placement_approval_number": ""}
        values["placement_approved_by"] = None
        if by is not None and not is_bureau_over(by, stay.placement_approved_by):
            raise ValidationError({"placement_approved_by": _placement_is_the_bureaus()})
    else:
        values = _checked_placement(stay, elder, approved_on, approval_number, approved_by, by)
    for field, value in values.items():
        setattr(stay, field, value)
    stay.full_clean(validate_constraints=False)
    stay._change_reason = (
        f"{'撤销' if approved_on is None else '登记'}县级批准：{reason}"
        if reason
        else "登记县级批准"
    )[:100]
    _with_history_user(stay, by).save(update_fields=list(values))
    return stay


def _placement_is_the_bureaus() -> str:
    return _("纳入机构养老由县级民政部门批准，只有该县（市、区）或其上级的民政部门可以登记。")


def _checked_placement(stay, elder, approved_on, approval_number, approved_by, by) -> dict:
    if stay.bed.bed_type == BedType.HOME_CARE:
        raise ValidationError(
            {"stay": _("家庭养老床位属于居家养老，不是纳入机构养老，不能登记县级批准。")}
        )
    label = _("县级民政部门批准纳入机构养老日期")
    check_elder_date(elder, approved_on, field="placement_approved_on", label=label)
    refuse_after(
        approved_on,
        stay.end_date,
        field="placement_approved_on",
        label=label,
        latest_label=_("退住日期"),
    )
    number = (approval_number or "").strip()
    if not number:
        raise ValidationError({"placement_approval_number": _("请填写批准文号。")})
    if approved_by is None or approved_by.level != RegionLevel.COUNTY:
        raise ValidationError(
            {"placement_approved_by": _("请选择批准的县级民政部门所在的县（市、区）。")}
        )
    if not elder.hukou_region.path.startswith(approved_by.path):
        raise ValidationError(
            {
                "placement_approved_by": _(
                    "%(county)s不是%(name)s户籍所在的县（市、区）：低保家庭的护理补贴由户籍地批准和发放。"
                )
                % {"county": approved_by.name, "name": elder.name}
            }
        )
    if by is not None and not is_bureau_over(by, approved_by):
        raise ValidationError({"placement_approved_by": _placement_is_the_bureaus()})
    return {
        "placement_approved_on": approved_on,
        "placement_approval_number": number[:64],
        "placement_approved_by": approved_by,
    }


# --- waiting lists ---------------------------------------------------------------------------


@transaction.atomic
def apply_for_place(
    *, facility: Facility, elder: Elder, applied_on: datetime.date, note: str = "", by=None
) -> Application:
    """Put an elder on a public institution's waiting list (docs/policy.md §5)."""
    require_in_scope(by, facility, field="facility", as_changed=False)
    require_in_scope(
        by,
        elder,
        field="elder",
        label=_("老年人“%(name)s”") % {"name": elder.name},
        as_changed=False,
    )
    if not facility.is_public:
        raise ValidationError(
            {
                "facility": _("%(facility)s不是公办（含公建民营）机构，不实行入住轮候。")
                % {"facility": facility.name}
            }
        )
    if elder.death_date is not None:
        raise ValidationError({"elder": _("%(elder)s已死亡。") % {"elder": _elder_name(elder)}})
    if Application.objects.filter(
        facility=facility, elder=elder, status__in=OPEN_APPLICATION_STATUSES
    ).exists():
        raise ValidationError(
            {
                "elder": _("%(elder)s已在%(facility)s轮候。")
                % {"elder": _elder_name(elder), "facility": facility.name}
            }
        )
    check_elder_date(elder, applied_on, field="applied_on", label=_("申请日期"))
    resident = (
        Stay.objects.filter(elder=elder, bed__facility=facility, end_date__isnull=True)
        .select_related("bed__facility")
        .first()
    )
    if resident is not None:
        raise ValidationError(
            {
                "elder": _("%(elder)s自 %(start)s 起已入住%(bed)s，不需轮候。")
                % {
                    "elder": _elder_name(elder),
                    "start": resident.start_date,
                    "bed": _bed_name(resident.bed),
                }
            }
        )
    application = Application(facility=facility, elder=elder, applied_on=applied_on, note=note)
    application.full_clean()
    _with_history_user(application, by).save()
    return application


def _check_application_day(application: Application, on: datetime.date, *, label: str) -> None:
    """A step of an application (offer, admission, withdrawal) is taken on a day that has come,
    on or after the application (and the offer)."""
    refuse_future(on, field="on", label=label)
    refuse_before(on, application.applied_on, field="on", label=label, earliest_label=_("申请日期"))
    refuse_before(on, application.offered_on, field="on", label=label, earliest_label=_("通知日期"))


def _lock_application(application: Application) -> Application:
    return (
        Application.objects.select_for_update()
        .select_related("facility", "elder")
        .get(pk=application.pk)
    )


@transaction.atomic
def offer_bed(*, application: Application, bed: Bed, on: datetime.date, by=None) -> Application:
    """Offer a free bed to an applicant (the next one on the list, as the admin suggests)."""
    require_in_scope(by, application, as_changed=False)
    application = _lock_application(application)
    if application.status != ApplicationStatus.WAITING:
        raise ValidationError(
            {
                "status": _("申请状态为“%(status)s”，不能通知入住。")
                % {"status": application.get_status_display()}
            }
        )
    if bed.facility_id != application.facility_id:
        raise ValidationError(
            {
                "bed": _("%(bed)s不属于%(facility)s。")
                % {"bed": _bed_name(bed), "facility": application.facility.name}
            }
        )
    _check_application_day(application, on, label=_("通知日期"))
    _check_bed_free(bed, on)
    application.status = ApplicationStatus.OFFERED
    application.offered_bed = bed
    application.offered_on = on
    application.full_clean()
    _with_history_user(application, by).save()
    return application


@transaction.atomic
def admit_application(
    *, application: Application, on: datetime.date, bed: Bed | None = None, by=None
) -> Stay:
    """Admit an applicant to the offered bed (or ``bed``). Race-safe: the bed row is locked
    for the transaction, so of two staff admitting to the last bed at once one succeeds and
    the other gets StayConflict naming the bed and who took it."""
    require_in_scope(by, application, as_changed=False)
    application = _lock_application(application)
    if application.status not in OPEN_APPLICATION_STATUSES:
        raise ValidationError(
            {
                "status": _("申请状态为“%(status)s”，不能办理入住。")
                % {"status": application.get_status_display()}
            }
        )
    bed = bed or application.offered_bed
    if bed is None:
        raise ValidationError({"bed": _("请选择入住床位。")})
    if bed.facility_id != application.facility_id:
        raise ValidationError(
            {
                "bed": _("%(bed)s不属于%(facility)s。")
                % {"bed": _bed_name(bed), "facility": application.facility.name}
            }
        )
    _check_application_day(application, on, label=_("入住日期"))
    stay = admit_to_bed(elder=application.elder, bed=bed, start_date=on, by=by)
    application.status = ApplicationStatus.ADMITTED
    application.offered_bed = application.offered_bed or bed
    application.stay = stay
    application.closed_on = on
    _with_history_user(application, by).save()
    return stay


@transaction.atomic
def withdraw_application(
    *, application: Application, on: datetime.date, note: str = "", by=None
) -> Application:
    require_in_scope(by, application, as_changed=False)
    application = _lock_application(application)
    if application.status not in OPEN_APPLICATION_STATUSES:
        raise ValidationError(
            {"status": _("申请已%(status)s。") % {"status": application.get_status_display()}}
        )
    _check_application_day(application, on, label=_("撤回日期"))
    application.status = ApplicationStatus.WITHDRAWN
    application.closed_on = on
    application.note = (application.note + " " + note).strip()[:300]
    _with_history_user(application, by).save()
    return application


# --- caregivers -------------------------------------------------------------------------------


@transaction.atomic
def register_caregiver(*, name: str, id_number: str, phone: str = "", by=None) -> Caregiver:
    caregiver = Caregiver(name=name.strip(), id_number=id_number.strip().upper(), phone=phone)
    caregiver.full_clean()
    _with_history_user(caregiver, by).save()
    return caregiver


@transaction.atomic
def add_certificate(
    *,
    caregiver: Caregiver,
    kind: str,
    issued_on: datetime.date,
    grade: str = "",
    number: str = "",
    valid_until: datetime.date | None = None,
    by=None,
) -> Certificate:
    require_in_scope(by, caregiver, field="caregiver", as_changed=False)
    if kind == CertificateKind.CAREGIVER_SKILL and not grade:
        raise ValidationError({"grade": _("养老护理员职业技能等级证书须填写等级。")})
    if kind == CertificateKind.FIRST_AID and grade:
        raise ValidationError({"grade": _("救护员证没有技能等级。")})
    refuse_future(issued_on, field="issued_on", label=_("发证日期"))
    refuse_before(
        valid_until,
        issued_on,
        field="valid_until",
        label=_("有效期至"),
        earliest_label=_("发证日期"),
    )
    certificate = Certificate(
        caregiver=caregiver,
        kind=kind,
        grade=grade,
        number=number,
        issued_on=issued_on,
        valid_until=valid_until,
    )
    certificate.full_clean()
    _with_history_user(certificate, by).save()
    return certificate


@transaction.atomic
def employ_caregiver(
    *, caregiver: Caregiver, facility: Facility, start_date: datetime.date, by=None
) -> Employment:
    require_in_scope(by, facility, field="facility", as_changed=False)
    if Employment.objects.filter(
        caregiver=caregiver, facility=facility, end_date__isnull=True
    ).exists():
        raise ValidationError(
            {
                "caregiver": _("%(name)s已在%(facility)s任职。")
                % {"name": caregiver.name, "facility": facility.name}
            }
        )
    refuse_future(start_date, field="start_date", label=_("入职日期"))
    employment = Employment(caregiver=caregiver, facility=facility, start_date=start_date)
    employment.full_clean()
    _with_history_user(employment, by).save()
    return employment


@transaction.atomic
def end_employment(*, employment: Employment, end_date: datetime.date, by=None) -> Employment:
    require_in_scope(by, employment, as_changed=False)
    employment = Employment.objects.select_for_update().get(pk=employment.pk)
    if employment.end_date is not None:
        raise ValidationError({"end_date": _("该任职已结束。")})
    refuse_future(end_date, field="end_date", label=_("离职日期"))
    refuse_before(
        end_date,
        employment.start_date,
        field="end_date",
        label=_("离职日期"),
        earliest_label=_("入职日期"),
    )
    employment.end_date = end_date
    employment.full_clean()
    _with_history_user(employment, by).save()
    return employment
