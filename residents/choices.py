from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class PensionType(models.TextChoices):
    EMPLOYEE = "employee", _("职工基本养老保险")
    RESIDENT = "resident", _("城乡居民基本养老保险")
    NONE = "none", _("无")


class Category(models.TextChoices):
    """Categories that drive entitlements (POLICY.md §1, §5, §6). Codes are an interface."""

    DESTITUTE = "destitute", _("特困")
    MINIMUM_LIVING = "minimum_living", _("低保")
    NEAR_MINIMUM_LIVING = "near_minimum_living", _("低保边缘")
    LOST_ONLY_CHILD = "lost_only_child", _("失独")
    FAMILY_PLANNING_SPECIAL = "family_planning_special", _("计划生育特殊家庭")
    CHILDLESS_ALONE = "childless_alone", _("孤寡")
    LIVING_ALONE = "living_alone", _("独居")
    EMPTY_NEST = "empty_nest", _("空巢")
    LEFT_BEHIND = "left_behind", _("留守")
    SEVERELY_DISABLED = "severely_disabled", _("重残")
    COGNITIVE_IMPAIRMENT = "cognitive_impairment", _("失智")
    VETERAN = "veteran", _("退役军人/残疾军人")
    MARTYR_FAMILY = "martyr_family", _("“三属”")
    KEY_ENTITLED = "key_entitled", _("重点优抚对象")
    MODEL_WORKER = "model_worker", _("老劳模")
    RETIRED_CADRE_HARDSHIP = "retired_cadre_hardship", _("困难老居(村)干部")
    BRAVERY_DISABLED = "bravery_disabled", _("见义勇为致残")
