from drf_spectacular.utils import extend_schema
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


class RegionViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.select_related("parent")
    serializer_class = RegionSerializer
    lookup_field = "code"
    filterset_fields = ["level", "is_active", "parent__code"]


class PolicyValueViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PolicyValue.objects.select_related("region")
    serializer_class = PolicyValueSerializer
    filterset_fields = ["key", "region__code"]

    @extend_schema(request=PolicyRevisionSerializer, responses=PolicyRevisionResultSerializer)
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

    @extend_schema(parameters=[ResolveQuerySerializer], responses=ResolvedPolicySerializer)
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
