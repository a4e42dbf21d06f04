"""The admin of the items' own records: meal points are registered and changed here (through
``save_meal_point``, scoped); adaptations, home-care beds and respite stays are read here and
written by their services through the API and the providers' spreadsheets."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from servicelist.item_services import save_meal_point
from servicelist.models import HomeAdaptation, HomeCareBed, MealPoint, RespiteStay


@admin.register(MealPoint)
class MealPointAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Meal points (助餐点) of the user's areas; closed by a closing day, never deleted (their
    meals cite them)."""

    list_display = ["name", "kind", "region", "facility", "opened_on", "closed_on"]
    list_filter = ["kind"]
    search_fields = ["name", "region__name", "region__code"]
    list_select_related = ["region", "facility"]
    autocomplete_fields = ["region", "facility"]
    fields = ["name", "kind", "region", "facility", "opened_on", "closed_on"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        save_meal_point(point=obj, by=request.user)


class _ReadOnly(ScopedAdminMixin, SimpleHistoryAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HomeAdaptation)
class HomeAdaptationAdmin(_ReadOnly):
    list_display = [
        "item",
        "elder",
        "applied_on",
        "assessed_on",
        "assessment",
        "completed_on",
        "subsidy",
        "subsidy_note",
    ]
    list_filter = ["assessment"]
    search_fields = ["elder__name", "=elder__elder_code", "item__code"]
    list_select_related = ["item", "elder"]


@admin.register(HomeCareBed)
class HomeCareBedAdmin(_ReadOnly):
    list_display = ["elder", "item", "provider_name", "set_up_on", "closed_on"]
    search_fields = ["elder__name", "=elder__elder_code", "provider_name"]
    list_select_related = ["item", "elder"]


@admin.register(RespiteStay)
class RespiteStayAdmin(_ReadOnly):
    list_display = ["elder", "item", "facility", "start_on", "end_on", "days", "yearly_allowance"]
    search_fields = ["elder__name", "=elder__elder_code", "facility__name"]
    list_select_related = ["item", "elder", "facility"]
