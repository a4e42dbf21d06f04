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
from drf_spectacular.utils import OpenApiResponse, extend_schema
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

    @extend_schema(request=MealPointInputSerializer, responses={201: MealPointSerializer})
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

    @extend_schema(request=AdaptationInputSerializer, responses={201: HomeAdaptationSerializer})
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

    @extend_schema(request=AssessmentInputSerializer, responses={200: HomeAdaptationSerializer})
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

    @extend_schema(request=BedInputSerializer, responses={201: HomeCareBedSerializer})
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

    @extend_schema(request=BedCloseInputSerializer, responses={200: HomeCareBedSerializer})
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


class RespiteStayViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Respite stays of the user's elders, read; recorded as deliveries with an
    ``end_date``."""

    queryset = RespiteStay.objects.select_related("item", "elder", "facility")
    serializer_class = RespiteStaySerializer
    filterset_fields = ["start_on", "end_on"]
