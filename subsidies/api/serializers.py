"""Input and output serializers of the subsidies API, separate per endpoint."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.masking import without_derivable_facts
from residents.id_numbers import mask_id_number
from subsidies.choices import ExportFormat, FacilitySubsidyKind, RunHealth
from subsidies.models import (
    AllowanceRun,
    CorrectionJob,
    FacilitySubsidy,
    InsuranceCover,
    Insurer,
    PayeeAccount,
    PaymentBatch,
    PaymentLine,
    StarSubsidyRate,
    masked_account,
)
from subsidies.periods import PERIOD_PATTERN, parse_period
from subsidies.selectors import (
    PayableAndHeld,
    batch_payable_and_held,
    batch_totals,
    payee_identifier,
    run_health,
)


@extend_schema_field(
    {"type": "string", "pattern": PERIOD_PATTERN, "example": "2024-05", "description": "YYYY-MM"}
)
class PeriodField(serializers.Field):
    """A month as ``YYYY-MM`` both ways (stored as its first day), within the months the
    system pays for (subsidies.periods)."""

    default_error_messages = {"invalid": gettext_lazy("月份应为 YYYY-MM 格式的文本。")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return parse_period(data, field=self.field_name)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict[self.field_name]) from None

    def to_representation(self, value) -> str:
        return f"{value:%Y-%m}"


class WorkStateSerializer(serializers.ModelSerializer):
    """What chunked work (a run, a correction job) is as it is: ``health`` read with its
    chunks' heartbeats, and its progress."""

    region_code = serializers.CharField(source="region.code", read_only=True)
    progress = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "实际状态：排队中、运行中、停滞（处理进程已退出，巡检将自动续跑）、已完成或失败；"
            "`status` 为最后记录的状态。"
        )
    )
    health_detail = serializers.SerializerMethodField(help_text=gettext_lazy("对该状态的说明。"))

    STATE_FIELDS = [
        "status",
        "health",
        "health_detail",
        "chunks_total",
        "chunks_done",
        "progress",
        "report",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def _health(self, run) -> tuple[str, str]:
        cache = self.context.setdefault("run_health", {})
        key = (type(run), run.pk)
        if key not in cache:
            cache[key] = run_health(run)
        return cache[key]

    @extend_schema_field(serializers.ChoiceField(choices=RunHealth.choices))
    def get_health(self, run) -> str:
        return self._health(run)[0]

    def get_health_detail(self, run) -> str:
        return self._health(run)[1]

    def get_progress(self, run) -> float | None:
        """Share of chunks done (0–1); None until it is planned."""
        return round(run.chunks_done / run.chunks_total, 4) if run.chunks_total else None


class RunSerializer(WorkStateSerializer):
    period = PeriodField(read_only=True)

    class Meta:
        model = AllowanceRun
        fields = [
            "id",
            "region_code",
            "period",
            "status",
            "health",
            "health_detail",
            "batch",
            "chunks_total",
            "chunks_done",
            "progress",
            "elders_seen",
            "lines_total",
            "report",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class CorrectionJobSerializer(WorkStateSerializer):
    """A rate revised backwards and its application to the months already run: the value
    (``policy_value``, and ``replaced_value`` it ended), from when, why; ``report`` says the
    months, and once done what was recomputed, cancelled, corrected and paid as arrears."""

    key = serializers.CharField(source="policy_value.key", read_only=True)

    class Meta:
        model = CorrectionJob
        fields = [
            "id",
            "region_code",
            "key",
            "policy_value",
            "replaced_value",
            "start",
            "end",
            "reason",
            "decided_on",
            *WorkStateSerializer.STATE_FIELDS,
        ]


class RunInputSerializer(serializers.Serializer):
    region = serializers.CharField(help_text=gettext_lazy("区划代码"))
    period = PeriodField()


class BatchSerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="region.code", read_only=True)
    period = PeriodField(read_only=True)

    class Meta:
        model = PaymentBatch
        fields = [
            "id",
            "region_code",
            "period",
            "kind",
            "state",
            "note",
            "approved_by",
            "approved_at",
            "exported_at",
            "reconciled_at",
            "created_at",
        ]


class BatchDetailSerializer(BatchSerializer):
    totals = serializers.SerializerMethodField()
    line_count = serializers.SerializerMethodField()
    total_amount = serializers.SerializerMethodField()
    held_count = serializers.SerializerMethodField(
        help_text=gettext_lazy("暂缓发放（领取人无账户）的明细笔数：未付款，不计入 line_count")
    )
    held_amount = serializers.SerializerMethodField(
        help_text=gettext_lazy("暂缓发放明细的金额：未付款，不计入 total_amount")
    )

    class Meta(BatchSerializer.Meta):
        fields = [
            *BatchSerializer.Meta.fields,
            "totals",
            "line_count",
            "total_amount",
            "held_count",
            "held_amount",
        ]

    def _split(self, batch) -> PayableAndHeld:
        """Payable and held as every page counts them (selectors), read once per batch."""
        cache = self.__dict__.setdefault("_splits", {})
        if batch.pk not in cache:
            cache[batch.pk] = batch_payable_and_held(batch)
        return cache[batch.pk]

    def get_totals(self, batch) -> list[dict]:
        return [{**t, "amount": str(t["amount"])} for t in batch_totals(batch)]

    def get_line_count(self, batch) -> int:
        return self._split(batch).payable.count

    def get_total_amount(self, batch) -> str:
        return str(self._split(batch).payable.amount)

    def get_held_count(self, batch) -> int:
        return self._split(batch).held.count

    def get_held_amount(self, batch) -> str:
        return str(self._split(batch).held.amount)


class ExportInputSerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=ExportFormat.choices, default=ExportFormat.CSV)


class PaymentLineSerializer(serializers.ModelSerializer):
    """A line with its "why": the rule, the rulebook value and its source, and the facts."""

    scheme = serializers.CharField(source="scheme.code", read_only=True)
    period = PeriodField(read_only=True)
    reference = serializers.CharField(read_only=True)
    payee_type = serializers.SerializerMethodField()
    payee_name = serializers.SerializerMethodField()
    payee_id_number = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()

    class Meta:
        model = PaymentLine
        fields = [
            "id",
            "reference",
            "batch",
            "scheme",
            "period",
            "payee_type",
            "payee_name",
            "payee_id_number",
            "elder",
            "caregiver",
            "facility",
            "insurer",
            "amount",
            "kind",
            "status",
            "policy_value",
            "inputs",
            "corrects",
            "note",
            "bank_reference",
            "reconciled_at",
        ]

    def get_payee_type(self, line) -> str:
        """Who is paid: for a premium, the insurer (``elder`` is then the insured)."""
        if line.insurer_id:
            return "insurer"
        return "elder" if line.elder_id else "caregiver" if line.caregiver_id else "facility"

    def get_payee_name(self, line) -> str:
        return line.payee.name

    def get_payee_id_number(self, line) -> str:
        # PIPL: people's ID numbers are masked here; a company's credit code is public.
        if line.insurer_id:
            return line.insurer.uscc
        person = line.elder or line.caregiver
        if person is not None:
            return mask_id_number(person.id_number)
        return line.facility.uscc or line.facility.code

    def get_inputs(self, line) -> dict:
        # The facts as kept, but the birth date: next to the masked ID number it would give
        # the hidden digits; the age at the period is among the facts.
        return without_derivable_facts(line.inputs)


class FacilitySubsidySerializer(serializers.ModelSerializer):
    facility_code = serializers.CharField(source="facility.code", read_only=True)
    facility_name = serializers.CharField(source="facility.name", read_only=True)
    scheme = serializers.CharField(source="scheme.code", read_only=True)

    class Meta:
        model = FacilitySubsidy
        fields = [
            "id",
            "facility",
            "facility_code",
            "facility_name",
            "kind",
            "year",
            "scheme",
            "amount",
            "requested_amount",
            "cap",
            "citation",
            "policy_value",
            "inputs",
            "line",
            "created_at",
        ]


class FacilitySubsidyInputSerializer(serializers.Serializer):
    facility = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=FacilitySubsidyKind.choices)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    assessment_passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    terminal_sets = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    premium = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )


class StarSubsidyRateSerializer(serializers.ModelSerializer):
    jurisdiction_code = serializers.CharField(source="jurisdiction.code", read_only=True)

    class Meta:
        model = StarSubsidyRate
        fields = ["id", "jurisdiction_code", "stars", "amount", "effective_from", "note"]


class StarSubsidyRateInputSerializer(serializers.Serializer):
    jurisdiction = serializers.CharField(help_text=gettext_lazy("区划代码"))
    stars = serializers.IntegerField(min_value=1, max_value=5)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    effective_from = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


# --- payee accounts and insurers -----------------------------------------------------------------


class PayeeAccountSerializer(serializers.ModelSerializer):
    """An account as everyone but the bank sees it: the number masked (its last four digits)."""

    payee_type = serializers.CharField(source="payee_kind", read_only=True)
    payee_name = serializers.CharField(source="payee.name", read_only=True)
    payee_id_number = serializers.SerializerMethodField()
    account_number = serializers.CharField(
        source="masked_number", read_only=True, help_text=gettext_lazy("已脱敏：****1234。")
    )

    class Meta:
        model = PayeeAccount
        fields = [
            "id",
            "payee_type",
            "elder",
            "caregiver",
            "facility",
            "insurer",
            "payee_name",
            "payee_id_number",
            "channel",
            "bank",
            "account_number",
            "holder_name",
            "updated_at",
        ]

    def get_payee_id_number(self, account) -> str:
        return payee_identifier(account.payee)


class PayeeAccountHistorySerializer(serializers.Serializer):
    """One version of an account, the number masked."""

    history_date = serializers.DateTimeField()
    history_type = serializers.CharField(help_text=gettext_lazy("+ 新建，~ 修改"))
    history_user = serializers.SerializerMethodField()
    channel = serializers.CharField()
    bank = serializers.CharField()
    account_number = serializers.SerializerMethodField()
    holder_name = serializers.CharField()

    def get_history_user(self, version) -> str:
        user = version.history_user
        return user.username if user is not None else ""

    def get_account_number(self, version) -> str:
        return masked_account(version.account_last4)


class PayeeAccountInputSerializer(serializers.Serializer):
    """An account for an elder or an insurer (exactly one), named like the import's columns.
    The number travels only in this body: never in a URL, never in an answer."""

    elder = serializers.IntegerField(required=False)
    insurer = serializers.IntegerField(required=False)
    account_channel = serializers.CharField(max_length=32)
    bank = serializers.CharField(max_length=100)
    account_number = serializers.CharField(max_length=64, write_only=True)
    account_holder = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate(self, data):
        if ("elder" in data) == ("insurer" in data):
            raise serializers.ValidationError(
                {"elder": gettext("请给出老年人（elder）或保险公司（insurer）之一。")}
            )
        return data


class InsurerSerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="region.code", read_only=True)

    class Meta:
        model = Insurer
        fields = ["id", "name", "uscc", "region_code", "is_active"]


class InsuranceCoverSerializer(serializers.ModelSerializer):
    """Which insurer covers a scheme's elders in a region, from when to when (read-only: the
    bureau records covers in the admin, subsidies.insurers)."""

    scheme = serializers.CharField(source="scheme.code", read_only=True)
    scheme_label = serializers.CharField(source="scheme.label", read_only=True)
    region_code = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    insurer_name = serializers.CharField(source="insurer.name", read_only=True)
    insurer_uscc = serializers.CharField(source="insurer.uscc", read_only=True)

    class Meta:
        model = InsuranceCover
        fields = [
            "id",
            "scheme",
            "scheme_label",
            "region_code",
            "region_name",
            "insurer",
            "insurer_name",
            "insurer_uscc",
            "start_date",
            "end_date",
            "policy_number",
            "note",
        ]
        read_only_fields = fields


class InsuredListInputSerializer(serializers.Serializer):
    period = serializers.RegexField(
        r"^\d{4}(-(0[1-9]|1[0-2]))?$",
        help_text=gettext_lazy("YYYY（一年）或 YYYY-MM（一个月）"),
    )
    file_format = serializers.ChoiceField(choices=ExportFormat.values, default="csv")
    region = serializers.CharField(required=False, help_text=gettext_lazy("仅限该区划的批次"))
    full_ids = serializers.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "保险公司用的完整身份证号版本：限持有该权限的财务或民政局人员，须填写 `reason`，"
            "并记入审计。"
        ),
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
