"""Residents API: elders and ability assessments. Thin: parse, scope, call a service, render."""

import datetime

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.choices import AuditAction
from accounts.permissions import ScopedQuerysetMixin
from accounts.scoping import scoped
from accounts.selectors import audit_reason, sees_full_personal_data
from accounts.services import record_audit
from accounts.throttling import id_number_lookup_refused
from config.i18n import interpolate_lazy
from residents import services
from residents.api.serializers import (
    AssessmentCreateSerializer,
    AssessmentDueSerializer,
    AssessmentOutSerializer,
    ElderCreateSerializer,
    ElderDetailSerializer,
    ElderListSerializer,
    ElderLookupInputSerializer,
    ElderLookupResultSerializer,
    RecordDeathSerializer,
)
from residents.assessment_rules import ITEM_FIELDS
from residents.filters import AssessmentFilter, ElderFilter
from residents.id_numbers import normalize_id_number
from residents.models import AbilityAssessment, Elder, ElderCategory
from residents.selectors import free_assessments_due

# How far ahead the list of assessments due may be asked for (planning the coming month).
DUE_LIST_DAYS_AHEAD = 31


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内的老年人：民政局为户籍地或常住地在其辖区的，街道社区为常住地在其辖区的"
            "（未登记常住地的按户籍地），机构工作人员为目前在本机构入住的。列表中身份证号已脱敏，"
            "只给年龄、不给出生日期；可按区划、类别、年龄段、性别、养老金类型、是否在世和姓名筛选，"
            "按身份证号查询须用 POST /api/residents/elders/lookup/（在此传 id_number 返回 400）。"
        )
    ),
    create=extend_schema(
        description=gettext_lazy(
            "登记一位老年人，性别和出生日期由身份证号得出。户籍地和常住地须在您的工作范围内"
            "（机构工作人员为准备入住本机构的老年人登记时除外）；身份证号无效或已登记时返回 400。"
            "返回的详情中身份证号不脱敏，不另记查看。"
        )
    ),
)
class ElderViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Elder.objects.select_related("hukou_region", "residence_region")
    filterset_class = ElderFilter

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("categories", queryset=ElderCategory.objects.order_by("start_date"))
            )
        return queryset

    def _detail(self, elder, *, looked: bool = True):
        """The detail of an elder; the full ID number only for roles that need it, and every
        such look is recorded (who, what, when, why — ``?reason=``)."""
        full = sees_full_personal_data(self.request.user)
        if full and looked:
            record_audit(
                user=self.request.user,
                action=AuditAction.VIEW_ID_NUMBER,
                object_type="residents.elder",
                object_id=elder.pk,
                reason=audit_reason(self.request),
                details={"via": "api"},
            )
        return ElderDetailSerializer(elder, context={"full_personal_data": full}).data

    @extend_schema(
        description=gettext_lazy(
            "一位老年人的详情及其类别期间；不在您工作范围内的返回 404。民政局、街道社区和机构"
            "工作人员可看到完整的身份证号、出生日期和电话，每次查看都记入审计日志（事由用 reason "
            "参数填写）；其他角色看到的身份证号和电话已脱敏，出生日期为空。"
        ),
        parameters=[
            OpenApiParameter(
                "reason", str, description=gettext_lazy("查看完整身份证号的事由（记入审计日志）")
            )
        ],
    )
    def retrieve(self, request, *args, **kwargs):
        return Response(self._detail(self.get_object()))

    def list(self, request, *args, **kwargs):
        if "id_number" in request.query_params:
            # Refused rather than ignored: a client that filtered by it would get every elder.
            raise ValidationError(
                {
                    "id_number": _(
                        "按身份证号查询请用 POST /api/residents/elders/lookup/（号码不进网址）。"
                    )
                }
            )
        return super().list(request, *args, **kwargs)

    def get_serializer_class(self):
        return {
            "retrieve": ElderDetailSerializer,
            "create": ElderCreateSerializer,
            "record_death": RecordDeathSerializer,
            "assessments_due": AssessmentDueSerializer,
            "lookup": ElderLookupInputSerializer,
        }.get(self.action, ElderListSerializer)

    def create(self, request, *args, **kwargs):
        serializer = ElderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        elder = services.create_elder(by=request.user, **serializer.validated_data)
        # The creator typed the number: showing it back is not a new look.
        return Response(self._detail(elder, looked=False), status=status.HTTP_201_CREATED)

    @extend_schema(
        description=gettext_lazy(
            "登记老年人的死亡日期：其类别于当日终止，在住床位于当日释放，未完成的跟进任务关闭，"
            "死亡次月起的补贴停发（已发放的列入追回），全部在一个事务中完成。死亡日期不得晚于今天或早于出生日期；"
            "已登记了另一个死亡日期的，须联系管理员更正。"
        )
    )
    @action(detail=True, methods=["post"], url_path="record-death")
    def record_death(self, request, pk=None):
        serializer = RecordDeathSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        elder = services.record_death(
            elder=self.get_object(),
            death_date=serializer.validated_data["death_date"],
            by=request.user,
        )
        # Read again unscoped: the death may end the stay that put the elder in the writer's
        # scope (an institution's resident), and the answer is the record just written.
        return Response(self._detail(self.queryset.get(pk=elder.pk)))

    @extend_schema(
        description=gettext_lazy(
            "按完整身份证号查找您工作范围内的老年人：号码放在请求体中，不进网址。返回找到的数量和"
            "身份证号已脱敏的记录，查到的记入审计日志。查询次数按用户限量，超出返回 429；只读角色"
            "也可调用。"
        ),
        request=ElderLookupInputSerializer,
        responses=ElderLookupResultSerializer,
        filters=False,
    )
    # A read sent as a POST: read-only roles (auditors) may look up too.
    @action(detail=False, methods=["post"], url_path="lookup", permission_classes=[IsAuthenticated])
    def lookup(self, request):
        """The elder (in the user's scope) with a whole ID number, sent in the body: a number in
        the URL would be written to access logs and browser histories. Each lookup tells whether
        a number exists, so they are rationed per user and a found one is recorded."""
        serializer = ElderLookupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wait = id_number_lookup_refused(request)
        if wait is not None:
            raise Throttled(wait=wait, detail=_("按身份证号查询过于频繁，请稍后再试。"))
        number = normalize_id_number(serializer.validated_data["id_number"])
        found = list(self.get_queryset().filter(id_number=number)[:1])
        for elder in found:
            record_audit(
                user=request.user,
                action=AuditAction.VIEW_ID_NUMBER,
                object_type="residents.elder",
                object_id=elder.pk,
                reason=serializer.validated_data.get("reason", ""),
                details={"via": "api", "lookup": True},
            )
        return Response(
            {"count": len(found), "results": ElderListSerializer(found, many=True).data}
        )

    @extend_schema(
        description=interpolate_lazy(
            gettext_lazy(
                "您工作范围内（并符合筛选条件）的在世老年人中，免费能力评估在 on 当日或之前到期的，"
                "最紧急的在前。on 须在今天至 %(days)s 天后之间，否则返回 400；到期日为生日的不显示"
                "日期，以免透露出生日期。"
            ),
            {"days": DUE_LIST_DAYS_AHEAD},
        ),
        parameters=[
            OpenApiParameter(
                "on",
                datetime.date,
                description=interpolate_lazy(
                    gettext_lazy("截止日期（默认今天；今天起 %(days)s 天内）"),
                    {"days": DUE_LIST_DAYS_AHEAD},
                ),
            )
        ],
        responses=AssessmentDueSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="assessments-due")
    def assessments_due(self, request):
        """Elders (in the user's scope and the filters) whose free assessment is due or overdue.

        ``on`` is today or a day of the coming month: on a chosen past day the list would say,
        elder by elder, whether they had turned 60 by then, and a few such days would find each
        birth date — the digits a masked ID number hides."""
        on = request.query_params.get("on")
        today = datetime.date.today()
        try:
            on = datetime.date.fromisoformat(on) if on else today
        except ValueError:
            raise ValidationError({"on": _("日期格式应为 YYYY-MM-DD。")}) from None
        if not today <= on <= today + datetime.timedelta(days=DUE_LIST_DAYS_AHEAD):
            raise ValidationError(
                {
                    "on": _("日期应在今天至 %(days)s 天后之间（%(today)s 起）。")
                    % {"days": DUE_LIST_DAYS_AHEAD, "today": today}
                }
            )
        due = free_assessments_due(on, self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(due)
        return self.get_paginated_response(AssessmentDueSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的能力评估记录：GB/T 42195-2022 各项评分、维度得分、总分、"
            "按总分得出的等级和最终等级；可按老年人、最终等级、评估标准和评估日期筛选。"
        )
    ),
    retrieve=extend_schema(
        description=gettext_lazy("一条能力评估记录；不在您工作范围内的返回 404。")
    ),
    create=extend_schema(
        description=gettext_lazy(
            "登记一次 GB/T 42195-2022 老年人能力评估：填写 26 项评分，总分、等级和按标准调整后的"
            "最终等级由系统得出；评估员另定最终等级时须填写变更依据。不在您工作范围内的老年人按"
            "不存在处理（400），评估日期不得晚于死亡日期。"
        )
    ),
)
class AssessmentViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AbilityAssessment.objects.all()
    filterset_class = AssessmentFilter

    def get_serializer_class(self):
        return AssessmentCreateSerializer if self.action == "create" else AssessmentOutSerializer

    def create(self, request, *args, **kwargs):
        serializer = AssessmentCreateSerializer(data=request.data)
        # Only elders the user can see may be assessed (others are "not found").
        serializer.fields["elder"].queryset = scoped(Elder.objects.all(), request.user)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        elder = data.pop("elder")
        scores = {field: data.pop(field) for field in ITEM_FIELDS}
        assessment = services.record_assessment(elder=elder, scores=scores, by=request.user, **data)
        return Response(AssessmentOutSerializer(assessment).data, status=status.HTTP_201_CREATED)
