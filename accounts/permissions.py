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

    # django-simple-history's pages fall back to the historical rows when the object is not in
    # get_queryset(), and its "revert" form saves a past version directly: both would bypass
    # the scope and the services. History is shown for objects in scope only, and read only.
    def _require_in_scope(self, request, object_id) -> None:
        from django.contrib.admin.utils import unquote
        from django.http import Http404

        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        from django.http import HttpResponseNotAllowed

        self._require_in_scope(request, object_id)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None) -> bool:
        return True
