"""Allowance schemes, the monthly run, payment batches and their lines.

Payment lines and batches have audit value: they are never deleted (PROTECT everywhere) and a
batch, once approved, is never edited; corrections are new lines in an adjustment batch.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from facilities.validators import validate_uscc
from regions import conditions
from regions.catalog import validate_policy_key
from regions.models import PolicyValue, Region
from residents.models import Elder
from subsidies.choices import (
    ONE_OFF_FACILITY_SUBSIDIES,
    YEARLY_FACILITY_SUBSIDIES,
    BatchKind,
    BatchState,
    ChunkStatus,
    ExportFormat,
    FacilitySubsidyKind,
    LineKind,
    LineStatus,
    PaidTo,
    Payee,
    PaymentChannel,
    PeriodKind,
    RunStatus,
)

CENTS = Decimal("0.01")
# What a scheme's condition may read about an elder on the 1st of the month (the scheme's
# jurisdiction already says where the elder is registered).
SCHEME_CONDITION_LEAVES = (
    "age_at_least",
    "age_at_most",
    "category",
    "ability_level",
    "pension_type",
    "disability_category",
    "disability_grade",
    # docs/policy.md §1 nursing subsidy: at home, or placed in an institution by the county.
    "lives_at_home",
    "placed_by_county",
)


def money(value) -> Decimal:
    """The one rounding rule for money: yuan to two places, half up (四舍五入)."""
    return Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP)


class Scheme(models.Model):
    """One allowance a jurisdiction pays (data: subsidies/data/schemes.toml).

    The amount is never stored here: it is the rulebook value of ``policy_key`` in force for the
    elder's region of registration on the 1st of the month (docs/policy.md §0, §1).
    """

    code = models.CharField(_("代码"), max_length=64, unique=True)
    label = models.CharField(_("名称"), max_length=200)
    jurisdiction = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="schemes", verbose_name=_("适用区划")
    )
    policy_key = models.CharField(_("金额参数"), max_length=64, validators=[validate_policy_key])
    period_kind = models.CharField(_("发放周期"), max_length=16, choices=PeriodKind.choices)
    payee = models.CharField(_("发放对象"), max_length=16, choices=Payee.choices)
    condition = models.JSONField(
        _("资格条件"),
        default=dict,
        blank=True,
        help_text=_(
            '谁可享受，用条件语言写成（如 {"all": [{"age_at_least": 80}, '
            '{"age_at_most": 89}]}）；按每月1日的事实判断。仅发给老年人的项目需要。'
        ),
    )
    amount_share_key = models.CharField(
        _("金额比例参数"),
        max_length=64,
        blank=True,
        validators=[validate_policy_key],
        help_text=_("设定时，金额为“金额参数”乘以此比例（如低保边缘家庭按低保标准的比例）。"),
    )
    until_set_paid_as = models.JSONField(
        _("金额未设定时改按"),
        default=list,
        blank=True,
        help_text=_(
            "本项目在某地金额未设定时，其对象改按所列项目中第一个在该地有金额的项目发放"
            "（填项目代码，如长寿补助未定时按高龄津贴最高年龄段）。"
        ),
    )
    citation = models.CharField(_("依据"), max_length=200)
    # docs/policy.md §1: Xihu's e-allowances are credited to the 爱心卡, not paid in cash.
    channel = models.CharField(
        _("发放渠道"),
        max_length=32,
        choices=[
            ("", _("领取人登记的账户")),
            (PaymentChannel.CARE_CARD, PaymentChannel.CARE_CARD.label),
        ],
        blank=True,
        default="",
        help_text=_("留空：发到领取人登记的银行卡或社保卡；爱心卡：记入电子津贴平台，凭身份证号。"),
    )
    # docs/policy.md §1: premiums the government buys for elders are paid to the insurer.
    paid_to = models.CharField(
        _("付款对象"),
        max_length=16,
        choices=PaidTo.choices,
        blank=True,
        default=PaidTo.PAYEE,
        help_text=_(
            "留空：付给发放对象本人；承保保险公司：每位参保老年人一条明细，付给该地该期承保的"
            "保险公司（见“承保安排”），参保名单随之导出。"
        ),
    )
    is_active = models.BooleanField(_("启用"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("津贴项目")
        verbose_name_plural = _("津贴项目")
        ordering = ["jurisdiction__code", "code"]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        # docs/policy.md §1: who an elder's scheme is for, in the one condition language
        # (regions/conditions.py) that both databases' runs compile.
        if self.payee == Payee.ELDER:
            try:
                conditions.validate(self.condition, leaves=SCHEME_CONDITION_LEAVES)
            except ValidationError as error:
                raise ValidationError({"condition": error.messages}) from None
        codes = self.until_set_paid_as
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ValidationError({"until_set_paid_as": _("应为项目代码的列表。")})
        if self.paid_to == PaidTo.INSURER and (self.payee != Payee.ELDER or self.channel):
            raise ValidationError(
                {"paid_to": _("付给保险公司的项目须以老年人为发放对象，且不设发放渠道。")}
            )


class PaymentBatch(models.Model):
    """Lines paid together for one region and month: one regular batch per (region, period),
    plus adjustment batches (arrears, recoveries, re-issues), at most one of them in draft."""

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="payment_batches", verbose_name=_("区划")
    )
    period = models.DateField(_("所属月份"), help_text=_("月份的第一天。"))
    kind = models.CharField(_("批次类型"), max_length=16, choices=BatchKind.choices)
    state = models.CharField(
        _("状态"), max_length=16, choices=BatchState.choices, default=BatchState.DRAFT
    )
    note = models.TextField(_("说明"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审核人"),
    )
    approved_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    exported_at = models.DateTimeField(_("首次导出时间"), null=True, blank=True)
    reconciled_at = models.DateTimeField(_("对账时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("支付批次")
        verbose_name_plural = _("支付批次")
        ordering = ["-period", "region__code", "kind", "id"]
        permissions = [("approve_paymentbatch", _("可审核支付批次"))]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "period"],
                condition=Q(kind=BatchKind.REGULAR),
                name="payment_batch_one_regular_per_region_period",
            ),
            models.UniqueConstraint(
                fields=["region", "period"],
                condition=Q(kind=BatchKind.ADJUSTMENT, state=BatchState.DRAFT),
                name="payment_batch_one_draft_adjustment_per_region_period",
            ),
            models.CheckConstraint(
                condition=Q(state=BatchState.DRAFT)
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="payment_batch_approval_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.period:%Y-%m} {self.get_kind_display()}"

    @property
    def is_draft(self) -> bool:
        return self.state == BatchState.DRAFT


def line_reference(pk: int) -> str:
    """A payment line's reference from its id (the bank file's key; the export's COPY builds
    the same text in SQL, subsidies.exporting)."""
    return f"PL{pk:010d}"


class PaymentLine(models.Model):
    """One payment (or recovery, negative) to one person for one scheme and month, with the
    facts and the policy value that produced its amount (``inputs``: "why this amount?")."""

    # Batch, scheme and policy value are small tables that the run's statement has just read
    # its lines from: their references are checked once per statement rather than once per
    # line (no database foreign key: the checks are triggers installed by migration
    # 0006_line_references_checked_per_statement), and they have no index of their own: the
    # batch leads payment_line_batch_id_idx, the scheme the unique key.
    batch = models.ForeignKey(
        PaymentBatch,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("批次"),
        db_constraint=False,
        db_index=False,
    )
    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("津贴项目"),
        db_constraint=False,
        db_index=False,
    )
    period = models.DateField(_("所属月份"))
    # The payee: exactly one of elder, caregiver (Anji's post allowance) and facility
    # (operating subsidies, one-off grants, insurance premiums) — see the check constraint.
    # The elder's own index would repeat the lead of payment_line_elder_period_idx; caregiver
    # and facility lines are few, so their indexes (Meta) hold only the lines that have one.
    elder = models.ForeignKey(
        Elder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_lines",
        verbose_name=_("老年人"),
        db_index=False,
    )
    caregiver = models.ForeignKey(
        "facilities.Caregiver",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_lines",
        verbose_name=_("养老护理员"),
        db_index=False,
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_lines",
        verbose_name=_("机构"),
        db_index=False,
    )
    # A premium bought for the elder (Scheme.paid_to): the elder is the insured, the insurer
    # is paid (see payment_line_insurer_insures_an_elder).
    insurer = models.ForeignKey(
        "Insurer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_lines",
        verbose_name=_("承保保险公司"),
        db_index=False,
    )
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2)
    kind = models.CharField(
        _("类型"), max_length=16, choices=LineKind.choices, default=LineKind.NORMAL
    )
    status = models.CharField(
        _("发放状态"), max_length=16, choices=LineStatus.choices, default=LineStatus.PENDING
    )
    policy_value = models.ForeignKey(
        PolicyValue,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("依据参数"),
        db_constraint=False,
        db_index=False,
    )
    inputs = models.JSONField(_("计算依据"), default=dict)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("更正的原发放行"),
        help_text=_("追回或重发所针对的原发放行。"),
        db_index=False,  # corrections are few: indexed by payment_line_one_correction_per_line
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    # A database default too: the run's set-based INSERT names only the columns it computes.
    hold_reason = models.CharField(_("暂缓原因"), max_length=200, blank=True, db_default="")
    bank_reference = models.CharField(_("银行流水号"), max_length=64, blank=True)
    bank_message = models.CharField(_("银行说明"), max_length=200, blank=True)
    reconciled_at = models.DateTimeField(_("对账时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付明细")
        verbose_name_plural = _("支付明细")
        ordering = ["batch_id", "id"]
        indexes = [
            models.Index(fields=["elder", "period"], name="payment_line_elder_period_idx"),
            # A batch's lines in line order (the bank's file, the admin's list) without a sort;
            # also every lookup by batch (its totals by scheme read the batch's lines).
            models.Index(fields=["batch", "id"], name="payment_line_batch_id_idx"),
            # Sparse: only the lines that have one (a line's unused payee columns are null).
            models.Index(
                fields=["facility"],
                condition=Q(facility__isnull=False),
                name="payment_line_facility_idx",
            ),
            models.Index(
                fields=["caregiver"],
                condition=Q(caregiver__isnull=False),
                name="payment_line_caregiver_idx",
            ),
            # The insured list reads an insurer's lines by period.
            models.Index(
                fields=["insurer", "period"],
                condition=Q(insurer__isnull=False),
                name="payment_line_insurer_idx",
            ),
        ]
        constraints = [
            # One payment per (scheme, period, person): a rerun adds only what is missing
            # (INSERT … ON CONFLICT DO NOTHING) and arrears never double a normal line. Each
            # key holds only the lines of its kind of payee (a null never collides anyway).
            models.UniqueConstraint(
                fields=["scheme", "period", "elder"],
                condition=Q(kind__in=[LineKind.NORMAL, LineKind.ARREARS], elder__isnull=False),
                name="payment_line_one_payment_per_scheme_period_elder",
            ),
            models.UniqueConstraint(
                fields=["scheme", "period", "caregiver"],
                condition=Q(kind__in=[LineKind.NORMAL, LineKind.ARREARS], caregiver__isnull=False),
                name="payment_line_one_payment_per_scheme_period_caregiver",
            ),
            models.CheckConstraint(
                condition=Q(elder__isnull=False, caregiver__isnull=True, facility__isnull=True)
                | Q(elder__isnull=True, caregiver__isnull=False, facility__isnull=True)
                | Q(elder__isnull=True, caregiver__isnull=True, facility__isnull=False),
                name="payment_line_exactly_one_payee",
            ),
            # An insurer is paid for an insured elder, never in place of a caregiver or facility.
            models.CheckConstraint(
                condition=Q(insurer__isnull=True) | Q(elder__isnull=False),
                name="payment_line_insurer_insures_an_elder",
            ),
            models.UniqueConstraint(
                fields=["corrects", "kind"],
                condition=Q(kind__in=[LineKind.RECOVERY, LineKind.REISSUE]),
                name="payment_line_one_correction_per_line",
            ),
            # One difference line per original line and batch: a correction chunk written
            # twice (redelivered, resumed, or two revisions at once) finds the line it wrote
            # and never adds a second (subsidies.run.corrections).
            models.UniqueConstraint(
                fields=["corrects", "batch"],
                condition=Q(kind=LineKind.CORRECTION),
                name="payment_line_one_difference_per_line_and_batch",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[LineKind.NORMAL, LineKind.ARREARS])
                | Q(corrects__isnull=False),
                name="payment_line_correction_names_line",
            ),
            models.CheckConstraint(
                condition=(Q(kind=LineKind.RECOVERY) & Q(amount__lt=0))
                | (Q(kind=LineKind.CORRECTION) & ~Q(amount=0))
                | (~Q(kind__in=[LineKind.RECOVERY, LineKind.CORRECTION]) & Q(amount__gt=0)),
                name="payment_line_amount_sign",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scheme.code} {self.period:%Y-%m} {self.payee} {self.amount}"

    @property
    def payee(self):
        """Who is paid: the insurer of an insured elder's premium, else the line's person or
        facility."""
        return self.insurer or self.elder or self.caregiver or self.facility

    @property
    def payee_columns(self) -> dict[str, int | None]:
        """The line's payee as columns, for a line that pays the same payee again (a
        re-issue, a recovery, a correction)."""
        return {
            "elder_id": self.elder_id,
            "caregiver_id": self.caregiver_id,
            "facility_id": self.facility_id,
            "insurer_id": self.insurer_id,
        }

    @property
    def reference(self) -> str:
        """The line reference sent to the bank and expected back in its return file."""
        return line_reference(self.pk)


class ChunkedWork(models.Model):
    """Work Celery does in chunks (subsidies.run.claims): its state as last recorded, its
    progress in chunks, when it was queued, started and finished, and why it failed. The
    allowance run and the correction job are both such work; what each shows as its health is
    read with its chunks' heartbeats (subsidies.selectors.run_health)."""

    status = models.CharField(
        _("状态"), max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING
    )
    report = models.JSONField(_("运行报告"), default=dict, blank=True)
    chunk_size = models.PositiveIntegerField(_("分块大小"), default=20000)
    chunks_total = models.PositiveIntegerField(_("分块总数"), default=0)
    chunks_done = models.PositiveIntegerField(_("已完成分块"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发起人"),
    )
    created_at = models.DateTimeField(_("发起时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)
    # The Celery queue the work's tasks went to ("" = the default), so that chunks re-queued
    # by the sweep or a resume stay on a province run's dedicated queue.
    queue = models.CharField(_("队列"), max_length=200, blank=True, editable=False)
    queued_at = models.DateTimeField(_("最近入队时间"), null=True, blank=True)

    class Meta:
        abstract = True


class ClaimedChunk(models.Model):
    """The unit of work of one Celery task. A worker claims the chunk (``running``,
    ``attempts`` + 1) and beats ``heartbeat_at`` while it works; a claim whose heartbeat
    stopped belongs to a worker that died, and the sweep queues the chunk again
    (subsidies.run.claims)."""

    status = models.CharField(
        _("状态"), max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    queued_at = models.DateTimeField(_("最近入队时间"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("最近领取时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    worker = models.CharField(_("处理进程"), max_length=200, blank=True)
    error = models.TextField(_("最近错误"), blank=True)

    class Meta:
        abstract = True

    @staticmethod
    def claim_constraints(prefix: str) -> list[models.CheckConstraint]:
        """A claim always says when and by whom, so that a dead worker's can be recognised;
        a chunk done says when."""
        return [
            models.CheckConstraint(
                condition=~Q(status=ChunkStatus.RUNNING)
                | Q(claimed_at__isnull=False, heartbeat_at__isnull=False, attempts__gte=1),
                name=f"{prefix}_claim_recorded",
            ),
            models.CheckConstraint(
                condition=~Q(status=ChunkStatus.DONE) | Q(done_at__isnull=False),
                name=f"{prefix}_done_dated",
            ),
        ]


class AllowanceRun(ChunkedWork):
    """One execution of the monthly run for a region and month. Reruns are new rows: they add
    only what is missing, so a run that died halfway is completed by running again."""

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="allowance_runs", verbose_name=_("区划")
    )
    period = models.DateField(_("所属月份"))
    batch = models.ForeignKey(
        PaymentBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
        verbose_name=_("常规批次"),
    )
    plan = models.JSONField(_("计算方案"), default=dict, blank=True, editable=False)
    elders_seen = models.PositiveIntegerField(_("已处理老年人"), default=0)
    lines_total = models.PositiveIntegerField(_("批次明细数"), default=0)

    class Meta:
        verbose_name = _("津贴发放运行")
        verbose_name_plural = _("津贴发放运行")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunks_done__lte=models.F("chunks_total")),
                name="allowance_run_progress_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.period:%Y-%m} #{self.pk}"


class AllowanceRunChunk(ClaimedChunk):
    """An elder-id range of a run."""

    run = models.ForeignKey(
        AllowanceRun, on_delete=models.PROTECT, related_name="chunks", verbose_name=_("运行")
    )
    id_from = models.BigIntegerField(_("起始ID（含）"))
    id_to = models.BigIntegerField(_("结束ID（含）"))
    elders_seen = models.PositiveIntegerField(_("处理人数"), default=0)

    class Meta:
        verbose_name = _("运行分块")
        verbose_name_plural = _("运行分块")
        ordering = ["run_id", "id_from"]
        constraints = [
            models.UniqueConstraint(fields=["run", "id_from"], name="run_chunk_unique_start"),
            models.CheckConstraint(
                condition=Q(id_to__gte=models.F("id_from")), name="run_chunk_range_ordered"
            ),
            *ClaimedChunk.claim_constraints("run_chunk"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.id_from}–{self.id_to}"

    @property
    def label(self) -> str:
        """The chunk as the messages name it."""
        return f"{self.id_from}–{self.id_to}"


class CorrectionJob(ChunkedWork):
    """A rulebook value revised from a date in the past, applied to the months already run
    (subsidies.run.corrections): created with the revision, worked by Celery once it commits,
    in chunks of (month, payees) that each write their lines with their "done" mark in one
    transaction; heartbeat, sweep and resume as for the allowance run."""

    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="correction_jobs", verbose_name=_("区划")
    )
    policy_value = models.ForeignKey(
        PolicyValue,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("调整后的参数"),
    )
    replaced_value = models.ForeignKey(
        PolicyValue,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("被替代的参数版本"),
        help_text=_("新版本自某日起替代的原版本；就地更正时为空。"),
    )
    start = models.DateField(_("追溯起始日"))
    end = models.DateField(_("追溯截止日"), null=True, blank=True)
    reason = models.TextField(_("调整原因"))
    decided_on = models.DateField(_("调整日期"), help_text=_("差额明细记入该月的调整批次。"))

    class Meta:
        verbose_name = _("追溯调整任务")
        verbose_name_plural = _("追溯调整任务")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunks_done__lte=models.F("chunks_total")),
                name="correction_job_progress_bounded",
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                name="correction_job_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.start:%Y-%m-%d} #{self.pk}"

    @property
    def row_ids(self) -> set[int]:
        """The rulebook rows whose lines the job recomputes: the new one and the one it ended."""
        return {pk for pk in (self.replaced_value_id, self.policy_value_id) if pk is not None}


class CorrectionChunk(ClaimedChunk):
    """A month of a correction job, for one kind of payee and an id range of them."""

    job = models.ForeignKey(
        CorrectionJob, on_delete=models.PROTECT, related_name="chunks", verbose_name=_("任务")
    )
    period = models.DateField(_("所属月份"))
    payee = models.CharField(_("发放对象"), max_length=16, choices=Payee.choices)
    id_from = models.BigIntegerField(_("起始ID（含）"))
    id_to = models.BigIntegerField(_("结束ID（含）"))
    counts = models.JSONField(_("处理结果"), default=dict, blank=True)

    class Meta:
        verbose_name = _("追溯调整分块")
        verbose_name_plural = _("追溯调整分块")
        ordering = ["job_id", "period", "payee", "id_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "period", "payee", "id_from"], name="correction_chunk_unique"
            ),
            models.CheckConstraint(
                condition=Q(id_to__gte=models.F("id_from")),
                name="correction_chunk_range_ordered",
            ),
            *ClaimedChunk.claim_constraints("correction_chunk"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.label}"

    @property
    def label(self) -> str:
        """The chunk as the messages name it."""
        return f"{self.period:%Y-%m} {self.get_payee_display()} {self.id_from}–{self.id_to}"


class BatchExport(models.Model):
    """Each export of a batch: who, when, which format, and the file's checksum."""

    batch = models.ForeignKey(
        PaymentBatch, on_delete=models.PROTECT, related_name="exports", verbose_name=_("批次")
    )
    format = models.CharField(_("格式"), max_length=8, choices=ExportFormat.choices)
    # The one channel the file was limited to (empty: every channel). With the accounts'
    # history it says which lines the file carried (subsidies.selectors.exported_before_q).
    channel = models.CharField(
        _("发放渠道"), max_length=32, choices=PaymentChannel.choices, blank=True, default=""
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    line_count = models.PositiveIntegerField(_("明细数"))
    total_amount = models.DecimalField(_("总金额（元）"), max_digits=16, decimal_places=2)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("导出人"),
    )
    exported_at = models.DateTimeField(_("导出时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("批次导出记录")
        verbose_name_plural = _("批次导出记录")
        ordering = ["-exported_at"]

    def __str__(self) -> str:
        return f"{self.batch} {self.format} {self.sha256[:12]}"


class BankReturnImport(models.Model):
    """One bank return file applied to a batch (reconciliation)."""

    batch = models.ForeignKey(
        PaymentBatch, on_delete=models.PROTECT, related_name="bank_returns", verbose_name=_("批次")
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    paid_count = models.PositiveIntegerField(_("到账笔数"))
    failed_count = models.PositiveIntegerField(_("失败笔数"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("导入人"),
    )
    imported_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("银行回盘导入")
        verbose_name_plural = _("银行回盘导入")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.batch} {self.file_name}"


class StarSubsidyRate(models.Model):
    """A jurisdiction's operating-subsidy table: the yearly amount for a facility of a star
    level that passed its annual assessment. The seeds give only the cap (docs/policy.md §2 — 001
    西政办〔2023〕46号 §10: 按星级评定和年度考核结果给予最高30万元), so the bureau enters the
    table; an amount above the rulebook cap is refused (subsidies.grants.set_star_subsidy_rate).
    """

    jurisdiction = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="star_subsidy_rates", verbose_name=_("区划")
    )
    stars = models.PositiveSmallIntegerField(_("星级"))
    amount = models.DecimalField(_("年运营补助（元）"), max_digits=12, decimal_places=2)
    effective_from = models.DateField(_("生效日期"))
    note = models.CharField(_("说明"), max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("星级运营补助标准")
        verbose_name_plural = _("星级运营补助标准")
        ordering = ["jurisdiction__code", "stars", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "stars", "effective_from"],
                name="star_subsidy_rate_one_per_day",
            ),
            models.CheckConstraint(
                condition=Q(stars__gte=1) & Q(stars__lte=5), name="star_subsidy_rate_stars_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="star_subsidy_rate_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(jurisdiction)s %(stars)s星 %(amount)s") % {
            "jurisdiction": self.jurisdiction.name,
            "stars": self.stars,
            "amount": self.amount,
        }


class FacilitySubsidy(models.Model):
    """One subsidy granted to a facility (docs/policy.md §2): a yearly operating subsidy, a one-off
    grant or an insurance premium subsidy, with the cap and the facts that bound it, and the
    payment line that pays it (in the draft batch of the facility's county)."""

    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        related_name="subsidies",
        verbose_name=_("机构"),
    )
    kind = models.CharField(_("补助类型"), max_length=32, choices=FacilitySubsidyKind.choices)
    year = models.PositiveSmallIntegerField(_("年度"))
    scheme = models.ForeignKey(
        Scheme, on_delete=models.PROTECT, related_name="facility_subsidies", verbose_name=_("项目")
    )
    amount = models.DecimalField(_("核定金额（元）"), max_digits=12, decimal_places=2)
    requested_amount = models.DecimalField(
        _("申请金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    cap = models.DecimalField(
        _("上限（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    citation = models.CharField(_("依据"), max_length=300)
    policy_value = models.ForeignKey(
        PolicyValue,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("依据参数"),
    )
    inputs = models.JSONField(_("计算依据"), default=dict)
    line = models.OneToOneField(
        PaymentLine,
        on_delete=models.PROTECT,
        related_name="facility_subsidy",
        verbose_name=_("支付明细"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("经办人"),
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("机构补助")
        verbose_name_plural = _("机构补助")
        ordering = ["-year", "facility_id", "kind"]
        constraints = [
            # Yearly subsidies once per facility and year; one-off grants once per facility.
            models.UniqueConstraint(
                fields=["facility", "kind", "year"],
                condition=Q(kind__in=YEARLY_FACILITY_SUBSIDIES),
                name="facility_subsidy_once_a_year",
            ),
            models.UniqueConstraint(
                fields=["facility", "kind"],
                condition=Q(kind__in=ONE_OFF_FACILITY_SUBSIDIES),
                name="facility_subsidy_one_off_once",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="facility_subsidy_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(amount__lte=models.F("cap")),
                name="facility_subsidy_within_cap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility.name} {self.year} {self.get_kind_display()} {self.amount}"


def masked_account(last4: str) -> str:
    """An account number as everyone but the bank sees it: its last four digits (an account
    and each of its past versions alike)."""
    return f"****{last4}" if last4 else ""


class PayeeAccount(models.Model):
    """Where a payee's cash goes: their bank card or social-security card's financial account.

    One account per payee (an elder, a caregiver or a facility). The number is stored encrypted
    (subsidies.account_crypto) and shown masked (its last four digits) everywhere but the bank
    file and the audited detail view; every change is kept in the history."""

    elder = models.OneToOneField(
        Elder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payee_account",
        verbose_name=_("老年人"),
    )
    caregiver = models.OneToOneField(
        "facilities.Caregiver",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payee_account",
        verbose_name=_("养老护理员"),
    )
    facility = models.OneToOneField(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payee_account",
        verbose_name=_("机构"),
    )
    insurer = models.OneToOneField(
        "Insurer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payee_account",
        verbose_name=_("保险公司"),
    )
    channel = models.CharField(_("账户类型"), max_length=32, choices=PaymentChannel.choices)
    bank = models.CharField(_("开户银行"), max_length=100)
    account_number_encrypted = models.BinaryField(_("账号（加密）"), editable=False)
    account_last4 = models.CharField(_("账号末四位"), max_length=4, editable=False)
    holder_name = models.CharField(_("户名"), max_length=100)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("经办人"),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("领取账户")
        verbose_name_plural = _("领取账户")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    elder__isnull=False,
                    caregiver__isnull=True,
                    facility__isnull=True,
                    insurer__isnull=True,
                )
                | Q(
                    elder__isnull=True,
                    caregiver__isnull=False,
                    facility__isnull=True,
                    insurer__isnull=True,
                )
                | Q(
                    elder__isnull=True,
                    caregiver__isnull=True,
                    facility__isnull=False,
                    insurer__isnull=True,
                )
                | Q(
                    elder__isnull=True,
                    caregiver__isnull=True,
                    facility__isnull=True,
                    insurer__isnull=False,
                ),
                name="payee_account_exactly_one_payee",
            ),
            # People and facilities are paid to a card; an insurer to its corporate account.
            models.CheckConstraint(
                condition=Q(
                    channel__in=[PaymentChannel.BANK_CARD, PaymentChannel.SOCIAL_SECURITY_CARD],
                    insurer__isnull=True,
                )
                | Q(channel=PaymentChannel.CORPORATE_ACCOUNT, insurer__isnull=False),
                name="payee_account_channel_holds_an_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.masked_number}"

    PAYEE_FIELDS = ("elder", "caregiver", "facility", "insurer")

    @property
    def payee(self):
        return getattr(self, self.payee_kind)

    @property
    def payee_kind(self) -> str:
        return next((kind for kind in self.PAYEE_FIELDS if getattr(self, f"{kind}_id")), "facility")

    @property
    def payee_pk(self) -> int:
        return getattr(self, f"{self.payee_kind}_id")

    @property
    def masked_number(self) -> str:
        return masked_account(self.account_last4)


class Insurer(models.Model):
    """An insurance company the government pays premiums to for the elders it insures
    (docs/policy.md §1, accident insurance). Its account (对公账户) is a PayeeAccount, encrypted
    and masked like every payee's; covers (InsuranceCover) say where and when it insures."""

    name = models.CharField(_("名称"), max_length=200)
    uscc = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        unique=True,
        validators=[validate_uscc],
        help_text=_("GB 32100-2015，18位，含校验码。"),
    )
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="insurers",
        verbose_name=_("登记区划"),
        help_text=_("登记该保险公司的部门所在区划，由该地民政或财政部门维护。"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("保险公司")
        verbose_name_plural = _("保险公司")
        ordering = ["name"]
        permissions = [
            (
                "export_full_insured_list",
                _("可导出含完整身份证号的参保名单（供保险公司投保）"),
            )
        ]

    def __str__(self) -> str:
        return self.name


class InsuranceCover(models.Model):
    """Which insurer covers a scheme's elders in a region, from when to when (the contract
    the bureau signed): the run pays each insured elder's premium to it. The cover of the
    nearest region at or above the elder's registration, in force on the 1st of the month,
    applies (subsidies.insurers). Covers of one scheme and region never overlap: the service
    checks it, and on PostgreSQL an exclusion constraint (migration) makes it true."""

    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.PROTECT,
        related_name="insurance_covers",
        limit_choices_to={"paid_to": PaidTo.INSURER},
        verbose_name=_("津贴项目"),
    )
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="insurance_covers",
        verbose_name=_("承保区划"),
    )
    insurer = models.ForeignKey(
        Insurer, on_delete=models.PROTECT, related_name="covers", verbose_name=_("保险公司")
    )
    start_date = models.DateField(_("起保日期"))
    end_date = models.DateField(
        _("终止日期"), null=True, blank=True, help_text=_("含当日；留空为长期。")
    )
    policy_number = models.CharField(_("保单号"), max_length=64, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("承保安排")
        verbose_name_plural = _("承保安排")
        ordering = ["region__code", "scheme__code", "-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "region", "start_date"], name="insurance_cover_one_per_start"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="insurance_cover_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.scheme.label}：{self.insurer.name}"
