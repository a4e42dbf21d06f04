import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from regions.models import Region
from residents.choices import Category, PensionType, Sex
from residents.id_numbers import validate_id_number

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
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
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
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.elder_code}）"

    @property
    def is_alive(self) -> bool:
        return self.death_date is None


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
