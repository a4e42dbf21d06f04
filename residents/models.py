import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from regions.models import Region
from residents.assessment_rules import ITEMS, MAX_TOTAL
from residents.choices import (
    AbilityLevel,
    AssessmentStandard,
    Category,
    DisabilityCategory,
    DisabilityGrade,
    ImportJobState,
    PensionType,
    Sex,
)
from residents.id_numbers import validate_id_number
from residents.validators import validate_phone

# Elder codes are opaque: random, never derived from the ID number, and free of characters
# that are confused on printed labels (0/O, 1/I/L).
ELDER_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_elder_code() -> str:
    return "E" + "".join(secrets.choice(ELDER_CODE_ALPHABET) for _ in range(11))


class Elder(models.Model):
    """An elder of the registry. Sex and birth date are derived from the ID number."""

    id_number = models.CharField(
        _("身份证号"), max_length=18, unique=True, validators=[validate_id_number]
    )
    name = models.CharField(_("姓名"), max_length=50, db_index=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False, db_index=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True, validators=[validate_phone])
    hukou_region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="registered_elders",
        verbose_name=_("户籍地"),
        help_text=_("户籍所在地，决定津贴发放。"),
    )
    residence_region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="resident_elders",
        null=True,
        blank=True,
        verbose_name=_("常住地"),
        help_text=_("常住地（街道、社区或网格），决定探访。"),
    )
    pension_type = models.CharField(
        _("养老保险类型"), max_length=16, choices=PensionType.choices, default=PensionType.NONE
    )
    # The disability certificate (残疾人证), if any: both or neither (docs/policy.md §1).
    disability_category = models.CharField(
        _("残疾类别"), max_length=16, choices=DisabilityCategory.choices, blank=True
    )
    disability_grade = models.PositiveSmallIntegerField(
        _("残疾等级"), choices=DisabilityGrade.choices, null=True, blank=True
    )
    death_date = models.DateField(_("死亡日期"), null=True, blank=True, db_index=True)
    elder_code = models.CharField(
        _("长者码"), max_length=12, unique=True, default=new_elder_code, editable=False
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("老年人")
        verbose_name_plural = _("老年人")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["hukou_region", "birth_date"], name="elder_hukou_birth_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sex__in=[Sex.MALE, Sex.FEMALE]), name="elder_sex_valid"
            ),
            models.CheckConstraint(
                condition=Q(disability_category="")
                | Q(disability_category__in=DisabilityCategory.values),
                name="elder_disability_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(disability_grade__isnull=True)
                | Q(disability_grade__gte=1, disability_grade__lte=4),
                name="elder_disability_grade_1_to_4",
            ),
            models.CheckConstraint(
                condition=Q(disability_category="", disability_grade__isnull=True)
                | (~Q(disability_category="") & Q(disability_grade__isnull=False)),
                name="elder_disability_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.elder_code}）"

    @property
    def is_alive(self) -> bool:
        return self.death_date is None

    def clean(self) -> None:
        super().clean()
        if bool(self.disability_category) != (self.disability_grade is not None):
            missing = "disability_grade" if self.disability_category else "disability_category"
            raise ValidationError({missing: _("残疾类别和残疾等级须同时填写或同时留空。")})


class ElderCategory(models.Model):
    """One category held by an elder over a period (end null = still held)."""

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="categories", verbose_name=_("老年人")
    )
    category = models.CharField(_("类别"), max_length=32, choices=Category.choices)
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("终止日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("老年人类别")
        verbose_name_plural = _("老年人类别")
        ordering = ["elder_id", "category", "start_date"]
        indexes = [models.Index(fields=["category", "start_date"], name="category_start_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="elder_category_period_ordered",
            ),
            models.UniqueConstraint(
                fields=["elder", "category"],
                condition=Q(end_date__isnull=True),
                name="elder_category_one_open_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.start_date}–{self.end_date or ''}"


def _item_score(label: str, max_score: int) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        format_lazy("{}（0–{}）", label, max_score),
        null=True,
        blank=True,
        validators=[MaxValueValidator(max_score)],
    )


def _item_constraints() -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{item.field}__isnull": True})
            | Q(**{f"{item.field}__lte": item.max_score}),
            name=f"assessment_{item.field}_in_range",
        )
        for item in ITEMS
    ]


class AbilityAssessment(models.Model):
    """One ability assessment of an elder (老年人能力综合评估).

    Under GB/T 42195-2022 all 26 item scores are stored with their total, the level the total
    gives (``computed_level``) and the level after the standard's adjustments or the assessor's
    change (``final_level``), whose reason is then required. Records kept under the older
    MZ/T 039-2013 keep their standard and its four levels; their item scores are not the 2022
    items, so they are kept as recorded in ``legacy_scores``.
    """

    elder = models.ForeignKey(
        Elder, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("老年人")
    )
    standard = models.CharField(
        _("评估标准及版本"),
        max_length=20,
        choices=AssessmentStandard.choices,
        default=AssessmentStandard.GB_T_42195_2022,
    )
    assessed_on = models.DateField(_("评估日期"), db_index=True)
    assessor = models.CharField(_("评估员"), max_length=100)
    assessment_agency = models.CharField(_("评估机构"), max_length=200, blank=True)

    # GB/T 42195-2022 附录B (see residents/assessment_rules.py for the list and maxima).
    eating = _item_score(_("进食"), 4)
    grooming = _item_score(_("修饰"), 4)
    bathing = _item_score(_("洗澡"), 4)
    dressing_upper = _item_score(_("穿/脱上衣"), 4)
    dressing_lower = _item_score(_("穿/脱裤子和鞋袜"), 4)
    urination_control = _item_score(_("小便控制"), 4)
    defecation_control = _item_score(_("大便控制"), 4)
    toileting = _item_score(_("如厕"), 4)
    bed_position_transfer = _item_score(_("床上体位转移"), 4)
    bed_chair_transfer = _item_score(_("床椅转移"), 4)
    level_walking = _item_score(_("平地行走"), 4)
    stairs = _item_score(_("上下楼梯"), 3)
    time_orientation = _item_score(_("时间定向"), 4)
    space_orientation = _item_score(_("空间定向"), 4)
    person_orientation = _item_score(_("人物定向"), 4)
    memory = _item_score(_("记忆"), 4)
    comprehension = _item_score(_("理解能力"), 4)
    expression = _item_score(_("表达能力"), 4)
    aggressive_behaviour = _item_score(_("攻击行为"), 1)
    depressive_symptoms = _item_score(_("抑郁症状"), 1)
    consciousness = _item_score(_("意识水平"), 2)
    vision = _item_score(_("视力"), 2)
    hearing = _item_score(_("听力"), 2)
    daily_affairs = _item_score(_("执行日常事务"), 4)
    transport_outing = _item_score(_("使用交通工具外出"), 3)
    social_interaction = _item_score(_("社会交往能力"), 4)

    self_care_score = models.PositiveSmallIntegerField(_("自理能力得分"), null=True, blank=True)
    mobility_score = models.PositiveSmallIntegerField(_("基础运动能力得分"), null=True, blank=True)
    mental_state_score = models.PositiveSmallIntegerField(_("精神状态得分"), null=True, blank=True)
    perception_social_score = models.PositiveSmallIntegerField(
        _("感知觉与社会参与得分"), null=True, blank=True
    )
    total_score = models.PositiveSmallIntegerField(_("总分"), null=True, blank=True)

    in_coma = models.BooleanField(_("处于昏迷状态"), default=False)
    has_dementia_or_psychiatric_diagnosis = models.BooleanField(
        _("确诊认知障碍/痴呆或其他精神疾病"), default=False
    )
    care_risk_events_30_days = models.PositiveSmallIntegerField(
        _("近30天照护风险事件次数"),
        default=0,
        help_text=_("跌倒、噎食、自杀、走失等。"),
    )

    computed_level = models.CharField(
        _("初步等级（按总分）"), max_length=16, choices=AbilityLevel.choices
    )
    final_level = models.CharField(_("能力等级"), max_length=16, choices=AbilityLevel.choices)
    change_reason = models.CharField(_("等级变更依据"), max_length=500, blank=True)
    legacy_scores = models.JSONField(_("原标准评分"), default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("能力评估")
        verbose_name_plural = _("能力评估")
        ordering = ["elder_id", "-assessed_on", "-id"]
        indexes = [
            models.Index(fields=["elder", "assessed_on"], name="assessment_elder_date_idx"),
        ]
        constraints = [
            *_item_constraints(),
            models.CheckConstraint(
                condition=Q(total_score__isnull=True) | Q(total_score__lte=MAX_TOTAL),
                name="assessment_total_in_range",
            ),
            # The 2022 standard's records carry every item and the total.
            models.CheckConstraint(
                condition=~Q(standard=AssessmentStandard.GB_T_42195_2022)
                | Q(
                    total_score__isnull=False, **{f"{item.field}__isnull": False for item in ITEMS}
                ),
                name="assessment_gbt_items_complete",
            ),
            # MZ/T 039-2013 has four levels: no 完全失能.
            models.CheckConstraint(
                condition=~Q(standard=AssessmentStandard.MZ_T_039_2013)
                | ~Q(final_level=AbilityLevel.TOTAL),
                name="assessment_mzt_four_levels",
            ),
            models.CheckConstraint(
                condition=Q(final_level=models.F("computed_level")) | ~Q(change_reason=""),
                name="assessment_level_change_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.elder_id} {self.assessed_on} {self.get_final_level_display()}"


class ImportJob(models.Model):
    """An elder roll uploaded in the admin, checked and then written by Celery tasks so that a
    large file never holds a web worker (residents/import_jobs.py). The file itself is a
    HeldUpload (private, expiring); the job keeps the counts, the progress and, until the file
    expires, the rejected rows."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("导入人"),
    )
    upload = models.ForeignKey(
        "accounts.HeldUpload",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("上传文件"),
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    state = models.CharField(
        _("状态"), max_length=16, choices=ImportJobState.choices, default=ImportJobState.QUEUED
    )
    rows_total = models.PositiveIntegerField(_("数据行数"), default=0)
    progress_done = models.PositiveIntegerField(_("已处理"), default=0)
    progress_total = models.PositiveIntegerField(_("待处理"), default=0)
    preview = models.JSONField(_("检查结果"), default=dict, blank=True)
    result = models.JSONField(_("导入结果"), default=dict, blank=True)
    errors = models.JSONField(_("被拒绝的行"), default=list, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("名册导入")
        verbose_name_plural = _("名册导入")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")),
                name="import_job_progress_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} · {self.get_state_display()}"
