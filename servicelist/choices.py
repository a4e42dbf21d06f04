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


class SatisfactionScore(models.IntegerChoices):
    """The satisfaction survey's scale (满意度测评, docs/policy.md §7 — 000 三(二)): the documents
    ask for the survey and give no scale; this five-point scale is a system setting (系统设置)
    for a bureau to confirm. The database holds every score within it."""

    VERY_DISSATISFIED = 1, _("很不满意")
    DISSATISFIED = 2, _("不满意")
    NEUTRAL = 3, _("一般")
    SATISFIED = 4, _("满意")
    VERY_SATISFIED = 5, _("很满意")


class SurveySource(models.TextChoices):
    WORKER = "worker", _("街道社区工作人员录入")
    IMPORT = "import", _("测评表导入")
    ADMIN = "admin", _("管理后台录入")


class RecordKind(models.TextChoices):
    """The record an item in kind keeps beside its deliveries, where one delivery does not
    say it all: the meal point and meals of 助餐, the steps of a home adaptation, the home-care
    bed its visits belong to, the days of a respite stay. Empty: the delivery alone."""

    DELIVERY = "", _("仅服务记录")
    MEAL = "meal", _("助餐")
    ADAPTATION = "adaptation", _("适老化改造")
    HOME_CARE_BED = "home_care_bed", _("家庭养老床位")
    RESPITE = "respite", _("喘息服务")


class MealPointKind(models.TextChoices):
    """Where meals are served (docs/policy.md §8 — 000 (二)4, 004 (二)2): canteens, meal points,
    institutions' canteens and the restaurants that join in."""

    CANTEEN = "canteen", _("老年食堂")
    MEAL_POINT = "meal_point", _("助餐点")
    INSTITUTION_CANTEEN = "institution_canteen", _("养老机构食堂")
    SHARED_RESTAURANT = "shared_restaurant", _("老年共享餐厅")


class AssessmentResult(models.TextChoices):
    APPROVED = "approved", _("评估通过")
    REJECTED = "rejected", _("评估未通过")
