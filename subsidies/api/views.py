"""Subsidies API. Thin: parse, scope, call a service or selector, render. Every queryset goes
through ScopedQuerysetMixin (finance and bureau see their region's runs, batches and lines)."""

import shutil
import tempfile
from pathlib import Path

import django_filters
from django.db.models import Q
from django.http import FileResponse
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from accounts.permissions import ScopedQuerysetMixin
from accounts.scoping import OutOfScope, OutOfScopeWrite, require_region_in_scope
from facilities.models import Facility
from regions.models import Region
from residents.models import Elder
from subsidies import batches, exports, grants, insured_lists, payees
from subsidies.api import serializers as s
from subsidies.choices import ExportFormat
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
)
from subsidies.permissions import (
    STAR_RATES_ARE_THE_BUREAUS,
    can_approve,
    can_set_star_rates,
    is_finance,
)
from subsidies.run import planning
from subsidies.selectors import runs_with_health

APP = "subsidies"


def _region_in_scope(user, code: str, field: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError({field: gettext("没有代码为 %(code)s 的区划。") % {"code": code}})
    try:
        require_region_in_scope(user, region, APP)
    except OutOfScope:
        raise ValidationError(
            {field: gettext("区划 %(code)s 不在您的权限范围内。") % {"code": code}}
        ) from None
    return region


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区的津贴发放运行，最新的在前，含进度、运行状况和报告；可按状态和月份筛选。"
            "民政、财务和审计人员可查看。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一次津贴发放运行的进度、运行状况和报告；不在您辖区内的返回 404。")
    ),
)
class RunViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Allowance runs with their progress and report; POST queues a run on Celery."""

    queryset = AllowanceRun.objects.select_related("region").order_by("-created_at")
    serializer_class = s.RunSerializer
    filterset_fields = ["status", "period"]

    def get_queryset(self):
        # The chunks' heartbeats read once for the page, not per run (subsidies.selectors).
        return runs_with_health(super().get_queryset())

    @extend_schema(
        description=gettext_lazy(
            "为某区划某月（YYYY-MM）发起津贴发放运行：在后台队列中执行，立即返回 202 和该运行，"
            "进度可随后查询。区划须在您（民政或财务人员）的辖区内，否则返回 400；"
            "只读角色（审计人员）不能发起。"
        ),
        request=s.RunInputSerializer,
        responses={202: s.RunSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = s.RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        region = _region_in_scope(request.user, data.validated_data["region"], "region")
        run = planning.request_allowance_run(
            region=region,
            period=data.validated_data["period"],
            by=request.user,
        )
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "追溯调整任务（只读）：标准向前追溯修订后，在后台对已发放月份重新计算的任务，"
            "含进度、运行状况和报告；民政、财务和审计人员查看本辖区的任务，可按状态筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一项追溯调整任务的详情：修订的标准、起止月份、事由、进度和报告；"
            "不在您辖区内的返回 404。"
        )
    ),
)
class CorrectionJobViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Rates revised backwards, each applied to the months already run by a job on Celery,
    with its progress and its health; a bureau or finance sees its region's."""

    queryset = CorrectionJob.objects.select_related("region", "policy_value").order_by(
        "-created_at"
    )
    serializer_class = s.CorrectionJobSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        return runs_with_health(super().get_queryset())


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区的支付批次，按月份从新到旧；可按类型、状态（草稿、已审核、已导出、已对账）"
            "和月份筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一个支付批次的详情：按津贴项目的合计、可支付的笔数和金额，以及因领取人无账户而"
            "暂缓发放的笔数和金额；不在您辖区内的返回 404。"
        )
    ),
)
class BatchViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Payment batches with totals per scheme; finance approves; exports are recorded."""

    queryset = PaymentBatch.objects.select_related("region").order_by("-period", "id")
    serializer_class = s.BatchSerializer
    filterset_fields = ["kind", "state", "period"]

    def get_serializer_class(self):
        return s.BatchDetailSerializer if self.action != "list" else s.BatchSerializer

    @extend_schema(
        description=gettext_lazy(
            "具有审核权限的财务人员审核一个草稿批次：此后明细不再修改，领取人尚无账户的明细"
            "暂缓发放，审核记入审计日志。非财务人员返回 403；批次不是草稿、其发放运行未完成或"
            "最近一次失败、或仍有未完成的追溯调整任务时返回 400。"
        ),
        request=None,
        responses=s.BatchDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        batch = self.get_object()
        if not can_approve(request.user):
            raise PermissionDenied(gettext("只有财务人员可以审核支付批次。"))
        batch = batches.approve_batch(batch=batch, by=request.user)
        return Response(s.BatchDetailSerializer(batch).data)

    @extend_schema(
        description=gettext_lazy(
            "财务人员导出已审核（含已导出、已对账）批次的支付文件（CSV 或 XLSX），响应头 X-Checksum-SHA256 为文件的"
            "校验值；领取人无账户的明细暂缓，不写入文件。首次导出后批次状态变为已导出，每次导出"
            "记入审计日志；草稿批次返回 400，非财务人员返回 403。"
        ),
        # "format" is DRF's content-negotiation parameter, hence "file_format".
        parameters=[OpenApiParameter("file_format", enum=ExportFormat.values, default="csv")],
        responses={(200, "application/octet-stream"): bytes},
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        batch = self.get_object()
        if not is_finance(request.user):  # the batch is already in scope: the role decides
            raise PermissionDenied(gettext("只有财务人员可以导出支付批次。"))
        data = s.ExportInputSerializer(
            data={"file_format": request.query_params.get("file_format", "csv")}
        )
        data.is_valid(raise_exception=True)
        fmt = data.validated_data["file_format"]
        name = f"batch-{batch.region.code}-{batch.period:%Y-%m}-{batch.pk}.{fmt}"
        folder = Path(tempfile.mkdtemp(prefix="subsidies-export-"))
        record = exports.export_batch(batch=batch, fmt=fmt, output=folder / name, by=request.user)
        # FileResponse closes the handle once streamed; the folder goes now (the open handle
        # keeps the data readable), so no export file is left on the server's disk.
        handle = open(folder / name, "rb")  # noqa: SIM115
        shutil.rmtree(folder)
        response = FileResponse(handle, as_attachment=True, filename=name)
        response["X-Checksum-SHA256"] = record.sha256
        return response


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区支付批次的发放明细（只读），身份证号已脱敏，附计算依据（所用规则、标准值及其"
            "来源和相关事实）；可按批次、月份、类型、状态和津贴项目筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一条发放明细及其计算依据，身份证号已脱敏；不在您辖区内的返回 404。"
        )
    ),
)
class PaymentLineViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Payment lines, read-only, with masked ID numbers and the inputs that explain them."""

    queryset = PaymentLine.objects.select_related(
        "scheme", "elder", "caregiver", "facility", "insurer"
    ).order_by("id")
    serializer_class = s.PaymentLineSerializer
    filterset_fields = ["batch", "period", "kind", "status", "scheme__code"]


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区养老机构的运营补助、一次性补助和综合责任险保费补助，含上限及其依据；"
            "可按类型、年度和机构筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一笔机构补助的详情：核定金额、申请金额、上限及其依据和支付明细；"
            "不在您辖区内的返回 404。"
        )
    ),
)
class FacilitySubsidyViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Operating subsidies, one-off grants and insurance premium subsidies of facilities;
    POST grants one within its cap (above the cap: 400 naming the cap and its source)."""

    queryset = FacilitySubsidy.objects.select_related("facility", "scheme").order_by("-id")
    serializer_class = s.FacilitySubsidySerializer
    filterset_fields = ["kind", "year", "facility"]

    @extend_schema(
        description=gettext_lazy(
            "在上限内为一家机构核定补助，并把其支付明细放入该机构所在县（市、区）本月的草稿批次。"
            "超过上限（返回 400，注明上限及其依据）、同一年度已核定过（一次性补助：曾核定过）、"
            "所需规则标准未设定，或机构不在您的辖区内时不予登记，返回 400。"
        ),
        request=s.FacilitySubsidyInputSerializer,
        responses={201: s.FacilitySubsidySerializer},
    )
    def create(self, request, *args, **kwargs):
        data = s.FacilitySubsidyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        facility = Facility.objects.select_related("region").filter(pk=values.pop("facility"))
        facility = facility.first()
        if facility is not None:
            try:
                require_region_in_scope(request.user, facility.region, APP)
            except OutOfScope:
                facility = None
        if facility is None:
            raise ValidationError({"facility": gettext("没有该机构，或不在您的权限范围内。")})
        subsidy = grants.grant_facility_subsidy(facility=facility, by=request.user, **values)
        return Response(s.FacilitySubsidySerializer(subsidy).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区民政部门设定的养老机构星级运营补助标准（每年每星级的金额及生效日期）；"
            "财务人员可查看。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一条星级运营补助标准；不在您辖区内的返回 404。")
    ),
)
class StarSubsidyRateViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The operating-subsidy table by star level that a bureau sets (within the rulebook cap)."""

    queryset = StarSubsidyRate.objects.select_related("jurisdiction").order_by("id")
    serializer_class = s.StarSubsidyRateSerializer

    @extend_schema(
        description=gettext_lazy(
            "民政部门为本辖区设定某星级的年度运营补助标准，自生效日期起执行。非民政人员返回 403；"
            "金额超过当日规则上限（注明上限及其依据）或区划不在您的辖区内时返回 400。"
        ),
        request=s.StarSubsidyRateInputSerializer,
        responses={201: s.StarSubsidyRateSerializer},
    )
    def create(self, request, *args, **kwargs):
        if not can_set_star_rates(request.user):  # finance reads the table, never sets it
            raise PermissionDenied(STAR_RATES_ARE_THE_BUREAUS)
        data = s.StarSubsidyRateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        jurisdiction = _region_in_scope(request.user, values.pop("jurisdiction"), "jurisdiction")
        rate = grants.set_star_subsidy_rate(jurisdiction=jurisdiction, by=request.user, **values)
        return Response(s.StarSubsidyRateSerializer(rate).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您辖区内领取人（老年人、护理员、机构、保险公司）的收款账户，账号始终脱敏"
            "（只显示后四位）；可按渠道、老年人和保险公司筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一个收款账户的详情，账号脱敏；不在您辖区内的返回 404。")
    ),
)
class PayeeAccountViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Payee accounts of the writer's area, the number always masked; POST records (or
    replaces) the account of an elder or an insurer (subsidies.payees.set_payee_account: the
    writer's scope checked, the number validated and encrypted, the history kept, held lines
    released). The whole number is never in an answer, a URL or a log."""

    queryset = PayeeAccount.objects.select_related(
        "elder", "caregiver", "facility", "insurer"
    ).order_by("id")
    serializer_class = s.PayeeAccountSerializer
    filterset_fields = ["channel", "elder", "insurer"]

    @extend_schema(
        description=gettext_lazy(
            "登记或更换一位老年人或一家保险公司（二者给出其一）的收款账户：新登记返回 201，更换"
            "返回 200。账号经校验后加密保存，保留历史版本，并放行因无账户而暂缓的明细；完整账号只"
            "出现在请求体中，不出现在响应、地址或日志里。领取人不存在或不在您的辖区内时返回 400。"
        ),
        request=s.PayeeAccountInputSerializer,
        responses={201: s.PayeeAccountSerializer, 200: s.PayeeAccountSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = s.PayeeAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        field = "elder" if "elder" in values else "insurer"
        model = Elder if field == "elder" else Insurer
        payee = model.objects.filter(pk=values[field]).first()
        # One answer for a payee that does not exist and one outside the writer's area.
        outside = ValidationError({field: gettext("没有该领取人，或不在您的管辖范围内。")})
        if payee is None:
            raise outside
        existed = PayeeAccount.objects.filter(**{field: payee}).exists()
        try:
            account = payees.set_payee_account(
                payee=payee,
                channel=values["account_channel"],
                bank=values["bank"],
                account_number=values["account_number"],
                holder_name=values.get("account_holder", ""),
                by=request.user,
            )
        except OutOfScopeWrite:
            raise outside from None
        return Response(
            s.PayeeAccountSerializer(account).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )

    @extend_schema(
        description=gettext_lazy(
            "一个收款账户的全部历史版本（修改人、修改时间），最新的在前，账号脱敏。"
        ),
        responses=s.PayeeAccountHistorySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every version of the account, newest first, the number masked."""
        account = self.get_object()
        versions = account.history.select_related("history_user").order_by("-history_date")
        return Response(s.PayeeAccountHistorySerializer(versions, many=True).data)


class InsurerFilter(django_filters.FilterSet):
    uscc = django_filters.CharFilter(help_text=gettext_lazy("统一社会信用代码（完整）"))
    region = django_filters.CharFilter(
        field_name="region__code", help_text=gettext_lazy("登记该保险公司的区划代码")
    )
    name = django_filters.CharFilter(lookup_expr="icontains", help_text=gettext_lazy("名称包含"))

    class Meta:
        model = Insurer
        fields = ["is_active", "uscc", "region", "name"]


class InsuranceCoverFilter(django_filters.FilterSet):
    scheme = django_filters.CharFilter(
        field_name="scheme__code", help_text=gettext_lazy("津贴项目代码")
    )
    region = django_filters.CharFilter(
        field_name="region__code", help_text=gettext_lazy("承保区划代码")
    )
    in_force_on = django_filters.DateFilter(
        method="filter_in_force_on", help_text=gettext_lazy("在该日有效的承保安排（YYYY-MM-DD）")
    )

    class Meta:
        model = InsuranceCover
        fields = ["scheme", "region", "insurer", "in_force_on"]

    def filter_in_force_on(self, queryset, name, value):
        return queryset.filter(start_date__lte=value).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=value)
        )


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "承保安排（只读）：某区划某津贴项目的保费付给哪家保险公司、起止日期；由民政部门在"
            "管理后台登记，您看到辖区内的安排。可按津贴项目、区划、保险公司和有效日期筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一项承保安排的详情；不在您辖区内的返回 404。")
    ),
)
class InsuranceCoverViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Covers, read-only: which insurer the run pays a scheme's premiums to for the elders of
    a region, from when to when (subsidies.insurers). Recorded by the bureau in the admin; a
    user sees the covers of the regions in their scope."""

    queryset = InsuranceCover.objects.select_related("scheme", "region", "insurer").order_by(
        "region__code", "scheme__code", "-start_date", "id"
    )
    serializer_class = s.InsuranceCoverSerializer
    filterset_class = InsuranceCoverFilter


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "保险公司（公开信息：名称、统一社会信用代码），登录用户均可查看；"
            "可按名称、信用代码、登记区划和是否启用筛选。"
        )
    ),
    retrieve=extend_schema(description=gettext_lazy("一家保险公司的公开信息。")),
)
class InsurerViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Insurers (public: name and credit code) and, per insurer and year or month, the
    insured list of the premiums it is paid (subsidies.insured_lists): masked ID numbers, or
    with ``full_ids`` the insurer's copy for enrolment (finance or the bureau with the
    permission, a reason required). Every list is recorded in the audit trail."""

    queryset = Insurer.objects.select_related("region").order_by("name", "id")
    serializer_class = s.InsurerSerializer
    filterset_class = InsurerFilter

    @extend_schema(
        description=gettext_lazy(
            "某保险公司某年（YYYY）或某月（YYYY-MM）的参保名单文件（CSV 或 XLSX），即付给它的"
            "保费明细，可限于您辖区内的某区划；仅财务、民政和审计人员可导出，每次导出记入审计日志。"
            "财务和审计人员看到脱敏的身份证号；full_ids=true 为交保险公司的完整名单，仅限有相应"
            "权限的财务或民政人员，且须填写事由 reason。"
        ),
        parameters=[s.InsuredListInputSerializer],
        responses={(200, "application/octet-stream"): bytes},
    )
    @action(detail=True, methods=["get"], url_path="insured-list")
    def insured_list(self, request, pk=None):
        insurer = self.get_object()
        if not insured_lists.may_read_insured_list(request.user):
            raise PermissionDenied(gettext("参保名单由财务和民政部门导出。"))
        data = s.InsuredListInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        region = None
        if values.get("region"):
            region = _region_in_scope(request.user, values["region"], "region")
        fmt = values["file_format"]
        name = f"insured-{insurer.uscc}-{values['period']}.{fmt}"
        folder = Path(tempfile.mkdtemp(prefix="subsidies-insured-"))
        written = insured_lists.export_insured_list(
            insurer=insurer,
            period=values["period"],
            fmt=fmt,
            output=folder / name,
            by=request.user,
            region=region,
            full_ids=values["full_ids"],
            reason=values.get("reason", ""),
        )
        # As for a batch's file: the handle keeps the data readable, the folder goes now.
        handle = open(folder / name, "rb")  # noqa: SIM115
        shutil.rmtree(folder)
        response = FileResponse(handle, as_attachment=True, filename=name)
        response["X-Checksum-SHA256"] = written.sha256
        return response
