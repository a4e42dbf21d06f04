"""The API of the items' own records: meal points (and their coverage of an area's villages
and communities), home adaptations (application, assessment), home-care beds (set up, close)
and respite stays (read). Meals, a bed's visits, respite stays and finished adaptations come
in as deliveries (``POST /api/servicelist/deliveries/``). Thin: parse, call, render; ID
numbers masked."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import ScopedQuerysetMixin
from accounts.scoping import require_region_in_scope, scoped
from facilities.models import Facility
from regions.models import Region
from residents.id_numbers import mask_id_number
from residents.models import Elder
from servicelist.choices import MealPointKind
from servicelist.item_selectors import meal_point_coverage
from servicelist.item_services import (
    apply_for_adaptation,
    assess_adaptation,
    close_home_care_bed,
    save_meal_point,
    set_up_home_care_bed,
)
from servicelist.models import HomeAdaptation, HomeCareBed, MealPoint, RespiteStay
from servicelist.services import find_item, find_provider

BAD_INPUT = OpenApiResponse(description=gettext_lazy("参数有误：返回体按字段说明原因"))


def _region(code: str, field: str = "region") -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError({field: _("没有代码为 %(code)s 的区划。") % {"code": code}})
    return region


def _elder(pk: int, user) -> Elder:
    elder = (
        scoped(Elder.objects.select_related("residence_region", "hukou_region"), user)
        .filter(pk=pk)
        .first()
    )
    if elder is None:
        raise ValidationError({"elder": _("没有该老年人，或不在您的工作范围内。")})
    return elder


class _ElderRecordSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.code", read_only=True)
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    id_number = serializers.SerializerMethodField()

    def get_id_number(self, record) -> str:
        return mask_id_number(record.elder.id_number)


# --- meal points --------------------------------------------------------------------------------


class MealPointSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.code", read_only=True)
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = MealPoint
        fields = ["id", "name", "kind", "region", "facility", "opened_on", "closed_on"]


class MealPointInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=MealPointKind.choices)
    region = serializers.CharField(help_text=gettext_lazy("所在村（社区）或街道的区划代码"))
    facility = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("所属机构的机构编码（可空）"),
    )
    opened_on = serializers.DateField()


class MealPointCoverageQuerySerializer(serializers.Serializer):
    region = serializers.CharField()
    date = serializers.DateField(required=False)


class MealPointCoverageSerializer(serializers.Serializer):
    region = serializers.CharField(source="region.code")
    on = serializers.DateField()
    communities = serializers.IntegerField()
    covered = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    target = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    target_note = serializers.CharField()
    meets_target = serializers.BooleanField(allow_null=True)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作区域内的助餐点（老年食堂、助餐点、养老机构食堂、老年共享餐厅），"
            "可按类型和所在区划筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一个助餐点的详情；不在您工作区域内的返回 404。")
    ),
)
class MealPointViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Meal points of the user's areas. POST registers one in an area the user
    covers; ``coverage/`` tells how many villages and communities of an area have one open,
    against the rulebook's target (or "not set")."""

    queryset = MealPoint.objects.select_related("region", "facility")
    serializer_class = MealPointSerializer
    filterset_fields = ["kind", "region__code"]

    @extend_schema(
        description=gettext_lazy(
            "在您的工作区域内登记一个助餐点：类型、所在村（社区）或街道、开办日期，可关联一家机构"
            "（未填名称时取机构名称）。区划或机构代码不存在、区划不在您的工作区域内、开办日期晚于"
            "今天时返回 400。"
        ),
        request=MealPointInputSerializer,
        responses={201: MealPointSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = MealPointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        facility = None
        if values["facility"]:
            facility = Facility.objects.filter(code=values["facility"]).first()
            if facility is None:
                raise ValidationError(
                    {"facility": _("没有编码为 %(code)s 的机构。") % {"code": values["facility"]}}
                )
        point = MealPoint(
            name=values["name"],
            kind=values["kind"],
            region=_region(values["region"]),
            facility=facility,
            opened_on=values["opened_on"],
        )
        save_meal_point(point=point, by=request.user)
        return Response(MealPointSerializer(point).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "某区划在某日（默认今天）有开办中助餐点的村（社区）数及占比，并与规则设定的目标比较"
            "（未设定时注明）。区划须在您的工作范围内，否则返回 403。"
        ),
        parameters=[MealPointCoverageQuerySerializer],
        responses={200: MealPointCoverageSerializer, 400: BAD_INPUT},
    )
    @action(detail=False, methods=["get"])
    def coverage(self, request):
        query = MealPointCoverageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        region = _region(query.validated_data["region"])
        require_region_in_scope(request.user, region, app="servicelist")
        on = query.validated_data.get("date") or timezone.localdate()
        return Response(MealPointCoverageSerializer(meal_point_coverage(region, on)).data)


# --- home adaptations ---------------------------------------------------------------------------


class HomeAdaptationSerializer(_ElderRecordSerializer):
    class Meta:
        model = HomeAdaptation
        fields = [
            "id",
            "item",
            "elder",
            "elder_name",
            "id_number",
            "applied_on",
            "assessed_on",
            "assessment",
            "assessment_note",
            "completed_on",
            "subsidy",
            "subsidy_note",
            "delivery",
        ]


class AdaptationInputSerializer(serializers.Serializer):
    item = serializers.CharField(help_text=gettext_lazy("服务项目代码，如 330106:18"))
    elder = serializers.IntegerField()
    applied_on = serializers.DateField()


class AssessmentInputSerializer(serializers.Serializer):
    assessed_on = serializers.DateField()
    approved = serializers.BooleanField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的适老化改造记录（申请、评估、完工和一次性补贴），"
            "身份证号已脱敏；可按评估结果、申请日期和完工日期筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一条适老化改造记录的详情，身份证号已脱敏；不在您工作范围内的返回 404。"
        )
    ),
)
class HomeAdaptationViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Home adaptations of the user's elders. POST records an application;
    ``assess/`` its assessment. The provider reports the finished work as a delivery of the
    item, which completes the approved adaptation with its one-off subsidy."""

    queryset = HomeAdaptation.objects.select_related("item", "elder")
    serializer_class = HomeAdaptationSerializer
    filterset_fields = ["assessment", "applied_on", "completed_on"]

    @extend_schema(
        description=gettext_lazy(
            "登记一位老年人的适老化改造申请：同一老年人、同一项目在未被评估否决前只能申请一次，"
            "老年人须在您的工作范围内。完工由服务提供方作为该项目的服务记录报送"
            "（POST /api/servicelist/deliveries/），同时按规则给予一次性补贴。"
        ),
        request=AdaptationInputSerializer,
        responses={201: HomeAdaptationSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = AdaptationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        adaptation = apply_for_adaptation(
            elder=_elder(values["elder"], request.user),
            item=find_item(values["item"], values["applied_on"]),
            applied_on=values["applied_on"],
            by=request.user,
        )
        return Response(HomeAdaptationSerializer(adaptation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "登记改造申请的评估结果（通过或不通过）：评估日期不得早于申请日期，已完工的改造"
            "不能再评估。只有评估通过的申请才能报送完工。"
        ),
        request=AssessmentInputSerializer,
        responses={200: HomeAdaptationSerializer},
    )
    @action(detail=True, methods=["post"])
    def assess(self, request, pk=None):
        data = AssessmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        adaptation = assess_adaptation(
            adaptation=self.get_object(),
            assessed_on=values["assessed_on"],
            approved=values["approved"],
            note=values["note"],
            by=request.user,
        )
        return Response(HomeAdaptationSerializer(adaptation).data)


# --- home-care beds -----------------------------------------------------------------------------


class HomeCareBedSerializer(_ElderRecordSerializer):
    provider_facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = HomeCareBed
        fields = [
            "id",
            "item",
            "elder",
            "elder_name",
            "id_number",
            "provider_facility",
            "provider_name",
            "set_up_on",
            "closed_on",
            "close_reason",
        ]


class BedInputSerializer(serializers.Serializer):
    item = serializers.CharField(help_text=gettext_lazy("服务项目代码，如 330106:21"))
    elder = serializers.IntegerField()
    provider = serializers.CharField(help_text=gettext_lazy("机构代码或服务提供方名称"))
    set_up_on = serializers.DateField()


class BedCloseInputSerializer(serializers.Serializer):
    closed_on = serializers.DateField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的家庭养老床位（建床、撤床），身份证号已脱敏；"
            "可按服务提供方、建床日期和撤床日期筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一张家庭养老床位的详情，身份证号已脱敏；不在您工作范围内的返回 404。"
        )
    ),
)
class HomeCareBedViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Home-care beds of the user's elders. POST sets one up; ``close/`` closes
    it. Its service visits come in as deliveries of its item by its provider."""

    queryset = HomeCareBed.objects.select_related("item", "elder", "provider_facility")
    serializer_class = HomeCareBedSerializer
    filterset_fields = ["provider_name", "set_up_on", "closed_on"]

    @extend_schema(
        description=gettext_lazy(
            "为一位老年人建立家庭养老床位：项目、服务提供方（机构代码或名称）和建床日期。"
            "每位老年人同一时间只能有一张床位；上门服务由该提供方作为该项目的服务记录报送。"
        ),
        request=BedInputSerializer,
        responses={201: HomeCareBedSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = BedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        bed = set_up_home_care_bed(
            elder=_elder(values["elder"], request.user),
            item=find_item(values["item"], values["set_up_on"]),
            provider=find_provider(values["provider"]),
            set_up_on=values["set_up_on"],
            by=request.user,
        )
        return Response(HomeCareBedSerializer(bed).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "撤销一张家庭养老床位：撤床日期不得早于建床日期和已登记的最后一次上门服务，"
            "已撤床的床位不能再撤。"
        ),
        request=BedCloseInputSerializer,
        responses={200: HomeCareBedSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = BedCloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bed = close_home_care_bed(
            bed=self.get_object(),
            closed_on=data.validated_data["closed_on"],
            reason=data.validated_data["reason"],
            by=request.user,
        )
        return Response(HomeCareBedSerializer(bed).data)


# --- respite stays ------------------------------------------------------------------------------


class RespiteStaySerializer(_ElderRecordSerializer):
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = RespiteStay
        fields = [
            "id",
            "item",
            "elder",
            "elder_name",
            "id_number",
            "facility",
            "start_on",
            "end_on",
            "days",
            "yearly_allowance",
            "delivery",
        ]


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的喘息服务记录（只读），身份证号已脱敏。喘息服务以带 end_date "
            "的服务记录报送（POST /api/servicelist/deliveries/）。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一条喘息服务记录的详情，身份证号已脱敏；不在您工作范围内的返回 404。"
        )
    ),
)
class RespiteStayViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Respite stays of the user's elders, read; recorded as deliveries with an
    ``end_date``."""

    queryset = RespiteStay.objects.select_related("item", "elder", "facility")
    serializer_class = RespiteStaySerializer
    filterset_fields = ["start_on", "end_on"]
