"""Admin of the visits app. Thin: writes go through visits.services; visits themselves are
logged from the field and only read here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.choices import Role
from accounts.permissions import ScopedAdminMixin
from accounts.scoping import OutOfScopeWrite, scoped
from accounts.selectors import user_label, users_with_role_in_scope
from visits import services
from visits.choices import FollowUpKind, FollowUpStatus
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker
from visits.selectors import local_tz


class _NoDeleteMixin:
    # Records with audit value are never deleted; corrections are new rows or closures.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VisitWorkerForm(forms.ModelForm):
    class Meta:
        model = VisitWorker
        fields = ["user", "area", "start_date", "end_date", "note"]

    def clean_area(self):
        area = self.cleaned_data["area"]
        if area.level not in services.AREA_LEVELS:
            raise ValidationError(_("探访区域须为街道、社区或网格。"))
        return area


@admin.register(VisitWorker)
class VisitWorkerAdmin(_NoDeleteMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    form = VisitWorkerForm
    list_display = ["user", "area", "start_date", "end_date"]
    list_filter = ["area__level"]
    search_fields = ["user__username", "area__name", "area__code"]
    autocomplete_fields = ["area"]
    list_select_related = ["user", "area"]

    def get_readonly_fields(self, request, obj=None):
        # An assignment's who, where and from-when are its identity: end it and add another.
        return ["user", "area", "start_date"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The workers of the writer's own areas (street workers there, and those already
        # assigned there), by name: never another area's staff, never a superuser's login
        # offered to a street office.
        if db_field.name == "user":
            assigned = scoped(VisitWorker.objects.all(), request.user).values("user_id")
            kwargs["queryset"] = users_with_role_in_scope(
                request.user, Role.STREET_WORKER, also=assigned
            )
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = user_label
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            services.end_assignment(assignment=obj, end_date=obj.end_date, by=request.user)
        else:
            saved = services.assign_worker(
                user=obj.user,
                area=obj.area,
                start_date=obj.start_date,
                end_date=obj.end_date,
                note=obj.note,
                by=request.user,
            )
            obj.pk = saved.pk


@admin.register(Visit)
class VisitAdmin(_NoDeleteMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["visited_at", "elder", "worker", "mode", "outcome", "needs_display"]
    list_filter = ["outcome", "mode", "visited_at"]
    date_hierarchy = "visited_at"
    search_fields = ["elder__name", "elder__elder_code", "worker__username", "uuid"]
    list_select_related = ["elder", "worker"]
    readonly_fields = [f.name for f in Visit._meta.fields]

    @admin.display(description=_("发现的需求"))
    def needs_display(self, obj) -> str:
        return "、".join(obj.needs)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class FollowUpTaskForm(forms.ModelForm):
    class Meta:
        model = FollowUpTask
        fields = ["status", "resolution"]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(_NoDeleteMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    form = FollowUpTaskForm
    list_display = ["opened_at", "kind", "status", "elder", "area", "closed_at"]
    list_filter = ["status", "kind"]
    search_fields = ["elder__name", "elder__elder_code"]
    list_select_related = ["elder", "area"]
    readonly_fields = ["visit", "elder", "area", "kind", "opened_at", "closed_at", "closed_by"]
    actions = ["confirm_death_on_visit_date"]

    def has_add_permission(self, request) -> bool:
        return False  # tasks are opened by visits

    def get_readonly_fields(self, request, obj=None):
        if obj and obj.status != FollowUpStatus.OPEN:
            return [*self.readonly_fields, "status", "resolution"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if obj.status == FollowUpStatus.OPEN:
            return
        try:
            services.close_follow_up(
                task=obj, resolution=obj.resolution, status=obj.status, by=request.user
            )
        except (ValidationError, OutOfScopeWrite) as error:
            self.message_user(request, "；".join(error.messages), messages.ERROR)

    @admin.action(description=_("核实死亡（死亡日期取探访日期）"))
    def confirm_death_on_visit_date(self, request, queryset):
        done = 0
        for task in queryset.filter(kind=FollowUpKind.DEATH_REPORT, status=FollowUpStatus.OPEN):
            death_date = task.visit.visited_at.astimezone(local_tz()).date()
            try:
                services.confirm_death(task=task, death_date=death_date, by=request.user)
                done += 1
            except (ValidationError, OutOfScopeWrite) as error:
                self.message_user(
                    request, f"{task.elder}：{'；'.join(error.messages)}", messages.ERROR
                )
        self.message_user(request, gettext("已核实 %(n)s 条死亡报告。") % {"n": done})


@admin.register(HealthCheck)
class HealthCheckAdmin(_NoDeleteMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["checked_on", "elder", "provider"]
    date_hierarchy = "checked_on"
    search_fields = ["elder__name", "elder__elder_code", "provider"]
    autocomplete_fields = ["elder"]
    list_select_related = ["elder"]
    fields = ["elder", "checked_on", "provider", "notes"]

    def get_readonly_fields(self, request, obj=None):
        return ["elder", "checked_on"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = services.record_health_check(
            elder=obj.elder,
            checked_on=obj.checked_on,
            provider=obj.provider,
            notes=obj.notes,
            by=request.user,
        )
        obj.pk = saved.pk
