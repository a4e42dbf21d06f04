from django.db import models
from django.utils.translation import gettext_lazy as _


class ItemKind(models.TextChoices):
    """What an item of a service list provides (docs/policy.md §8–§12, each list's 服务类型 read
    closer: cash, a service, cover, a check, a visit, a place first, a lower price)."""

    CASH = "cash", _("现金补贴")
    IN_KIND = "in_kind", _("实物或服务")
    INSURANCE = "insurance", _("保险")
    ASSESSMENT = "assessment", _("评估或体检")
    VISIT = "visit", _("探访")
    PRIORITY = "priority", _("优先服务")
    DISCOUNT = "discount", _("优惠减免")


class ReachedThrough(models.TextChoices):
    """Where coverage reads that an entitled elder was reached: the allowance run's payment
    lines, the visits app, the assessments, the health checks, or the deliveries recorded here.
    Items no system of ours delivers (pensions, medical insurance) are not tracked."""

    PAYMENT_LINE = "payment_line", _("津贴发放明细")
    VISIT = "visit", _("探访记录")
    ABILITY_ASSESSMENT = "ability_assessment", _("能力评估记录")
    HEALTH_CHECK = "health_check", _("体检记录")
    DELIVERY = "delivery", _("服务记录")
    NOT_TRACKED = "not_tracked", _("本系统不记录")


class DeliverySource(models.TextChoices):
    IMPORT = "import", _("服务商报表导入")
    API = "api", _("服务商系统接口")
    MANUAL = "manual", _("手工录入")
