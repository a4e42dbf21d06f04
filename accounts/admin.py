from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import scope_of

# The admin is where institution staff, finance and bureaus do their daily work: it names the
# system, and its home page (templates/admin/index.html) lists each role's tasks first.
admin.site.site_header = _("浙江省基本养老服务系统")
admin.site.site_title = _("浙江省基本养老服务系统")
admin.site.index_title = _("今日工作")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    """Who covers what: granted by superusers (model permissions), never by the scoped roles."""

    list_display = ["user", "role", "region", "facility"]
    list_filter = ["role"]
    search_fields = ["user__username", "region__name", "region__code", "facility__name"]
    autocomplete_fields = ["user", "region", "facility"]
    list_select_related = ["user", "region", "facility"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is evidence: it can be read (superusers and auditors), never changed or
    deleted."""

    list_display = ["at", "user", "action", "object_type", "object_id", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["user__username", "object_id", "reason"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def _reader(self, request) -> bool:
        scope = scope_of(request.user)
        return scope.everything or Role.AUDITOR in scope.roles

    def has_module_permission(self, request):
        return self._reader(request)

    def has_view_permission(self, request, obj=None):
        return self._reader(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
