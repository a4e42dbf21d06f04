from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import scope_of
from accounts.throttling import LoginThrottle


class TokenLoginView(ObtainAuthToken):
    """Exchange a username and password for the token field apps send as
    ``Authorization: Token …``. Throttled per client address across all workers, and locked
    after repeated failures (django-axes)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginThrottle]
    throttle_scope = "login"


class MeView(APIView):
    """Who is signed in, their roles and the areas they cover."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(),
                "is_superuser": serializers.BooleanField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "regions": serializers.ListField(child=serializers.CharField()),
                "read_only": serializers.BooleanField(),
            },
        )
    )
    def get(self, request):
        scope = scope_of(request.user)
        regions = [
            {"role": a.role, "region": a.region.code if a.region_id else None}
            for a in request.user.role_assignments.select_related("region")
        ]
        return Response(
            {
                "username": request.user.get_username(),
                "is_superuser": request.user.is_superuser,
                "roles": sorted(scope.roles),
                "regions": [r["region"] for r in regions if r["region"]],
                "read_only": scope.read_only,
            }
        )
