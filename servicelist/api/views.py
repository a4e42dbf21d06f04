"""The service list's API: the catalogue (read only), deliveries for providers' systems, and
coverage with the named list of those not reached. Thin: parse, call, render."""

import dataclasses

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import AuditAction
from accounts.permissions import ScopedQuerysetMixin, ScopedWritePermission
from accounts.scoping import require_region_in_scope, scoped
from accounts.selectors import audit_reason, sees_full_personal_data
from accounts.services import record_audit
from regions.models import Region
from residents.id_numbers import mask_id_number
from residents.models import Elder
from servicelist.api.serializers import (
    CoverageQuerySerializer,
    CoverageRowSerializer,
    DeliveryInputSerializer,
    DeliveryRecordedSerializer,
    DeliverySerializer,
    ElderItemSerializer,
    ElderItemsQuerySerializer,
    ListedItemSerializer,
    RegionListQuerySerializer,
    ServiceItemSerializer,
    SurveyInputSerializer,
    SurveyRecordedSerializer,
    SurveySerializer,
)
from servicelist.choices import DeliverySource, SurveySource
from servicelist.coverage import PeriodError, coverage, elder_items, parse_period
from servicelist.models import SatisfactionSurvey, ServiceDelivery, ServiceItem
from servicelist.selectors import region_list
from servicelist.services import find_item, find_provider, record_delivery, record_survey

BAD_INPUT = OpenApiResponse(description=gettext_lazy("参数有误：返回体按字段说明原因"))
OUT_OF_AREA = OpenApiResponse(description=gettext_lazy("区划不在您的工作范围内"))
# A record's elder outside the caller's reach is a 400 on id_number (not told apart from one
# not registered); a 403 means the caller's role only reads.
READ_ONLY_ROLE = OpenApiResponse(description=gettext_lazy("您的角色只能查看，不能记录"))


def _region(code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError({"region": _("没有代码为 %(code)s 的区划。") % {"code": code}})
    return region


def _elder_in_scope(id_number: str, user) -> Elder:
    """The elder of an ID number given in a request body, among those the user reaches (one
    outside is not told apart from one not registered)."""
    number = id_number.strip().upper()
    elder = (
        scoped(Elder.objects.filter(id_number=number), user)
        .select_related("residence_region", "hukou_region")
        .first()
    )
    if elder is None:
        raise ValidationError(
            {"id_number": _("名册中没有此身份证号的老年人，或不在您的工作范围内。")}
        )
    return elder


def _records(input_serializer, recorded_serializer, description):
    """The schema of a POST that records one row: 201 when new, 200 when it was there."""
    return extend_schema(
        description=description,
        request=input_serializer,
        responses={
            201: recorded_serializer,
            200: recorded_serializer,
            400: BAD_INPUT,
            403: READ_ONLY_ROLE,
        },
    )


def _input(serializer_class, request) -> tuple[dict, Elder]:
    """The request's values, and the elder of its ID number among those the user reaches."""
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    return values, _elder_in_scope(values["id_number"], request.user)


def _recorded(serializer_class, name: str, result) -> Response:
    """A service's result (the record as ``name``, created, updated) as the answer."""
    body = serializer_class(
        {name: getattr(result, name), "created": result.created, "updated": result.updated}
    )
    return Response(body.data, status=status.HTTP_201_CREATED if result.created else 200)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "各级服务清单的全部项目，每个版本一行（含已失效的版本），可按项目代码、区划、"
            "类别和落实方式筛选。清单是公开文件，登录用户均可查看。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("服务清单中一个项目（一个版本）的详情，登录用户均可查看。")
    ),
)
class ServiceItemViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Every item of every list, each version a row (public: the lists are published)."""

    queryset = ServiceItem.objects.select_related("region")
    serializer_class = ServiceItemSerializer
    filterset_fields = ["code", "region__code", "kind", "reached_through"]


class RegionListView(APIView):
    """A region's list on a day: its own items and those it inherits from the lists above."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "某区划在某日（默认今天）适用的服务清单：本级清单的项目，以及从上级清单继承的项目"
            "（注明是否继承、提高了哪个上级项目）。登录用户均可查看；区划代码不存在时返回 400。"
        ),
        parameters=[RegionListQuerySerializer],
        responses=ListedItemSerializer(many=True),
    )
    def get(self, request):
        query = RegionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        region = _region(query.validated_data["region"])
        on = query.validated_data.get("date") or timezone.localdate()
        return Response(ListedItemSerializer(region_list(region, on), many=True).data)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的服务记录（实物服务的落实情况），身份证号已脱敏；"
            "可按服务日期和服务提供方筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一条服务记录的详情，身份证号已脱敏；不在您工作范围内的记录返回 404。"
        )
    ),
)
class DeliveryViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Deliveries in kind. POST records one (a provider's system); the same item, elder, day
    and provider again updates it, or changes nothing when equal."""

    queryset = ServiceDelivery.objects.select_related("item", "elder", "provider_facility")
    serializer_class = DeliverySerializer
    filterset_fields = ["delivered_on", "provider_name"]

    @_records(
        DeliveryInputSerializer,
        DeliveryRecordedSerializer,
        gettext_lazy(
            "登记一条服务记录（供服务提供方的系统报送）：同一项目、老年人、服务日期和提供方再次报送"
            "时更新原记录（返回 200），内容相同则不作改动，新记录返回 201。有专门记录的项目"
            "（助餐、家庭养老床位上门服务、喘息服务、适老化改造完工）同时生成相应记录；老年人须在"
            "您的工作范围内，只读角色（审计人员）不能登记。"
        ),
    )
    def create(self, request, *args, **kwargs):
        values, elder = _input(DeliveryInputSerializer, request)
        result = record_delivery(
            item=find_item(values["item"], values["date"]),
            end_on=values.get("end_date"),
            elder=elder,
            delivered_on=values["date"],
            provider=find_provider(values["provider"]),
            quantity=values.get("quantity"),
            amount=values.get("amount"),
            evidence=values.get("evidence", ""),
            source=DeliverySource.API,
            by=request.user,
        )
        return _recorded(DeliveryRecordedSerializer, "delivery", result)


class CoverageView(APIView):
    """Coverage of every item in force in an area for a month or year; with ``not_reached``,
    the named list of those entitled and not reached (the street worker's to-do list). Only
    an area in the user's scope; the named list is audited, ID numbers masked for roles that
    do not need them in full."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "某区划在某月或某年内各有效服务项目的覆盖情况（应享人数、已落实人数、覆盖率）；"
            "not_reached=true 时附应享未落实的老年人名单（街道社区的待办名单），该名单的调取记入"
            "审计日志，审计人员看到的身份证号已脱敏。区划须在您的工作范围内，否则返回 403。"
        ),
        parameters=[CoverageQuerySerializer],
        responses={200: CoverageRowSerializer(many=True), 400: BAD_INPUT, 403: OUT_OF_AREA},
    )
    def get(self, request):
        query = CoverageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        region = _region(values["region"])
        require_region_in_scope(request.user, region, app="servicelist")
        try:
            start, end = parse_period(values["period"])
        except PeriodError as error:
            raise ValidationError({"period": str(error)}) from None
        named = values["not_reached"]
        rows = coverage(region, start, end, named=named)
        if named:
            if not sees_full_personal_data(request.user):
                for row in rows:
                    row.not_reached = [
                        dataclasses.replace(n, id_number=mask_id_number(n.id_number))
                        for n in row.not_reached
                    ]
            record_audit(
                user=request.user,
                action=AuditAction.EXPORT,
                object_type="service_coverage",
                object_id=region.code,
                reason=audit_reason(request),
                details={"period": values["period"]},
            )
        return Response(CoverageRowSerializer(rows, many=True).data)


class ElderItemsView(APIView):
    """One elder's page: every item in force where they live, whether it is for them, whether
    they received it in the period, and what is missing. Only an elder in the user's scope."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "一位老年人的服务项目情况：其居住地有效的每个项目是否适用于本人、期间内是否已享受、"
            "是否缺失。老年人须在您的工作范围内，否则与不存在一样返回 400。"
        ),
        parameters=[ElderItemsQuerySerializer],
        responses={200: ElderItemSerializer(many=True), 400: BAD_INPUT},
    )
    def get(self, request):
        query = ElderItemsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        elder = (
            scoped(Elder.objects.select_related("residence_region", "hukou_region"), request.user)
            .filter(pk=values["elder"])
            .first()
        )
        if elder is None:
            raise ValidationError({"elder": _("没有该老年人，或不在您的工作范围内。")})
        try:
            start, end = parse_period(values["period"])
        except PeriodError as error:
            raise ValidationError({"period": str(error)}) from None
        return Response(ElderItemSerializer(elder_items(elder, start, end), many=True).data)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的满意度测评记录，身份证号已脱敏；可按测评日期、服务提供方和"
            "分数筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一条满意度测评记录的详情，身份证号已脱敏；不在您工作范围内的记录返回 404。"
        )
    ),
)
class SurveyViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Satisfaction surveys. POST records one elder's answer about an item, a
    provider, or both (a street worker, for the elders of their area); the same elder, item,
    provider and day again updates it, or changes nothing when equal. ID numbers are masked."""

    queryset = SatisfactionSurvey.objects.select_related("item", "elder", "provider_facility")
    serializer_class = SurveySerializer
    filterset_fields = ["surveyed_on", "provider_name", "score"]

    @_records(
        SurveyInputSerializer,
        SurveyRecordedSerializer,
        gettext_lazy(
            "登记一位老年人对某服务项目、某服务提供方或二者的满意度（1–5 分）和意见建议，"
            "供街道社区工作人员为本辖区老年人填报；老年人须在您的工作范围内。同一老年人、项目、"
            "提供方和日期再次提交时更新原记录（返回 200），内容相同则不作改动，新记录返回 201。"
        ),
    )
    def create(self, request, *args, **kwargs):
        values, elder = _input(SurveyInputSerializer, request)
        on = values["date"]
        result = record_survey(
            elder=elder,
            surveyed_on=on,
            score=int(values["score"]),
            item=find_item(values["item"], on, delivered=False) if values["item"] else None,
            provider=find_provider(values["provider"], required=False),
            comment=values["comment"],
            source=SurveySource.WORKER,
            by=request.user,
        )
        return _recorded(SurveyRecordedSerializer, "survey", result)
