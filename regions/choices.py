from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("设区市")
    COUNTY = "county", _("县（市、区）")
    STREET = "street", _("乡镇（街道）")
    COMMUNITY = "community", _("村（社区）")
    GRID = "grid", _("网格")


class PolicyUnit(models.TextChoices):
    """What a policy value measures; money is always CNY yuan."""

    YUAN_PER_MONTH = "yuan_per_month", _("元/人·月")
    YUAN_PER_YEAR = "yuan_per_year", _("元/人·年")
    YUAN_CAP_PER_YEAR = "yuan_cap_per_year", _("元/年（上限）")
    YUAN_ONE_OFF_CAP = "yuan_one_off_cap", _("元（一次性上限）")
    RESIDENTS_PER_CAREGIVER = "residents_per_caregiver", _("每名护理员对应人数")
    SHARE = "share", _("比例（0–1）")
    SHARE_DENOMINATOR = "share_denominator", _("分担比例的分母（1/N）")
    PER_10K_ELDERS = "per_10k_elders", _("每万名老年人")
    YEARS = "years", _("年")
    MONTHS = "months", _("月")
    AGE = "age", _("周岁")
    COUNT = "count", _("个")
    MONTH_OF_YEAR = "month_of_year", _("月份（1–12）")
    DAYS_PER_YEAR = "days_per_year", _("天/人·年")
    FREQUENCY = "frequency", _("频次")


class Frequency(models.TextChoices):
    """Visit and check frequencies, ordered from the most to the least frequent."""

    DAILY = "daily", _("每天")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")
    QUARTERLY = "quarterly", _("每季度")
    YEARLY = "yearly", _("每年")


FREQUENCY_ORDER = [choice.value for choice in Frequency]


class FloorDirection(models.TextChoices):
    """How a lower level's value compares with the level above's floor (docs/policy.md §0).

    MINIMUM: the value is a minimum; a lower level may pay or require more, never less.
    MAXIMUM: the value is a maximum people may be served with (residents per caregiver,
             contract length); a lower level may be stricter (smaller), never looser.
    NONE:    no inheritance constraint (settings such as the month yearly amounts are paid).
    """

    MINIMUM = "minimum", _("不得低于上级")
    MAXIMUM = "maximum", _("不得高于上级")
    NONE = "none", _("不受上级约束")


class RuleSubject(models.TextChoices):
    """What a rule of "who it is for" decides (regions.models.EligibilityRule). Codes are an
    interface: data files and the readers of each subject name them."""

    VISIT_LIST = "visit_list", _("探访对象")
    WAITING_LIST_PRECEDENCE = "waiting_list_precedence", _("入住轮候顺位")
    CARE_CLASS = "care_class", _("护理员配比类别")
