"""Residents API: elders and ability assessments. Thin: parse, scope, call a service, render."""

import datetime

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
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
        parameters=[
            OpenApiParameter(
                "reason", str, description=gettext_lazy("查看完整身份证号的事由（记入审计日志）")
            )
        ]
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
