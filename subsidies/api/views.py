"""Subsidies API. Thin: parse, scope, call a service or selector, render. Every queryset goes
through ScopedQuerysetMixin (finance and bureau see their region's runs, batches and lines)."""

import shutil
import tempfile
from pathlib import Path

import django_filters
from django.db.models import Q
from django.http import FileResponse
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
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

    @extend_schema(request=s.RunInputSerializer, responses={202: s.RunSerializer})
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


class BatchViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Payment batches with totals per scheme; finance approves; exports are recorded."""

    queryset = PaymentBatch.objects.select_related("region").order_by("-period", "id")
    serializer_class = s.BatchSerializer
    filterset_fields = ["kind", "state", "period"]

    def get_serializer_class(self):
        return s.BatchDetailSerializer if self.action != "list" else s.BatchSerializer

    @extend_schema(request=None, responses=s.BatchDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        batch = self.get_object()
        if not can_approve(request.user):
            raise PermissionDenied(gettext("只有财务人员可以审核支付批次。"))
        batch = batches.approve_batch(batch=batch, by=request.user)
        return Response(s.BatchDetailSerializer(batch).data)

    @extend_schema(
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


class PaymentLineViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Payment lines, read-only, with masked ID numbers and the inputs that explain them."""

    queryset = PaymentLine.objects.select_related(
        "scheme", "elder", "caregiver", "facility", "insurer"
    ).order_by("id")
    serializer_class = s.PaymentLineSerializer
    filterset_fields = ["batch", "period", "kind", "status", "scheme__code"]


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
        request=s.FacilitySubsidyInputSerializer, responses={201: s.FacilitySubsidySerializer}
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
        request=s.StarSubsidyRateInputSerializer, responses={201: s.StarSubsidyRateSerializer}
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

    @extend_schema(responses=s.PayeeAccountHistorySerializer(many=True))
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


class InsuranceCoverViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Covers, read-only: which insurer the run pays a scheme's premiums to for the elders of
    a region, from when to when (subsidies.insurers). Recorded by the bureau in the admin; a
    user sees the covers of the regions in their scope."""

    queryset = InsuranceCover.objects.select_related("scheme", "region", "insurer").order_by(
        "region__code", "scheme__code", "-start_date", "id"
    )
    serializer_class = s.InsuranceCoverSerializer
    filterset_class = InsuranceCoverFilter


class InsurerViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Insurers (public: name and credit code) and, per insurer and year or month, the
    insured list of the premiums it is paid (subsidies.insured_lists): masked ID numbers, or
    with ``full_ids`` the insurer's copy for enrolment (finance or the bureau with the
    permission, a reason required). Every list is recorded in the audit trail."""

    queryset = Insurer.objects.select_related("region").order_by("name", "id")
    serializer_class = s.InsurerSerializer
    filterset_class = InsurerFilter

    @extend_schema(
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
