from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ScopedQuerysetMixin, ScopedWritePermission
from regions.api.serializers import (
    PolicyValueSerializer,
    RegionSerializer,
    ResolvedPolicySerializer,
    ResolveQuerySerializer,
)
from regions.models import PolicyValue, Region
from regions.selectors import resolve_policy


class RegionViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.select_related("parent")
    serializer_class = RegionSerializer
    lookup_field = "code"
    filterset_fields = ["level", "is_active", "parent__code"]


class PolicyValueViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PolicyValue.objects.select_related("region")
    serializer_class = PolicyValueSerializer
    filterset_fields = ["key", "region__code"]


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
