"""Facilities API. Thin: parse, scope, call a service or selector, render. A bed or person
already taken answers 409 Conflict with the message naming both."""

import datetime

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.fields import IntegerField
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ScopedQuerysetMixin, ScopedWritePermission
from accounts.scoping import require_region_in_scope, scoped
from config.i18n import interpolate_lazy
from facilities import selectors, services
from facilities.api import serializers as s
from facilities.choices import CareClass
from facilities.models import Application, Bed, Caregiver, Employment, Facility, Stay
from regions.models import Region
from regions.selectors import PolicyValueNotSet
from residents.models import Elder

# Dates the API accepts. Nobody in the registry was born before 1900, and the reports do
# arithmetic on a date (sixty years back for ages, a day past a period's end) that would
# overflow Python's dates near year 1 or 9999: such a date is refused as bad input.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)


def _today() -> datetime.date:
    return datetime.date.today()


def _on(request) -> datetime.date:
    value = request.query_params.get("on")
    if not value:
        return _today()
    try:
        on = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {"on": _("日期格式应为 YYYY-MM-DD：%(value)s") % {"value": value}}
        ) from None
    if not EARLIEST_DATE <= on <= LATEST_DATE:
        raise ValidationError(
            {
                "on": _("日期应在 %(earliest)s 至 %(latest)s 之间：%(value)s")
                % {"earliest": EARLIEST_DATE, "latest": LATEST_DATE, "value": value}
            }
        )
    return on


def _code(request, name: str) -> str:
    """A code from the query string. PostgreSQL cannot compare text holding a NUL character,
    so one is refused as bad input instead of failing the query."""
    value = request.query_params.get(name, "")
    if "\x00" in value:
        raise ValidationError({name: _("不能包含空字符（NUL）。")})
    return value


ON_PARAMETER = OpenApiParameter(
    "on",
    datetime.date,
    description=interpolate_lazy(
        gettext_lazy("统计日期（默认今天；%(earliest)s 至 %(latest)s）"),
        {"earliest": EARLIEST_DATE, "latest": LATEST_DATE},
    ),
)
BAD_INPUT = OpenApiResponse(description=gettext_lazy("参数有误：返回体按参数名说明原因"))


def _scoped_get(model, user, pk, field):
    obj = scoped(model.objects.all(), user).filter(pk=pk).first()
    if obj is None:
        raise ValidationError(
            {field: _("没有编号为 %(pk)s 的记录，或不在您的权限范围内。") % {"pk": pk}}
        )
    return obj


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您管辖区域内的养老机构（机构工作人员为本机构），附按 on 日期（默认今天）的等级评定"
            "及其是否有效；可按机构类型、举办性质和是否特困供养机构筛选。"
        ),
        parameters=[ON_PARAMETER],
        responses={200: s.FacilitySerializer(many=True), 400: BAD_INPUT},
    ),
    retrieve=extend_schema(
        description=gettext_lazy(
            "一家养老机构的详情，附按 on 日期（默认今天）的等级评定；不在您权限范围内的返回 404。"
        ),
        parameters=[ON_PARAMETER],
        responses={200: s.FacilitySerializer, 400: BAD_INPUT},
    ),
)
class FacilityViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Facility.objects.select_related("region")
    serializer_class = s.FacilitySerializer
    filterset_fields = ["kind", "ownership", "is_destitute_support"]

    def get_serializer_context(self):
        return super().get_serializer_context() | {"on": _on(self.request)}

    @extend_schema(
        description=gettext_lazy(
            "一家机构在某日的护理员配备核查：按在住老年人的能力评估分类和规则库配比计算应配"
            "护理员数，与实际在岗的护理员数比较，并列出未评估的在住老年人。配比未设定时"
            " required 为空，error 说明原因。"
        ),
        parameters=[ON_PARAMETER],
        responses=s.StaffingReportSerializer,
    )
    @action(detail=True, methods=["get"])
    def staffing(self, request, pk=None):
        return Response(selectors.staffing_report(self.get_object(), _on(request)).as_dict())

    @extend_schema(
        description=gettext_lazy(
            "一家机构在某日的入住轮候名单：尚未结束的申请按当地规则库的优先顺序排列（依申请人的"
            "类别、最近一次评估和年龄），同级按申请日期，每条说明所适用的规则。名单完整返回，不分页。"
        ),
        parameters=[ON_PARAMETER],
        responses=s.WaitingListEntrySerializer(many=True),
    )
    # The whole list in rank order, never paged (pagination_class=None says so to the schema).
    @action(detail=True, methods=["get"], url_path="waiting-list", pagination_class=None)
    def waiting_list(self, request, pk=None):
        entries = selectors.waiting_list(self.get_object(), _on(request))
        return Response(
            [
                {
                    "rank": e.rank,
                    "precedence": e.precedence,
                    "rule": e.rule.label,
                    "explanation": e.explanation,
                    "application": s.ApplicationSerializer(e.application).data,
                }
                for e in entries
            ]
        )


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您管辖区域或本机构的床位（含家庭养老床位），附当前入住老年人的姓名、长者码和入住"
            "日期；可按机构、床位类型和是否启用筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一张床位及其当前入住的老年人；不在您权限范围内的返回 404。")
    ),
)
class BedViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = selectors.beds_with_occupant(
        Bed.objects.select_related("facility", "room__floor__building__facility")
    )
    serializer_class = s.BedSerializer
    filterset_fields = ["facility", "bed_type", "is_active"]


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您管辖区域或本机构的入住记录（含已退住的），可按床位、老年人和退住日期筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一条入住记录的详情；不在您权限范围内的返回 404。")
    ),
    create=extend_schema(
        description=gettext_lazy(
            "办理入住：老年人自 start_date 起入住指定床位。床位已被占用或老年人已有在住床位时"
            "返回 409，说明被谁占用；老年人已死亡、床位已停用、或老年人或床位不在您的权限范围内时"
            "返回 400。"
        )
    ),
)
class StayViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Stays; POST admits (409 if the bed or the elder is taken)."""

    queryset = Stay.objects.select_related("elder", "bed__facility", "placement_approved_by")
    serializer_class = s.StaySerializer
    filterset_fields = ["bed", "elder", "end_date"]

    def get_queryset(self):
        if self.action in ("placement_approval", "placement_approvals"):
            # The county's approval only: a bureau also finds its registered elders' stays in
            # other counties' institutions here, and sees only their placement facts.
            return selectors.placement_approval_stays(self.request.user).select_related(
                "elder", "bed__facility", "placement_approved_by"
            )
        return super().get_queryset()

    def get_serializer_class(self):
        return {
            "create": s.AdmitSerializer,
            "discharge": s.DischargeSerializer,
            "placement_approval": s.PlacementApprovalSerializer,
            "placement_approvals": s.PlacementStaySerializer,
            "transfer": s.TransferSerializer,
            "correct": s.CorrectStaySerializer,
        }.get(self.action, s.StaySerializer)

    def create(self, request, *args, **kwargs):
        data = s.AdmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stay = services.admit_to_bed(
            elder=_scoped_get(Elder, request.user, data.validated_data["elder"], "elder"),
            bed=_scoped_get(Bed, request.user, data.validated_data["bed"], "bed"),
            start_date=data.validated_data["start_date"],
            by=request.user,
        )
        return Response(s.StaySerializer(stay).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "可登记“经县级民政部门批准纳入机构养老”的入住记录，只含与批准有关的信息：您权限"
            "范围内的入住；对民政局，还包括户籍在其辖区的老年人在其他县（市、区）机构的入住。"
            "可按老年人筛选，最近入住的在前。"
        ),
        parameters=[OpenApiParameter("elder", int, description=gettext_lazy("老年人ID"))],
        responses=s.PlacementStaySerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="placement-approvals")
    def placement_approvals(self, request):
        """The stays whose county approval the user may record, with their placement facts
        only: those in the user's scope, and for a civil-affairs bureau the institutional
        stays of the elders registered in its area, in whichever county the institution is."""
        stays = self.get_queryset().order_by("-start_date", "pk")
        elder = request.query_params.get("elder")
        if elder:
            try:
                elder_id = IntegerField(min_value=1, max_value=2**63 - 1).run_validation(elder)
            except ValidationError as error:
                raise ValidationError({"elder": error.detail}) from error
            stays = stays.filter(elder_id=elder_id)
        page = self.paginate_queryset(stays)
        return self.get_paginated_response(s.PlacementStaySerializer(page, many=True).data)

    @extend_schema(
        description=gettext_lazy(
            "登记县级民政部门批准纳入机构养老的日期、文号和批准的县（市、区），或以 approved_on 为空"
            "撤销误录的批准；更改或撤销已有批准须填写 reason。只有老年人户籍所在县（市、区）或其"
            "上级的民政局可以登记，家庭养老床位的入住不能登记。返回该入住与批准有关的信息。"
        ),
        request=s.PlacementApprovalSerializer,
        responses=s.PlacementStaySerializer,
    )
    @action(detail=True, methods=["post"], url_path="placement-approval")
    def placement_approval(self, request, pk=None):
        """Record (or withdraw, ``approved_on`` null) the county civil-affairs bureau's
        approval of placing the elder in institutional care; a bureau's act, also on a stay
        in another county's institution of an elder registered in its area. Answers with the
        stay's placement facts only."""
        data = s.PlacementApprovalSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        stay = services.record_placement_approval(
            stay=self.get_object(),
            approved_on=values["approved_on"],
            approval_number=values.get("approval_number", ""),
            approved_by=values.get("approved_by"),
            reason=values.get("reason", ""),
            by=request.user,
        )
        return Response(s.PlacementStaySerializer(stay).data)

    @extend_schema(
        description=gettext_lazy(
            "办理退住：该入住于 end_date 结束，床位自该日起空出。退住日期不得晚于今天，不得早于"
            "入住日期或县级批准日期；已结束的入住返回 400。"
        )
    )
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        stay = self.get_object()
        if stay.end_date is not None:
            raise ValidationError(
                {"end_date": _("该入住已于 %(date)s 结束。") % {"date": stay.end_date}}
            )
        data = s.DischargeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stay = services.discharge(
            elder=stay.elder,
            end_date=data.validated_data["end_date"],
            by=request.user,
        )
        return Response(s.StaySerializer(stay).data)

    @extend_schema(
        description=gettext_lazy(
            "转床：当前入住于 on 日结束，同日在新床位开始新的入住（一并完成），返回新的入住记录；"
            "转到另一张机构床位时保留县级批准，转到家庭养老床位时不保留。目标床位已被占用返回 409；"
            "目标床位已停用、就是当前床位、不在您权限范围内，或 on 晚于今天时返回 400。"
        )
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        stay = self.get_object()
        data = s.TransferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.transfer(
            elder=stay.elder,
            to_bed=_scoped_get(Bed, request.user, data.validated_data["to_bed"], "to_bed"),
            on=data.validated_data["on"],
            by=request.user,
        )
        return Response(s.StaySerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "更正录错的入住：入住日期、退住日期（仅限已退住的）或床位（当时实际所在的床位，不是"
            "转床），须填写原因，记入入住历史和审计日志；未填的项保持不变。更正后的入住仍须符合"
            "全部入住规则，与其他入住冲突时返回 409。"
        ),
        responses=s.StaySerializer,
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """Correct a stay recorded wrongly — its admission date, its discharge date (a closed
        stay) or its bed (the bed it really was, not a transfer) — with the reason, kept in the
        stay's history and the audit trail. The corrected stay obeys every admission rule."""
        stay = self.get_object()
        data = s.CorrectStaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        bed = values.get("bed")
        stay = services.correct_stay(
            stay=stay,
            reason=values["reason"],
            start_date=values.get("start_date"),
            end_date=values.get("end_date"),
            bed=_scoped_get(Bed, request.user, bed, "bed") if bed is not None else None,
            by=request.user,
        )
        return Response(s.StaySerializer(stay).data)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您管辖区域或本机构的入住轮候申请，可按机构、状态（轮候中、已通知入住、已入住、"
            "已撤回）和老年人筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一条轮候申请的详情；不在您权限范围内的返回 404。")
    ),
    create=extend_schema(
        description=gettext_lazy(
            "为老年人登记公办（含公建民营）养老机构的入住轮候申请，机构和老年人须在您的权限范围内。"
            "机构不是公办、老年人已死亡、已在该机构轮候或入住时返回 400。"
        )
    ),
)
class ApplicationViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Application.objects.select_related("elder", "facility")
    serializer_class = s.ApplicationSerializer
    filterset_fields = ["facility", "status", "elder"]

    def get_serializer_class(self):
        return {
            "create": s.ApplyInputSerializer,
            "offer": s.OfferSerializer,
            "admit": s.AdmitApplicationSerializer,
        }.get(self.action, s.ApplicationSerializer)

    def create(self, request, *args, **kwargs):
        data = s.ApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        application = services.apply_for_place(
            facility=_scoped_get(Facility, request.user, v["facility"], "facility"),
            elder=_scoped_get(Elder, request.user, v["elder"], "elder"),
            applied_on=v["applied_on"],
            note=v["note"],
            by=request.user,
        )
        return Response(s.ApplicationSerializer(application).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "通知轮候中的申请人入住本机构的一张空床位，申请变为“已通知入住”。通知日期不得晚于今天"
            "或早于申请日期；床位不属于该机构或申请不在轮候中时返回 400，床位已被占用返回 409。"
        )
    )
    @action(detail=True, methods=["post"])
    def offer(self, request, pk=None):
        data = s.OfferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.offer_bed(
            application=self.get_object(),
            bed=_scoped_get(Bed, request.user, data.validated_data["bed"], "bed"),
            on=data.validated_data["on"],
            by=request.user,
        )
        return Response(s.ApplicationSerializer(application).data)

    @extend_schema(
        description=gettext_lazy(
            "为轮候中或已通知入住的申请办理入住：入住已通知的床位，或另选的本机构床位，申请随之"
            "关闭，返回新的入住记录。床位已被占用（如两人同时为最后一张床位办理）时返回 409。"
        )
    )
    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        data = s.AdmitApplicationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bed_id = data.validated_data.get("bed")
        stay = services.admit_application(
            application=self.get_object(),
            on=data.validated_data["on"],
            bed=_scoped_get(Bed, request.user, bed_id, "bed") if bed_id else None,
            by=request.user,
        )
        return Response(s.StaySerializer(stay).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "在您管辖区域内的机构或本机构任职（含曾经任职）的养老护理员，附其证书和任职经历。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一名养老护理员的证书和任职经历；不在您权限范围内的返回 404。")
    ),
)
class CaregiverViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Caregiver.objects.prefetch_related(
        "certificates",
        Prefetch("employments", queryset=Employment.objects.select_related("facility")),
    )
    serializer_class = s.CaregiverSerializer


class StaffingView(APIView):
    """GET ?facility=CODE — the facility's check; GET ?region=CODE&fully_disabled=N&
    partially_disabled=N&self_caring=N — the planning form; GET ?region=CODE&short_staffed=1 —
    institutions short of caregivers."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "护理员配备，三种用法：给 facility 时为该机构的配备核查；给 region 和 short_staffed 时"
            "列出该区划内护理员不足的机构（仅限您权限范围内的）；给 region 和三类老年人数时，按该"
            "区划的规则库配比测算应配护理员数（配比未设定时返回 400）。"
        ),
        parameters=[
            OpenApiParameter(
                "facility", str, description=gettext_lazy("机构编码：该机构的护理员配备核查")
            ),
            OpenApiParameter(
                "region", str, description=gettext_lazy("区划代码（未给 facility 时必填）")
            ),
            OpenApiParameter(
                "short_staffed",
                str,
                description=gettext_lazy("非空：列出该区划内护理员不足的机构"),
            ),
            OpenApiParameter(
                "fully_disabled", int, description=gettext_lazy("测算：完全失能老人数")
            ),
            OpenApiParameter(
                "partially_disabled", int, description=gettext_lazy("测算：部分失能老人数")
            ),
            OpenApiParameter("self_caring", int, description=gettext_lazy("测算：自理老人数")),
            ON_PARAMETER,
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="Staffing",
                serializers=[
                    s.StaffingReportSerializer,
                    s.ShortStaffedSerializer,
                    s.StaffingPlanSerializer,
                ],
                resource_type_field_name=None,
            ),
            400: BAD_INPUT,
            404: OpenApiResponse(description=gettext_lazy("没有该编码的机构（或不在权限范围内）")),
        },
    )
    def get(self, request):
        on = _on(request)
        params = request.query_params
        try:
            if code := _code(request, "facility"):
                facility = (
                    scoped(Facility.objects.all(), request.user).filter(code=code.upper()).first()
                )
                if facility is None:
                    raise NotFound({"facility": _("没有编码为 %(code)s 的机构。") % {"code": code}})
                return Response(selectors.staffing_report(facility, on).as_dict())
            region = Region.objects.filter(code=_code(request, "region")).first()
            if region is None:
                raise ValidationError({"region": _("请给出 facility 或有效的 region 区划代码。")})
            if params.get("short_staffed"):
                reports = [
                    r.as_dict()
                    for r in selectors.short_staffed_facilities(region, on)
                    if scoped(Facility.objects.filter(pk=r.facility.pk), request.user).exists()
                ]
                return Response({"region": region.code, "short_staffed": reports})
            counts = {}
            for care_class, name in [
                (CareClass.FULLY_DISABLED, "fully_disabled"),
                (CareClass.PARTLY_DISABLED, "partially_disabled"),
                (CareClass.SELF_CARING, "self_caring"),
            ]:
                try:
                    counts[care_class] = int(params[name])
                    if counts[care_class] < 0:
                        raise ValueError
                except (KeyError, ValueError):
                    raise ValidationError({name: _("请给出非负整数人数。")}) from None
            return Response(selectors.required_for_counts(region, counts, on))
        except PolicyValueNotSet as missing:
            raise ValidationError(
                {"ratios": _("护理员配比未设定：%(missing)s") % {"missing": missing}}
            ) from None


class WorkforceView(APIView):
    """GET ?region=CODE — caregivers and beds of a jurisdiction against its targets."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "一个区划在某日的养老护理员和床位情况：持证护理员数、高级工及以上和持救护员证的人数、"
            "60 周岁以上户籍老年人数、按类型的床位数，并与规则库中的目标值比较（未设定时说明原因）。"
            "区划须在您的权限范围内。"
        ),
        parameters=[
            OpenApiParameter("region", str, required=True, description=gettext_lazy("区划代码")),
            ON_PARAMETER,
        ],
        responses={
            200: s.WorkforceSerializer,
            400: BAD_INPUT,
            403: OpenApiResponse(description=gettext_lazy("区划不在您的权限范围内")),
            404: OpenApiResponse(description=gettext_lazy("没有该代码的区划")),
        },
    )
    def get(self, request):
        region = get_object_or_404(Region, code=_code(request, "region"))
        require_region_in_scope(request.user, region)
        return Response(selectors.workforce_figures(region, _on(request)))


class LookupView(APIView):
    """GET ?code=… — scan an elder code or a bed code: who is where."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "扫描长者码或床位码：返回该老年人及其当前入住的床位和机构，或该床位、所属机构及当前"
            "入住的老年人。不在您权限范围内的码与不存在的码一样返回 404。"
        ),
        parameters=[
            OpenApiParameter(
                "code", str, required=True, description=gettext_lazy("长者码（E 开头）或床位码")
            )
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="CodeLookup",
                serializers={
                    "elder": s.ElderLookupSerializer,
                    "bed": s.BedLookupSerializer,
                },
                resource_type_field_name="kind",
            ),
            404: OpenApiResponse(
                description=gettext_lazy("没有该长者码或床位码（或不在权限范围内）")
            ),
        },
    )
    def get(self, request):
        code = _code(request, "code")
        result = selectors.lookup_code(
            code,
            elders=scoped(Elder.objects.all(), request.user),
            beds=scoped(Bed.objects.all(), request.user),
        )
        if result is None:
            raise NotFound({"code": _("没有找到长者码或床位码 %(code)s。") % {"code": code}})
        return Response(result)
