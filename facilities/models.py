"""Facilities, their ratings and contracts, the bed registry (一人一床一码), stays, waiting
lists, caregivers and their employment."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from facilities.choices import (
    OPEN_APPLICATION_STATUSES,
    ApplicationStatus,
    BedType,
    CaregiverGrade,
    CertificateKind,
    FacilityKind,
    Ownership,
    RatingScheme,
    StayEndReason,
)
from facilities.validators import validate_uscc
from regions.models import Region
from residents.id_numbers import validate_id_number
from residents.models import Elder

# Codes printed on labels are opaque and random (never a room number that changes when a
# building is renumbered), without characters that are confused on print (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _random_code(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_facility_code() -> str:
    return _random_code("F", 7)


def new_bed_code() -> str:
    # "B" + 11 characters: never collides with an elder code ("E…"), so one scan field can
    # take either.
    return _random_code("B", 11)


# --- facilities ------------------------------------------------------------------------------


class Facility(models.Model):
    """A care institution or a home-care centre/station (docs/policy.md §2)."""

    code = models.CharField(
        _("机构编码"), max_length=12, unique=True, default=new_facility_code, editable=False
    )
    name = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("类型"), max_length=32, choices=FacilityKind.choices)
    ownership = models.CharField(_("举办性质"), max_length=32, choices=Ownership.choices)
    is_for_profit = models.BooleanField(_("营利性"), default=False)
    is_inclusive = models.BooleanField(_("普惠型"), default=False)
    is_destitute_support = models.BooleanField(_("特困供养机构"), default=False)
    is_veterans_home = models.BooleanField(_("光荣院"), default=False)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("所在区划")
    )
    uscc = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        blank=True,
        validators=[validate_uscc],
        help_text=_("GB 32100-2015，18位，含校验码。"),
    )
    licensed_beds = models.PositiveIntegerField(_("核定床位数"), default=0)
    operator = models.CharField(_("运营方"), max_length=200, blank=True)
    address = models.CharField(_("地址"), max_length=300, blank=True)
    is_active = models.BooleanField(_("运营中"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("养老机构/服务设施")
        verbose_name_plural = _("养老机构/服务设施")
        ordering = ["region__code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"], condition=~Q(uscc=""), name="facility_uscc_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def is_public(self) -> bool:
        # docs/policy.md §5 — "public institutions" include the public-built privately-run ones
        # (003 §8: 公办养老机构（含公建民营）).
        return self.ownership in (Ownership.PUBLIC, Ownership.PUBLIC_BUILT_PRIVATELY_RUN)


class ChainContract(models.Model):
    """A chain-operation contract for one zone of a county (docs/policy.md §2 — 000 §11)."""

    county = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="chain_contracts",
        verbose_name=_("县（市、区）"),
    )
    operator = models.CharField(_("运营方"), max_length=200)
    zone_count = models.PositiveSmallIntegerField(_("全县片区数"))
    zone_number = models.PositiveSmallIntegerField(_("片区序号"))
    zone_name = models.CharField(_("片区名称"), max_length=100, blank=True)
    is_government_purchase = models.BooleanField(_("政府购买服务合同"), default=True)
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("终止日期"), help_text=_("合同最后一天（含）。"))
    facilities = models.ManyToManyField(
        Facility, blank=True, related_name="chain_contracts", verbose_name=_("所含设施")
    )

    history = HistoricalRecords(m2m_fields=[])

    class Meta:
        verbose_name = _("连锁运营合同")
        verbose_name_plural = _("连锁运营合同")
        ordering = ["county__code", "zone_number", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="chain_contract_ordered"
            ),
            models.CheckConstraint(
                condition=Q(zone_number__gte=1) & Q(zone_number__lte=models.F("zone_count")),
                name="chain_contract_zone_in_range",
            ),
        ]

    def __str__(self) -> str:
        return _("%(county)s 第%(n)s片区 %(operator)s") % {
            "county": self.county.name,
            "n": self.zone_number,
            "operator": self.operator,
        }


class Rating(models.Model):
    """One star rating or grading. Ratings are kept as history; the current one is derived
    (facilities.selectors.current_rating) and shows as expired after ``valid_until``."""

    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="ratings", verbose_name=_("机构")
    )
    scheme = models.CharField(
        _("评定类型"), max_length=16, choices=RatingScheme.choices, default=RatingScheme.STAR
    )
    stars = models.PositiveSmallIntegerField(
        _("星级/等级"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rated_on = models.DateField(_("评定日期"))
    score = models.DecimalField(
        _("评定得分"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    valid_until = models.DateField(_("有效期至"), editable=False)
    rated_by = models.CharField(_("评定机构"), max_length=200, blank=True)
    validity_citation = models.CharField(_("有效期依据"), max_length=200, editable=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("星级/等级评定")
        verbose_name_plural = _("星级/等级评定")
        ordering = ["facility_id", "-rated_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1) & Q(stars__lte=5), name="rating_stars_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("rated_on")), name="rating_valid_after_date"
            ),
            models.UniqueConstraint(
                fields=["facility", "scheme", "rated_on"], name="rating_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return _("%(facility)s %(stars)s星 %(date)s") % {
            "facility": self.facility.name,
            "stars": self.stars,
            "date": self.rated_on,
        }


# --- beds ------------------------------------------------------------------------------------


class Building(models.Model):
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("机构")
    )
    name = models.CharField(_("楼栋"), max_length=50)

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["facility_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "name"], name="building_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.facility.name} {self.name}"


class Floor(models.Model):
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="floors", verbose_name=_("楼栋")
    )
    number = models.SmallIntegerField(_("楼层"))

    class Meta:
        verbose_name = _("楼层")
        verbose_name_plural = _("楼层")
        ordering = ["building_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["building", "number"], name="floor_unique_number")
        ]

    def __str__(self) -> str:
        return _("%(building)s %(n)s层") % {"building": self.building, "n": self.number}


class Room(models.Model):
    floor = models.ForeignKey(
        Floor, on_delete=models.PROTECT, related_name="rooms", verbose_name=_("楼层")
    )
    number = models.CharField(_("房间号"), max_length=20)

    class Meta:
        verbose_name = _("房间")
        verbose_name_plural = _("房间")
        ordering = ["floor_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["floor", "number"], name="room_unique_number")
        ]

    def __str__(self) -> str:
        return _("%(floor)s %(n)s室") % {"floor": self.floor, "n": self.number}


class Bed(models.Model):
    """A bed with its bed code 床位码. Home-care beds 家庭养老床位 are at the elder's home:
    they have an address and no room, and belong to the facility that serves them."""

    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="beds", verbose_name=_("机构")
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        related_name="beds",
        null=True,
        blank=True,
        verbose_name=_("房间"),
    )
    label = models.CharField(_("床号"), max_length=20)
    bed_type = models.CharField(
        _("床位类型"), max_length=16, choices=BedType.choices, default=BedType.GENERAL
    )
    home_address = models.CharField(_("家庭床位地址"), max_length=300, blank=True)
    code = models.CharField(
        _("床位码"), max_length=12, unique=True, default=new_bed_code, editable=False
    )
    is_active = models.BooleanField(_("在用"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("床位")
        verbose_name_plural = _("床位")
        ordering = ["facility_id", "room_id", "label"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "label"], name="bed_unique_label"),
            # A home-care bed is at the elder's home (an address, no room); any other bed is in
            # a room of the facility.
            models.CheckConstraint(
                condition=(
                    Q(bed_type=BedType.HOME_CARE) & Q(room__isnull=True) & ~Q(home_address="")
                )
                | (~Q(bed_type=BedType.HOME_CARE) & Q(room__isnull=False)),
                name="bed_home_care_has_address_not_room",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility.name} {self.label}（{self.code}）"


class Stay(models.Model):
    """One elder in one bed from ``start_date`` to ``end_date`` (null = still there).

    The database enforces one person, one bed: a bed holds at most one open stay and an elder
    holds at most one open stay (partial unique constraints, every backend); on PostgreSQL an
    exclusion constraint (migration 0002) also keeps the periods of a bed, and of an elder,
    from overlapping at all, closed stays included. Periods are half-open [start, end): a
    transfer ends one stay and starts the next on the same day.
    """

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="stays", verbose_name=_("老年人")
    )
    bed = models.ForeignKey(
        Bed, on_delete=models.PROTECT, related_name="stays", verbose_name=_("床位")
    )
    start_date = models.DateField(_("入住日期"))
    end_date = models.DateField(_("退住日期"), null=True, blank=True)
    end_reason = models.CharField(
        _("退住原因"), max_length=16, choices=StayEndReason.choices, blank=True
    )
    # docs/policy.md §1, nursing subsidy — 000 §12: an elder whose family cannot care for them,
    # placed in an institution with the county civil-affairs bureau's approval, is paid at the
    # destitute-support nursing-fee rate from the day of approval while the stay lasts.
    # Recorded by facilities.services.record_placement_approval; all three or none.
    placement_approved_on = models.DateField(
        _("县级民政部门批准纳入机构养老日期"), null=True, blank=True
    )
    placement_approval_number = models.CharField(
        _("批准文号"), max_length=64, blank=True, db_default=""
    )
    placement_approved_by = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("批准的县级民政部门（所在县、市、区）"),
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("入住记录")
        verbose_name_plural = _("入住记录")
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["bed", "start_date"], name="stay_bed_start_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="stay_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True, end_reason="")
                | Q(end_date__isnull=False) & ~Q(end_reason=""),
                name="stay_end_has_reason",
            ),
            models.UniqueConstraint(
                fields=["bed"], condition=Q(end_date__isnull=True), name="stay_one_open_per_bed"
            ),
            models.UniqueConstraint(
                fields=["elder"],
                condition=Q(end_date__isnull=True),
                name="stay_one_open_per_elder",
            ),
            models.CheckConstraint(
                condition=Q(
                    placement_approved_on__isnull=True,
                    placement_approval_number="",
                    placement_approved_by__isnull=True,
                )
                | Q(placement_approved_on__isnull=False, placement_approved_by__isnull=False)
                & ~Q(placement_approval_number=""),
                name="stay_placement_approval_complete",
            ),
            # An approval after the stay ended approves nothing.
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(placement_approved_on__isnull=True)
                | Q(placement_approved_on__lte=models.F("end_date")),
                name="stay_placement_approved_by_its_end",
            ),
        ]

    def __str__(self) -> str:
        # Read by people (messages, history, the audit trail): who, which bed, from when.
        values = {"name": self.elder.name, "bed": self.bed.label, "start": self.start_date}
        if self.end_date is None:
            return str(_("%(name)s，%(bed)s 床，%(start)s 入住") % values)
        values["end"] = self.end_date
        return str(_("%(name)s，%(bed)s 床，%(start)s 至 %(end)s") % values)


# --- waiting lists ---------------------------------------------------------------------------


class Application(models.Model):
    """An application to enter a public institution (入住轮候, docs/policy.md §5).

    Precedence is not stored: it follows the elder's categories and latest assessment on the
    day the list is read (facilities.waiting_list), so a change of circumstances re-ranks.
    """

    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="applications", verbose_name=_("申请机构")
    )
    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="applications", verbose_name=_("老年人")
    )
    applied_on = models.DateField(_("申请日期"))
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.WAITING,
    )
    offered_bed = models.ForeignKey(
        Bed,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("通知入住床位"),
    )
    offered_on = models.DateField(_("通知日期"), null=True, blank=True)
    stay = models.OneToOneField(
        Stay,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="application",
        verbose_name=_("入住记录"),
    )
    closed_on = models.DateField(_("办结日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("入住轮候申请")
        verbose_name_plural = _("入住轮候申请")
        ordering = ["facility_id", "applied_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "elder"],
                condition=Q(status__in=OPEN_APPLICATION_STATUSES),
                name="application_one_open_per_elder_and_facility",
            ),
            models.CheckConstraint(
                condition=~Q(status=ApplicationStatus.ADMITTED) | Q(stay__isnull=False),
                name="application_admitted_has_stay",
            ),
            models.CheckConstraint(
                condition=~Q(status=ApplicationStatus.OFFERED) | Q(offered_bed__isnull=False),
                name="application_offer_has_bed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.elder.name} → {self.facility.name}（{self.applied_on}）"


# --- caregivers ------------------------------------------------------------------------------


class Caregiver(models.Model):
    name = models.CharField(_("姓名"), max_length=50)
    id_number = models.CharField(
        _("身份证号"), max_length=18, unique=True, validators=[validate_id_number]
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("养老护理员")
        verbose_name_plural = _("养老护理员")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Certificate(models.Model):
    caregiver = models.ForeignKey(
        Caregiver, on_delete=models.PROTECT, related_name="certificates", verbose_name=_("护理员")
    )
    kind = models.CharField(_("证书类型"), max_length=32, choices=CertificateKind.choices)
    grade = models.CharField(
        _("技能等级"), max_length=32, choices=CaregiverGrade.choices, blank=True
    )
    number = models.CharField(_("证书编号"), max_length=64, blank=True)
    issued_on = models.DateField(_("发证日期"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("证书")
        verbose_name_plural = _("证书")
        ordering = ["caregiver_id", "-issued_on"]
        constraints = [
            # A skill certificate states its grade; a first-aid certificate has none.
            models.CheckConstraint(
                condition=(Q(kind=CertificateKind.CAREGIVER_SKILL) & ~Q(grade=""))
                | (Q(kind=CertificateKind.FIRST_AID) & Q(grade="")),
                name="certificate_grade_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("issued_on")),
                name="certificate_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        grade = f" {self.get_grade_display()}" if self.grade else ""
        return f"{self.get_kind_display()}{grade}"


class Employment(models.Model):
    caregiver = models.ForeignKey(
        Caregiver, on_delete=models.PROTECT, related_name="employments", verbose_name=_("护理员")
    )
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="employments", verbose_name=_("机构")
    )
    start_date = models.DateField(_("入职日期"))
    end_date = models.DateField(_("离职日期"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("护理员任职")
        verbose_name_plural = _("护理员任职")
        ordering = ["facility_id", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="employment_period_ordered",
            ),
            models.UniqueConstraint(
                fields=["caregiver", "facility"],
                condition=Q(end_date__isnull=True),
                name="employment_one_open_per_facility",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caregiver}（{self.facility.name}）"
