from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ScopedQuerysetMixin, ScopedWritePermission
from regions.api.serializers import (
    PolicyRevisionResultSerializer,
    PolicyRevisionSerializer,
    PolicyValueSerializer,
    RegionSerializer,
    ResolvedPolicySerializer,
    ResolveQuerySerializer,
)
from regions.models import PolicyValue, Region
from regions.selectors import resolve_policy
from regions.services import preview_change, revise_policy_value


@extend_schema_view(
    list=extend_schema(
        description=_(
            "行政区划（省、设区市、县（市、区）、乡镇（街道）、村（社区）、网格）列表，"
            "所有已登录用户均可读取全部区划；可按层级、是否有效和上级区划代码筛选。"
        )
    ),
    retrieve=extend_schema(
        description=_("按区划代码查看一个行政区划：名称、层级、上级区划、是否有效和有效年份。")
    ),
)
class RegionViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.select_related("parent")
    serializer_class = RegionSerializer
    lookup_field = "code"
    filterset_fields = ["level", "is_active", "parent__code"]


@extend_schema_view(
    list=extend_schema(
        description=_(
            "规则库（政策参数）的各行：区划、参数键、数值或频次、单位、是否为最低标准、有效期和"
            "依据文件，is_set 为 false 表示依据文件提到该项但未给出数值。规则库是公开文件，"
            "所有已登录用户均可读取各区划的参数；可按参数键和区划代码筛选。"
        )
    ),
    retrieve=extend_schema(description=_("规则库中一行政策参数的详情。")),
)
class PolicyValueViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PolicyValue.objects.select_related("region")
    serializer_class = PolicyValueSerializer
    filterset_fields = ["key", "region__code"]

    @extend_schema(
        description=_(
            "修改规则库中的一行，须填写原因：数值、频次或最低标准标记改变时自 applies_from 起"
            "生成新版本（原版本于前一日结束），依据、备注和结束日期在原行更正。只有管辖该区划的"
            "民政局可以修改，否则返回 403；preview 为 true 时不保存，只返回下次发放受影响的人数和"
            "金额差额。改动涉及已发放的月份时，返回重新核算这些月份的更正任务（correction_job），"
            "无需更正时为空。"
        ),
        request=PolicyRevisionSerializer,
        responses=PolicyRevisionResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """Change a row as the admin does: a changed value, frequency or minimum flag starts a
        new version from ``applies_from`` (the row in force ends the day before); every change
        needs a reason. Only a bureau covering the row's region may write. A change to months
        already paid answers with the correction job that recomputes them (``correction_job``,
        ``correction_job_url``: /api/subsidies/corrections/{id}/), null when none is needed."""
        data = PolicyRevisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        reason = changes.pop("reason")
        applies_from = changes.pop("applies_from", None)
        if changes.pop("preview", False):
            preview = preview_change(
                row=self.get_object(),
                applies_from=applies_from,
                changes=changes,
                reason=reason,
                by=request.user,
            )
            return Response(PolicyRevisionResultSerializer({"preview": preview}).data)
        revision = revise_policy_value(
            row=self.get_object(),
            applies_from=applies_from,
            reason=reason,
            by=request.user,
            **changes,
        )
        job_path = revision.follow_up.get("correction_job_url")
        return Response(
            PolicyRevisionResultSerializer(
                {
                    "starts_new_version": revision.starts_new_version,
                    "ended": revision.ended,
                    "new": revision.new,
                    "correction_job": revision.follow_up.get("correction_job"),
                    "correction_job_url": job_path and request.build_absolute_uri(job_path),
                }
            ).data
        )


class ResolvePolicyView(APIView):
    """The value of a policy key for a region on a date, with the row and region it comes from."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=_(
            "某区划在某日适用的政策参数值：从该区划起逐级向上，取最近一个有当日有效规则行的区划，"
            "并给出来源区划和依据文件；未设定时 is_set 为 false，reason 说明原因。参数键未知或"
            "区划代码不存在时返回 400。所有已登录用户均可调用。"
        ),
        parameters=[ResolveQuerySerializer],
        responses=ResolvedPolicySerializer,
    )
    def get(self, request):
        query = ResolveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        resolved = resolve_policy(data["key"], data["region"], data["date"])
        return Response(
            ResolvedPolicySerializer(
                {
                    "key": data["key"],
                    "region": data["region"].code,
                    "date": data["date"],
                    "is_set": resolved.is_set,
                    "value": resolved.value,
                    "frequency": resolved.frequency,
                    "source_region": resolved.source_region.code if resolved.row else None,
                    "citation": resolved.citation,
                    "reason": "" if resolved.is_set else resolved.not_set_reason,
                }
            ).data
        )
