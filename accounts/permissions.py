"""The API and admin side of scoping: querysets narrowed by ``scoped``; auditors read only."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.scoping import scope_of, scoped


class ScopedWritePermission(BasePermission):
    """Authenticated users; writes only for roles that are not read-only (auditors)."""

    message = "只读角色不能修改数据。"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or not scope_of(request.user).read_only


class ScopedQuerysetMixin:
    """For DRF views: every list, detail, search, filter and count goes through ``scoped``.

    An object outside the scope is simply not found (404), so its existence does not leak.
    """

    permission_classes = [ScopedWritePermission]

    def get_queryset(self):
        return scoped(super().get_queryset(), self.request.user)


class ScopedAdminMixin:
    """For ModelAdmin classes: the changelist, detail pages, autocompletes and actions see only
    the user's scope; auditors see everything in their scope read-only."""

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    def _read_only(self, request) -> bool:
        return scope_of(request.user).read_only

    def has_add_permission(self, request, *args) -> bool:
        return not self._read_only(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._read_only(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._read_only(request) and super().has_delete_permission(request, obj)
