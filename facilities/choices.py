from django.db import models
from django.utils.translation import gettext_lazy as _


class FacilityKind(models.TextChoices):
    """docs/policy.md §2 — kinds of facility named by the seeds."""

    INSTITUTION = "institution", _("养老机构")
    STREET_CENTRE = "street_centre", _("乡镇（街道）居家养老服务中心")
    COMMUNITY_STATION = "community_station", _("村（社区）居家养老服务照料中心")
    SMART_CARE_HOME = "smart_care_home", _("智慧养老院")


class Ownership(models.TextChoices):
    PUBLIC = "public", _("公办")
    PUBLIC_BUILT_PRIVATELY_RUN = "public_built_privately_run", _("公建民营")
    PRIVATE = "private", _("民办")


class RatingScheme(models.TextChoices):
    # docs/policy.md §2 — 星级评定 of home-care facilities, 等级评定 of institutions (GB/T 37276-2018).
    STAR = "star", _("星级评定")
    GRADE = "grade", _("等级评定")


class BedType(models.TextChoices):
    GENERAL = "general", _("普通床位")
    NURSING = "nursing", _("护理型床位")
    COGNITIVE = "cognitive", _("认知障碍照护床位")
    HOME_CARE = "home_care", _("家庭养老床位")


class StayEndReason(models.TextChoices):
    DISCHARGED = "discharged", _("出院（退住）")
    TRANSFERRED = "transferred", _("转床")
    DIED = "died", _("死亡")


class ApplicationStatus(models.TextChoices):
    WAITING = "waiting", _("轮候中")
    OFFERED = "offered", _("已通知入住")
    ADMITTED = "admitted", _("已入住")
    WITHDRAWN = "withdrawn", _("已撤回")


OPEN_APPLICATION_STATUSES = [ApplicationStatus.WAITING, ApplicationStatus.OFFERED]


class CertificateKind(models.TextChoices):
    CAREGIVER_SKILL = "caregiver_skill", _("养老护理员职业技能等级证书")
    FIRST_AID = "first_aid", _("救护员证")


class CaregiverGrade(models.TextChoices):
    """Vocational skill grades of 养老护理员, lowest first (order matters: "senior or above")."""

    JUNIOR = "junior", _("初级工（五级）")
    INTERMEDIATE = "intermediate", _("中级工（四级）")
    SENIOR = "senior", _("高级工（三级）")
    TECHNICIAN = "technician", _("技师（二级）")
    SENIOR_TECHNICIAN = "senior_technician", _("高级技师（一级）")


GRADE_ORDER = [grade.value for grade in CaregiverGrade]
SENIOR_OR_ABOVE = GRADE_ORDER[GRADE_ORDER.index(CaregiverGrade.SENIOR) :]


class CareClass(models.TextChoices):
    """Staffing classes of residents (docs/policy.md §3)."""

    FULLY_DISABLED = "fully_disabled", _("完全失能")
    PARTLY_DISABLED = "partly_disabled", _("部分失能")
    SELF_CARING = "self_caring", _("自理")


class Precedence(models.IntegerChoices):
    """Waiting-list precedence, most urgent first (docs/policy.md §5). Lower value = earlier.

    The ranks of the shipped rules: the rules themselves, their ranks and labels are data
    (``waiting_list_precedence`` in regions/data/eligibility.toml) and a bureau may add more."""

    DESTITUTE = 1, _("特困老年人（有集中供养意愿的全部集中供养）")
    FAMILY_PLANNING_SPECIAL = 2, _("计划生育特殊家庭老年人（同等条件下优先）")
    ECONOMICALLY_DIFFICULT_DISABLED = 3, _("经济困难的失能老年人")
    VETERANS = 4, _("老年残疾军人、退役军人、“三属”人员")
    BRAVERY_DISABLED = 5, _("见义勇为致残人员")
    ANJI_HAPPY_CARE = 6, _("“幸福养”：低保、低边家庭中度及以上失能或80岁以上老年人")
    GENERAL = 9, _("其他申请人")
