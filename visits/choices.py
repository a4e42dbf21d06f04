from django.db import models
from django.utils.translation import gettext_lazy as _


class VisitMode(models.TextChoices):
    # 金政办发〔2023〕18号 清单16: 电话问候、上门巡访; video calls are how family-planning
    # special families are often reached in practice.
    HOME = "home", _("上门探访")
    PHONE = "phone", _("电话问候")
    VIDEO = "video", _("视频探访")


class VisitOutcome(models.TextChoices):
    SEEN_WELL = "seen_well", _("见到本人，情况良好")
    NEEDS_FOLLOW_UP = "needs_follow_up", _("需要跟进")
    NOT_AT_HOME = "not_at_home", _("不在家/未联系上")
    IN_HOSPITAL = "in_hospital", _("住院")
    DECEASED = "deceased", _("已去世")


class VisitNeed(models.TextChoices):
    MEALS = "meals", _("助餐")
    MEDICAL = "medical", _("就医")
    CLEANING = "cleaning", _("保洁")
    SHOPPING = "shopping", _("代购")
    OTHER = "other", _("其他")


class VisitFrequency(models.TextChoices):
    """The frequencies a visit schedule can have (a subset of regions.choices.Frequency)."""

    DAILY = "daily", _("每天")
    MONTHLY = "monthly", _("每月")


class FollowUpKind(models.TextChoices):
    DEATH_REPORT = "death_report", _("死亡报告待核实")
    NEEDS = "needs", _("需求跟进")


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已办结")
    CANCELLED = "cancelled", _("已撤销")


class VisitGroup(models.TextChoices):
    """Why an elder is on the visit list: a category held, an assessment level or an age."""

    CHILDLESS_ALONE = "childless_alone", _("孤寡")
    LIVING_ALONE = "living_alone", _("独居")
    EMPTY_NEST = "empty_nest", _("空巢")
    LEFT_BEHIND = "left_behind", _("留守")
    DISABLED = "disabled", _("失能（中度及以上）")
    SEVERELY_DISABLED = "severely_disabled", _("重残")
    COGNITIVE_IMPAIRMENT = "cognitive_impairment", _("失智")
    FAMILY_PLANNING_SPECIAL = "family_planning_special", _("计划生育特殊家庭")
    LOST_ONLY_CHILD = "lost_only_child", _("失独")
    DESTITUTE = "destitute", _("特困")
    MINIMUM_LIVING = "minimum_living", _("低保")
    NEAR_MINIMUM_LIVING = "near_minimum_living", _("低保边缘")
    HIGH_AGE = "high_age", _("高龄")
