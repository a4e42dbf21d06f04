from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from regions.catalog import KEY_CHOICES, get_key
from regions.models import PolicyValue, Region
from regions.services import validate_policy_value


@admin.register(Region)
class RegionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "level",
        "parent",
        "is_active",
        "valid_from_year",
        "valid_to_year",
    ]
    list_filter = ["level", "is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path"]
    list_select_related = ["parent"]


class PolicyValueForm(forms.ModelForm):
    """The unit follows from the key; the floor and overlap rules are checked on save."""

    key = forms.ChoiceField(label=_("参数"), choices=KEY_CHOICES)

    class Meta:
        model = PolicyValue
        fields = [
            "region",
            "key",
            "value",
            "frequency",
            "is_minimum",
            "effective_from",
            "effective_to",
            "citation",
            "note",
        ]

    def _post_clean(self):
        super()._post_clean()
        if self.errors or not self.instance.key:
            return
        self.instance.unit = get_key(self.instance.key).unit
        try:
            validate_policy_value(self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(PolicyValue)
class PolicyValueAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    form = PolicyValueForm
    list_display = [
        "key",
        "region",
        "display_value_column",
        "is_minimum",
        "effective_from",
        "effective_to",
        "citation",
    ]
    list_filter = ["key", "region__level", ("value", admin.EmptyFieldListFilter)]
    search_fields = ["key", "region__name", "region__code", "citation"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]
    date_hierarchy = "effective_from"

    @admin.display(description=_("数值"))
    def display_value_column(self, obj):
        return obj.display_value
