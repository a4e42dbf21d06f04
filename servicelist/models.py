from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from regions.models import Region
from residents.models import Elder
from servicelist.choices import (
    AssessmentResult,
    DeliverySource,
    ItemKind,
    MealPointKind,
    ReachedThrough,
    RecordKind,
    SatisfactionScore,
    SurveySource,
)


def item_code(region_code: str, number: int) -> str:
    """An item's stable code: the region of the list that names it and its number there
    (docs/policy.md §1, e.g. ``330106:23``)."""
    return f"{region_code}:{number}"


class ServiceItem(models.Model):
    """One item of a basic elderly-care service list (基本养老服务清单) as one version from a
    date: who it is for (a condition over the registry, regions/conditions.py), what is given,
    the standard (a rulebook key, or "not set"), who is responsible and on what basis.

    Inheritance (docs/policy.md §0): a region's list on a day is its own items plus every item
    of the lists above it that no nearer list restates or raises (``corresponds_to``). A lower
    list never drops an item of the level above, and an item that raises one is never below
    its standard (servicelist.services.check_not_lower)."""

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="service_items", verbose_name=_("清单区划")
    )
    number = models.PositiveSmallIntegerField(_("清单序号"), validators=[MinValueValidator(1)])
    # Derived from region and number on save; kept as a column so lists filter and join on it.
    code = models.CharField(_("项目代码"), max_length=24, db_index=True, editable=False)
    name = models.CharField(_("服务项目"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=200)
    target_group = models.CharField(_("服务对象"), max_length=100)
    content = models.TextField(_("服务内容"))
    kind = models.CharField(_("类型"), max_length=16, choices=ItemKind.choices)
    reached_through = models.CharField(
        _("落实情况来源"), max_length=24, choices=ReachedThrough.choices
    )
    record_kind = models.CharField(
        _("服务记录类型"),
        max_length=16,
        choices=RecordKind.choices,
        blank=True,
        default=RecordKind.DELIVERY,
        help_text=_("服务记录之外还登记的内容：助餐点与餐次、改造各环节、家庭养老床位、喘息天数。"),
    )
    condition = models.JSONField(
        _("适用条件"),
        null=True,
        blank=True,
        help_text=_("条件语言见 regions/conditions.py；留空表示对象无法从名册判定（依申请）。"),
    )
    standard_key = models.CharField(
        _("标准（政策参数）"),
        max_length=64,
        blank=True,
        help_text=_("金额或频次所在的政策参数；留空表示“未设定”。"),
    )
    schemes = models.JSONField(
        _("津贴项目"), default=list, blank=True, help_text=_("现金类项目由哪些津贴项目发放。")
    )
    department = models.CharField(_("责任部门"), max_length=200, blank=True)
    legal_basis = models.CharField(_("政策依据"), max_length=300, blank=True)
    citation = models.CharField(_("出处"), max_length=200)
    is_addition = models.BooleanField(_("本级新增项目"), default=False)
    corresponds_to = models.CharField(
        _("对应上级项目"),
        max_length=24,
        blank=True,
        help_text=_("本项目落实或提高的上级清单项目代码，如 330000:6。"),
    )
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("服务清单项目")
        verbose_name_plural = _("服务清单项目")
        ordering = ["region__code", "number", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "number", "effective_from"],
                name="service_item_unique_start",
                violation_error_message=_("该清单的这一项目在同一生效日期已有一个版本。"),
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="service_item_period_ordered",
                violation_error_code="period_ordered",
                violation_error_message=_("失效日期不能早于生效日期。"),
            ),
            models.CheckConstraint(
                condition=Q(record_kind="") | Q(reached_through=ReachedThrough.DELIVERY),
                name="service_item_own_record_only_for_deliveries",
                violation_error_message=_(
                    "只有以服务记录落实的项目才登记助餐、改造、家庭养老床位或喘息记录。"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        self.code = item_code(self.region.code, self.number)
        super().save(*args, **kwargs)


def provider_facility_field(related_name: str) -> models.ForeignKey:
    """The facility of the registry that provided a service, when the provider is one."""
    return models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
        verbose_name=_("服务机构"),
    )


def recorded_by_field() -> models.ForeignKey:
    """The user who entered a record (empty: the system, an import run as a command)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )


class ServiceDelivery(models.Model):
    """One delivery of an item in kind to one elder: a meal, an adaptation, a check, a device,
    a respite stay — on a date, by a provider, with its quantity or amount and evidence. One
    row per (item, elder, date, provider): a provider's month re-sent changes nothing."""

    item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("服务项目")
    )
    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="service_deliveries", verbose_name=_("老年人")
    )
    delivered_on = models.DateField(_("服务日期"), db_index=True)
    provider_facility = provider_facility_field("service_deliveries")
    provider_name = models.CharField(
        _("服务提供方"), max_length=200, help_text=_("机构名称，或助餐点、企业等的名称。")
    )
    quantity = models.DecimalField(
        _("数量"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    amount = models.DecimalField(
        _("金额（元）"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    evidence = models.CharField(_("凭证"), max_length=300, blank=True)
    source = models.CharField(_("来源"), max_length=16, choices=DeliverySource.choices)
    recorded_by = recorded_by_field()
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("服务记录")
        verbose_name_plural = _("服务记录")
        ordering = ["-delivered_on", "id"]
        indexes = [
            models.Index(fields=["item", "delivered_on"], name="delivery_item_date_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "elder", "delivered_on", "provider_name"],
                name="service_delivery_one_per_item_elder_day_provider",
                violation_error_message=_("该老年人当日已有该服务提供方的这一服务记录。"),
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                name="service_delivery_quantity_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="service_delivery_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.delivered_on} {self.provider_name}"


class SatisfactionSurvey(models.Model):
    """One elder's answer to a satisfaction survey (满意度测评, docs/policy.md §7 — 000 三(二))
    about an item of the lists, a provider, or a provider's delivery of an item: a score on
    the five-point scale and a comment, on a day. One answer per (elder, item, provider, day):
    a survey sheet imported again changes nothing."""

    elder = models.ForeignKey(
        Elder,
        on_delete=models.PROTECT,
        related_name="satisfaction_surveys",
        verbose_name=_("受访老年人"),
    )
    item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="surveys",
        verbose_name=_("服务项目"),
    )
    provider_facility = provider_facility_field("satisfaction_surveys")
    # Empty when the answer is about the item alone.
    provider_name = models.CharField(_("服务提供方"), max_length=200, blank=True)
    surveyed_on = models.DateField(_("测评日期"), db_index=True)
    score = models.PositiveSmallIntegerField(_("满意度"), choices=SatisfactionScore.choices)
    comment = models.TextField(_("意见建议"), max_length=1000, blank=True)
    source = models.CharField(_("来源"), max_length=16, choices=SurveySource.choices)
    recorded_by = recorded_by_field()
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("满意度测评")
        verbose_name_plural = _("满意度测评")
        ordering = ["-surveyed_on", "id"]
        indexes = [
            models.Index(fields=["item", "surveyed_on"], name="survey_item_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=SatisfactionScore.VERY_DISSATISFIED)
                & Q(score__lte=SatisfactionScore.VERY_SATISFIED),
                name="satisfaction_score_on_the_scale",
                violation_error_message=_("满意度应为 1（很不满意）至 5（很满意）的整数。"),
            ),
            models.CheckConstraint(
                condition=Q(item__isnull=False) | ~Q(provider_name=""),
                name="satisfaction_survey_names_item_or_provider",
                violation_error_message=_("请填写所测评的服务项目或服务提供方（至少一项）。"),
            ),
            # A null never collides in a unique key: the answers about a provider alone have
            # their own.
            models.UniqueConstraint(
                fields=["elder", "item", "provider_name", "surveyed_on"],
                condition=Q(item__isnull=False),
                name="satisfaction_one_answer_per_item_day",
                violation_error_message=_("该老年人当日已有对此项目的测评。"),
            ),
            models.UniqueConstraint(
                fields=["elder", "provider_name", "surveyed_on"],
                condition=Q(item__isnull=True),
                name="satisfaction_one_answer_per_provider_day",
                violation_error_message=_("该老年人当日已有对此服务提供方的测评。"),
            ),
        ]

    def __str__(self) -> str:
        about = self.item.code if self.item_id else self.provider_name
        return f"{about} {self.surveyed_on} {self.score}"


# --- the items' own records (docs/policy.md §1, §2, §8: meals, adaptations, home-care beds,
# respite): what one delivery does not say, each linked to its deliveries ----------------------


class MealPoint(models.Model):
    """A place meals are served (助餐, docs/policy.md §8 — 000 §5, §12 — 004 (二)2): an elder
    canteen, a meal point, an institution's canteen or a restaurant that joins in; a facility
    of the registry or a named point, in the region (community or street) it serves. Its
    meals are deliveries of a 助餐 item (MealService)."""

    name = models.CharField(_("助餐点名称"), max_length=200)
    kind = models.CharField(_("类型"), max_length=24, choices=MealPointKind.choices)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="meal_points", verbose_name=_("所在区划")
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="meal_points",
        verbose_name=_("所属机构"),
        help_text=_("助餐点设在养老机构或居家养老服务中心时选择；否则留空并填名称。"),
    )
    opened_on = models.DateField(_("开办日期"))
    closed_on = models.DateField(_("停办日期"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("助餐点")
        verbose_name_plural = _("助餐点")
        ordering = ["region__code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "name"],
                name="meal_point_unique_name_in_region",
                violation_error_message=_("该区划已有同名的助餐点。"),
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="meal_point_closes_after_opening",
                violation_error_message=_("停办日期不能早于开办日期。"),
            ),
        ]

    def __str__(self) -> str:
        return self.name


MEALS_PER_DAY_MAX = 3


class MealService(models.Model):
    """The meals one elder had at one meal point on one day: the delivery of a 助餐 item, and
    how many meals it was."""

    delivery = models.OneToOneField(
        ServiceDelivery,
        on_delete=models.PROTECT,
        related_name="meal",
        verbose_name=_("服务记录"),
    )
    meal_point = models.ForeignKey(
        MealPoint, on_delete=models.PROTECT, related_name="meals", verbose_name=_("助餐点")
    )
    meals = models.PositiveSmallIntegerField(_("餐次"))

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("助餐记录")
        verbose_name_plural = _("助餐记录")
        ordering = ["-delivery__delivered_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(meals__gte=1) & Q(meals__lte=MEALS_PER_DAY_MAX),
                name="meal_service_meals_in_a_day",
                violation_error_message=_("每人每天的餐次应为 1 至 3。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meal_point} {self.meals}"


class HomeAdaptation(models.Model):
    """One home adaptation (适老化改造, docs/policy.md §8 — 000 §7, 清单8): applied for,
    assessed, done, with its one-off subsidy from the rulebook (or none while the amount is
    not set). Done, it is a delivery of its item on the day it was finished. One live
    adaptation per elder and item: it is given once."""

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="home_adaptations", verbose_name=_("老年人")
    )
    item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        related_name="home_adaptations",
        verbose_name=_("服务项目"),
    )
    applied_on = models.DateField(_("申请日期"))
    assessed_on = models.DateField(_("评估日期"), null=True, blank=True)
    assessment = models.CharField(
        _("评估结论"), max_length=16, choices=AssessmentResult.choices, blank=True
    )
    assessment_note = models.CharField(_("评估意见"), max_length=300, blank=True)
    completed_on = models.DateField(_("完工日期"), null=True, blank=True)
    subsidy = models.DecimalField(
        _("一次性补贴（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # Why there is no subsidy: the amount is not set in the rulebook (docs/policy.md §13).
    subsidy_note = models.CharField(_("补贴说明"), max_length=200, blank=True)
    delivery = models.OneToOneField(
        ServiceDelivery,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="home_adaptation",
        verbose_name=_("服务记录"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("适老化改造")
        verbose_name_plural = _("适老化改造")
        ordering = ["-applied_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["elder", "item"],
                condition=~Q(assessment=AssessmentResult.REJECTED),
                name="home_adaptation_once_per_elder_and_item",
                violation_error_message=_("该老年人已有这一项目的改造申请。"),
            ),
            models.CheckConstraint(
                condition=Q(assessed_on__isnull=True) | Q(assessed_on__gte=models.F("applied_on")),
                name="home_adaptation_assessed_after_application",
                violation_error_message=_("评估日期不能早于申请日期。"),
            ),
            models.CheckConstraint(
                condition=(Q(assessed_on__isnull=True) & Q(assessment=""))
                | (Q(assessed_on__isnull=False) & ~Q(assessment="")),
                name="home_adaptation_assessed_with_a_result",
                violation_error_message=_("评估日期与评估结论应同时填写。"),
            ),
            models.CheckConstraint(
                condition=Q(completed_on__isnull=True)
                | (
                    Q(assessment=AssessmentResult.APPROVED)
                    & Q(completed_on__gte=models.F("assessed_on"))
                ),
                name="home_adaptation_done_after_approval",
                violation_error_message=_("改造须评估通过后完工，完工日期不能早于评估日期。"),
            ),
            models.CheckConstraint(
                condition=Q(subsidy__isnull=True) | Q(subsidy__gte=0),
                name="home_adaptation_subsidy_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.elder} {self.applied_on}"


class HomeCareBed(models.Model):
    """A home-care bed (家庭养老床位, docs/policy.md §2, §4 — 001 §6, 003 §7, §11): set up in an
    elder's home by a provider on a day, visited by it (each visit a delivery of its item,
    HomeCareBedVisit), closed on a day. One open bed per elder."""

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="home_care_beds", verbose_name=_("老年人")
    )
    item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        related_name="home_care_beds",
        verbose_name=_("服务项目"),
    )
    provider_facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="home_care_beds",
        verbose_name=_("服务机构"),
    )
    provider_name = models.CharField(_("服务提供方"), max_length=200)
    set_up_on = models.DateField(_("建床日期"))
    closed_on = models.DateField(_("撤床日期"), null=True, blank=True)
    close_reason = models.CharField(_("撤床原因"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("家庭养老床位")
        verbose_name_plural = _("家庭养老床位")
        ordering = ["-set_up_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["elder"],
                condition=Q(closed_on__isnull=True),
                name="home_care_bed_one_open_per_elder",
                violation_error_message=_("该老年人已有一张未撤的家庭养老床位。"),
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("set_up_on")),
                name="home_care_bed_closed_after_set_up",
                violation_error_message=_("撤床日期不能早于建床日期。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.elder} {self.provider_name} {self.set_up_on}"


class HomeCareBedVisit(models.Model):
    """One service visit to a home-care bed: the delivery of the bed's item that day."""

    delivery = models.OneToOneField(
        ServiceDelivery,
        on_delete=models.PROTECT,
        related_name="home_care_bed_visit",
        verbose_name=_("服务记录"),
    )
    bed = models.ForeignKey(
        HomeCareBed, on_delete=models.PROTECT, related_name="visits", verbose_name=_("家庭养老床位")
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("家庭养老床位上门服务")
        verbose_name_plural = _("家庭养老床位上门服务")
        ordering = ["-delivery__delivered_on", "id"]

    def __str__(self) -> str:
        return f"{self.bed} {self.delivery.delivered_on}"


class RespiteStay(models.Model):
    """A respite stay (喘息服务, docs/policy.md §2 — 003 §11 短期托养): an elder cared for at a
    facility from one day to another so that the family can rest; its days count against the
    yearly allowance where the rulebook sets one (``yearly_allowance``: the value used, or
    none while it is not set). The stay is a delivery of its item on its first day, its days
    the quantity."""

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="respite_stays", verbose_name=_("老年人")
    )
    item = models.ForeignKey(
        ServiceItem,
        on_delete=models.PROTECT,
        related_name="respite_stays",
        verbose_name=_("服务项目"),
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        related_name="respite_stays",
        verbose_name=_("服务机构"),
    )
    start_on = models.DateField(_("开始日期"))
    end_on = models.DateField(_("结束日期"))
    days = models.PositiveSmallIntegerField(_("天数"))
    yearly_allowance = models.PositiveSmallIntegerField(
        _("每年可用天数"), null=True, blank=True, help_text=_("登记时政策参数的值；空表示未设定。")
    )
    delivery = models.OneToOneField(
        ServiceDelivery,
        on_delete=models.PROTECT,
        related_name="respite_stay",
        verbose_name=_("服务记录"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("喘息服务")
        verbose_name_plural = _("喘息服务")
        ordering = ["-start_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["elder", "start_on"],
                name="respite_stay_one_start_per_elder_day",
                violation_error_message=_("该老年人当日已有一次喘息服务。"),
            ),
            models.CheckConstraint(
                condition=Q(end_on__gte=models.F("start_on")),
                name="respite_stay_ends_after_start",
                violation_error_message=_("结束日期不能早于开始日期。"),
            ),
            models.CheckConstraint(condition=Q(days__gte=1), name="respite_stay_at_least_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.elder} {self.start_on}–{self.end_on}"
