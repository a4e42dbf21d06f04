"""Insurers and their covers in the admin: the bureau or finance of a region registers the
insurers it contracts with and which insurer covers a scheme's elders where and when. Saving
goes through subsidies.insurers (the credit code validated, covers never overlapping, the
writer's scope checked, history kept). The insured lists are exported with
``export_insured_list`` or the API (subsidies.insured_lists)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from subsidies.insurers import register_insurer, set_insurance_cover
from subsidies.models import InsuranceCover, Insurer


@admin.register(Insurer)
class InsurerAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "uscc", "region", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "uscc"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an insurer paid once stays on record; it is marked not in use

    def save_model(self, request, obj, form, change):
        register_insurer(insurer=obj, by=request.user)


@admin.register(InsuranceCover)
class InsuranceCoverAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["region", "scheme", "insurer", "start_date", "end_date", "policy_number"]
    list_filter = ["scheme"]
    search_fields = ["region__name", "region__code", "insurer__name", "policy_number"]
    autocomplete_fields = ["region", "insurer"]
    list_select_related = ["region", "scheme", "insurer"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lines name the insurer a cover chose: a cover is ended, not deleted

    def save_model(self, request, obj, form, change):
        set_insurance_cover(cover=obj, by=request.user)
