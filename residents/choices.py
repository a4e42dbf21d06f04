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
    """Categories that drive entitlements (docs/policy.md §1, §5, §6). Codes are an interface."""

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


class DisabilityCategory(models.TextChoices):
    """Category of the disability certificate (残疾人证, GB/T 26341-2010 残疾人残疾分类和分级);
    read by the disability allowances (docs/policy.md §1)."""

    VISION = "vision", _("视力残疾")
    HEARING = "hearing", _("听力残疾")
    SPEECH = "speech", _("言语残疾")
    PHYSICAL = "physical", _("肢体残疾")
    INTELLECTUAL = "intellectual", _("智力残疾")
    MENTAL = "mental", _("精神残疾")
    MULTIPLE = "multiple", _("多重残疾")


class DisabilityGrade(models.IntegerChoices):
    """Grade of the disability certificate: 一级 is the most severe."""

    FIRST = 1, _("一级")
    SECOND = 2, _("二级")
    THIRD = 3, _("三级")
    FOURTH = 4, _("四级")


class AbilityLevel(models.TextChoices):
    """Overall ability level (GB/T 42195-2022 §5.3). MZ/T 039-2013 records use the first four
    (its 能力完好/轻度/中度/重度失能); only the 2022 standard has 完全失能."""

    INTACT = "intact", _("能力完好")
    MILD = "mild", _("轻度失能")
    MODERATE = "moderate", _("中度失能")
    SEVERE = "severe", _("重度失能")
    TOTAL = "total", _("完全失能")


# From best to worst: an adjustment "one level worse" moves one step to the right.
ABILITY_LEVEL_ORDER = [level.value for level in AbilityLevel]


class AssessmentStandard(models.TextChoices):
    GB_T_42195_2022 = "GB/T 42195-2022", _("GB/T 42195-2022 老年人能力评估规范")
    MZ_T_039_2013 = "MZ/T 039-2013", _("MZ/T 039-2013 老年人能力评估")


class AssessmentDimension(models.TextChoices):
    SELF_CARE = "self_care", _("自理能力")
    MOBILITY = "mobility", _("基础运动能力")
    MENTAL_STATE = "mental_state", _("精神状态")
    PERCEPTION_SOCIAL = "perception_social", _("感知觉与社会参与")


class AgeBand(models.TextChoices):
    """Age bands used by the policy documents (docs/policy.md §0: completed years)."""

    AGE_60_69 = "60-69", _("60–69周岁")
    AGE_70_79 = "70-79", _("70–79周岁")
    AGE_80_89 = "80-89", _("80–89周岁")
    AGE_90_99 = "90-99", _("90–99周岁")
    AGE_100_PLUS = "100+", _("100周岁及以上")


class ImportJobState(models.TextChoices):
    """An elder import in the admin: checked on a worker, confirmed, written on a worker."""

    QUEUED = "queued", _("排队检查")
    CHECKING = "checking", _("检查中")
    CHECKED = "checked", _("待确认")
    CONFIRMED = "confirmed", _("排队导入")
    APPLYING = "applying", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")
    EXPIRED = "expired", _("已过期")
