from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from regions import conditions
from regions.catalog import get_key, validate_policy_key
from regions.choices import Frequency, PolicyUnit, RegionLevel, RuleSubject
from regions.subjects import validate_rule


class RegionQuerySet(models.QuerySet):
    def within(self, region: "Region") -> "RegionQuerySet":
        """The region itself and everything below it."""
        return self.filter(path__startswith=region.path)


class Region(models.Model):
    """One node of the administrative tree: province → city → county → street → community → grid.

    Codes are GB/T 2260 for the top three levels; streets, communities and grids carry the
    statistical division codes (or locally assigned grid codes). Abolished divisions stay as
    inactive rows because elders' ID numbers and old records still carry their codes.
    """

    code = models.CharField(_("区划代码"), max_length=15, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("上级区划"),
    )
    # Materialised path of codes ("330000/330100/330106/"): descendant queries are a prefix
    # match on one indexed column, which stays fast for set-based runs over a province.
    path = models.CharField(_("路径"), max_length=120, db_index=True, editable=False)
    is_active = models.BooleanField(_("现行"), default=True)
    valid_from_year = models.PositiveSmallIntegerField(_("设立年份"), null=True, blank=True)
    valid_to_year = models.PositiveSmallIntegerField(_("撤销年份"), null=True, blank=True)
    source = models.CharField(_("数据来源"), max_length=200, blank=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=False) | Q(level=RegionLevel.PROVINCE),
                name="region_parent_required_below_province",
            ),
        ]

    def __str__(self) -> str:
        suffix = "" if self.is_active else _("（已撤销）")
        return f"{self.name}{suffix} {self.code}"

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path if self.parent_id else ''}{self.code}/"
        super().save(*args, **kwargs)

    def ancestors_and_self(self) -> list["Region"]:
        """Nearest first: [self, parent, grandparent, …]."""
        codes = [c for c in self.path.split("/") if c]
        by_code = {r.code: r for r in Region.objects.filter(code__in=codes)}
        return [by_code[c] for c in reversed(codes)]


class PolicyValue(models.Model):
    """One rulebook value: key K for region R from a date, with its source.

    ``value`` null means "not set": the seeds name the item but give no amount, so whatever
    needs it must stop and say so. Frequencies are stored in ``frequency``.
    """

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="policy_values", verbose_name=_("区划")
    )
    key = models.CharField(
        _("参数"), max_length=64, validators=[validate_policy_key], db_index=True
    )
    value = models.DecimalField(
        _("数值"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("留空表示“未设定”：政策文件未给出数额，需由管理员填写。"),
        validators=[MinValueValidator(0, message=_("数值不能为负数。"))],
    )
    frequency = models.CharField(
        _("频次"),
        max_length=16,
        choices=Frequency.choices,
        blank=True,
    )
    unit = models.CharField(_("单位"), max_length=32, choices=PolicyUnit.choices)
    is_minimum = models.BooleanField(
        _("为下限（不低于）"),
        default=False,
        help_text=_("文件表述为“不低于/不少于”时勾选：该值是下级的底线，本级也按此执行。"),
    )
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)
    citation = models.CharField(_("依据"), max_length=200)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("政策参数")
        verbose_name_plural = _("政策参数")
        ordering = ["key", "region__code", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "key", "effective_from"],
                name="policy_value_unique_start",
                violation_error_message=_("该区划的这一参数在同一生效日期已有一个版本。"),
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="policy_value_period_ordered",
                violation_error_code="period_ordered",
                violation_error_message=_("失效日期不能早于生效日期。"),
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=0),
                name="policy_value_not_negative",
                violation_error_code="negative",
                violation_error_message=_("数值不能为负数。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} · {self.key_label} = {self.display_value}"

    @property
    def key_label(self) -> str:
        return get_key(self.key).label

    @property
    def key_label_en(self) -> str:
        return get_key(self.key).label_en

    @property
    def is_set(self) -> bool:
        return self.value is not None or bool(self.frequency)

    @property
    def display_value(self) -> str:
        if self.frequency:
            return self.get_frequency_display()
        if self.value is None:
            return str(_("未设定"))
        if self.unit == PolicyUnit.SHARE:
            # Shares are stored as fractions (exact arithmetic) and read as percentages.
            return f"{(self.value * 100).normalize():f}%"
        return f"{self.value.normalize():f} {self.get_unit_display()}"


class EligibilityRule(models.Model):
    """One rule of "who it is for": for a subject (a visit list, waiting-list precedence, a
    staffing class…), the rule ``code`` of ``region`` from a date, with its condition over the
    registry (regions/conditions.py) and its source.

    Inheritance (docs/policy.md §0): a region's rules of a subject on a day are those of the
    nearest region upwards that has a rule *of that code* in force — a lower level adds a rule
    under a new code and replaces its parent's rule by stating one under the same code. A lower
    level never drops a rule of the level above (the lists may add, never fall below). Versions:
    a change starts a new row from a date; the previous one ends the day before.
    """

    subject = models.CharField(_("规则类别"), max_length=32, choices=RuleSubject.choices)
    code = models.CharField(_("代码"), max_length=64)
    label = models.CharField(_("名称"), max_length=200)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="eligibility_rules", verbose_name=_("区划")
    )
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)
    condition = models.JSONField(
        _("适用条件"), help_text=_('条件语言见 regions/conditions.py，如 {"category": ["低保"]}。')
    )
    rank = models.PositiveSmallIntegerField(
        _("顺位"), null=True, blank=True, help_text=_("按顺位取第一条满足的规则（小者在前）。")
    )
    params = models.JSONField(_("参数"), default=dict, blank=True)
    citation = models.CharField(_("依据"), max_length=200)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("适用对象规则")
        verbose_name_plural = _("适用对象规则")
        ordering = ["subject", "region__code", "rank", "code", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "region", "code", "effective_from"],
                name="eligibility_rule_unique_start",
                violation_error_message=_("该区划的这条规则在同一生效日期已有一个版本。"),
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="eligibility_rule_period_ordered",
                violation_error_code="period_ordered",
                violation_error_message=_("失效日期不能早于生效日期。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} · {self.region.name} · {self.label}"

    def clean(self):
        validate_rule(
            subject=self.subject,
            code=self.code,
            condition=self.condition,
            params=self.params,
            rank=self.rank,
        )
        codes = conditions.codes_of(self.condition, "registered_in") | conditions.codes_of(
            self.condition, "resides_in"
        )
        missing = codes - set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
        if missing:
            raise ValidationError(
                {
                    "condition": _("条件中的区划 %(codes)s 不存在。")
                    % {"codes": "、".join(sorted(missing))}
                }
            )

    def describe(self, **kwargs) -> str:
        return conditions.describe(self.condition, **kwargs)
