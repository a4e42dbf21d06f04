from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.audit_trail import (
    actor_label,
    attach_objects,
    command_label,
    details_text,
    export_rows,
    kind_label,
    local_time,
    user_label,
)
from accounts.choices import AuditAction, Role
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import scope_of
from accounts.services import record_audit
from accounts.spreadsheets import csv_text

# The admin is where institution staff, finance and bureaus do their daily work: it names the
# system, and its home page (templates/admin/index.html) lists each role's tasks first.
admin.site.site_header = _("浙江省基本养老服务系统")
admin.site.site_title = _("浙江省基本养老服务系统")
admin.site.index_title = _("今日工作")
# Lists get the whole width: at 1366 px the model menu beside them would push the last columns
# (a line's batch, a stay's dates) out of view. The home page and the breadcrumbs lead there.
admin.site.enable_nav_sidebar = False


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    """Who covers what: granted by superusers (model permissions), never by the scoped roles."""

    list_display = ["user", "role", "region", "facility"]
    list_filter = ["role"]
    search_fields = ["user__username", "region__name", "region__code", "facility__name"]
    autocomplete_fields = ["user", "region", "facility"]
    list_select_related = ["user", "region", "facility"]

    # Who may see what is a sensitive act: every grant, change and withdrawal is in the trail.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._record(request, obj, _("修改") if change else _("授予"))

    def delete_model(self, request, obj):
        self._record(request, obj, _("撤销授权"))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("region", "facility"):
            self._record(request, obj, _("撤销授权"))
        super().delete_queryset(request, queryset)

    def _record(self, request, obj, verb) -> None:
        record_audit(
            user=request.user,
            action=AuditAction.ROLE_CHANGE,
            object_type="auth.user",
            object_id=obj.user_id,
            details={
                "change": str(verb),
                "role": obj.get_role_display(),
                "area": str(obj.region or obj.facility or ""),
            },
        )


class AuditUserFilter(admin.SimpleListFilter):
    """The users who appear in the trail, by name."""

    title = _("用户")
    parameter_name = "user"

    def lookups(self, request, model_admin):
        ids = AuditEntry.objects.exclude(user=None).values("user").distinct()
        users = get_user_model().objects.filter(pk__in=ids).order_by("username")
        commands = (
            AuditEntry.objects.filter(user=None)
            .exclude(command="")
            .values_list("command", flat=True)
            .distinct()
            .order_by("command")
        )
        return [
            ("system", _("系统")),
            *((f"command:{c}", command_label(c)) for c in commands),
            *((str(u.pk), user_label(u)) for u in users),
        ]

    def queryset(self, request, queryset):
        if self.value() == "system":
            return queryset.filter(user=None)
        if self.value() and self.value().startswith("command:"):
            return queryset.filter(user=None, command=self.value().removeprefix("command:"))
        if self.value() and self.value().isdigit():
            return queryset.filter(user_id=int(self.value()))
        return queryset


class AuditKindFilter(admin.SimpleListFilter):
    """Kinds of object by their names (老年人, 支付批次 …), not ``app_label.model``."""

    title = _("对象类型")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = AuditEntry.objects.values_list("object_type", flat=True).distinct()
        return sorted(((k, kind_label(k)) for k in kinds), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is evidence: it can be read (superusers and auditors), filtered by user,
    act, kind of object and day, and exported; never changed or deleted. Times are Beijing
    time on the list, the detail and the export alike."""

    list_display = ["local_at", "who", "action", "what", "reason"]
    list_filter = [AuditUserFilter, "action", AuditKindFilter]
    search_fields = ["user__username", "user__first_name", "user__last_name", "command", "reason"]
    date_hierarchy = "at"
    list_select_related = ["user"]
    fields = ["local_at", "who", "action", "what", "reason", "details_shown"]
    readonly_fields = fields
    change_list_template = "admin/accounts/auditentry/change_list.html"

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

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        attach_objects(changelist.result_list)
        return changelist

    def get_object(self, request, object_id, from_field=None):
        entry = super().get_object(request, object_id, from_field)
        if entry is not None:
            attach_objects([entry])
        return entry

    @admin.display(description=_("时间（北京时间）"), ordering="at")
    def local_at(self, entry):
        return local_time(entry.at)

    @admin.display(description=_("用户"), ordering="user__username")
    def who(self, entry):
        return actor_label(entry)

    @admin.display(description=_("对象"))
    def what(self, entry):
        if getattr(entry, "admin_url", ""):
            return format_html('<a href="{}">{}</a>', entry.admin_url, entry.described)
        return getattr(entry, "described", entry.object_type)

    @admin.display(description=_("详情"))
    def details_shown(self, entry):
        return details_text(entry) or "—"

    def get_urls(self):
        own = [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="accounts_auditentry_export",
            )
        ]
        return own + super().get_urls()

    def export_view(self, request):
        """The entries the list shows (its filters and search), as CSV for Excel: a byte-order
        mark, local times, every cell through ``safe_cell``. The export is itself recorded."""
        if not self._reader(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        entries = changelist.get_queryset(request).select_related("user").iterator(2000)
        text = csv_text(export_rows(entries))
        record_audit(
            user=request.user,
            action=AuditAction.EXPORT,
            object_type="accounts.auditentry",
            details={"filters": dict(request.GET.items())},
        )
        response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
        return response
