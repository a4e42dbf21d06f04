from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import scope_of
from accounts.throttling import LoginThrottle


@extend_schema_view(
    post=extend_schema(
        description=_(
            "用用户名和密码换取令牌，此后的每个请求在请求头中发送"
            "“Authorization: Token <令牌>”。用户名或密码错误返回 400；同一客户端地址登录过于频繁"
            "返回 429；同一用户名在同一地址连续多次登录失败后暂时锁定，期间即使密码正确也返回与"
            "密码错误相同的 400，不向猜测者透露锁定。"
        )
    )
)
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
        description=_(
            "当前登录用户的信息：用户名、是否超级管理员、所担任的角色、所管辖区域的区划代码，"
            "以及是否只读（只担任审计角色的账号只读，不能修改数据）。任何已登录用户均可调用。"
        ),
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(),
                "is_superuser": serializers.BooleanField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "regions": serializers.ListField(child=serializers.CharField()),
                "read_only": serializers.BooleanField(),
            },
        ),
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
