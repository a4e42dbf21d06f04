from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from regions.models import Region
from residents.models import Elder
from servicelist.choices import DeliverySource, ItemKind, ReachedThrough


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
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        self.code = item_code(self.region.code, self.number)
        super().save(*args, **kwargs)


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
    provider_facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_deliveries",
        verbose_name=_("服务机构"),
    )
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
