from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.choices import Role
from accounts.permissions import ScopedAdminMixin
from accounts.scoping import scope_of
from regions.catalog import KEY_CHOICES, get_key, search_keys
from regions.choices import PolicyUnit
from regions.conditions import annotations_of
from regions.models import EligibilityRule, PolicyValue, Region
from regions.services import (
    REVISABLE_FIELDS,
    PolicyChangeRefused,
    add_policy_value,
    plan_policy_revision,
    preview_change,
    require_rulebook_writer,
    revise_policy_value,
    validate_policy_value,
)


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

    def has_view_permission(self, request, obj=None) -> bool:
        # The administrative tree is public reference data (accounts.rules): every signed-in
        # staff user reads it, which is what the region pickers of their own forms ask (an
        # institution's 户籍地 when adding an elder, a street office's 负责区域). The menu entry
        # and every write still need the model permissions.
        user = request.user
        return bool(user.is_active and user.is_staff) or super().has_view_permission(request, obj)


class PolicyValueForm(forms.ModelForm):
    """A new row, or a change to a row: a changed value, frequency or minimum flag starts a new
    version from “自何日起执行” (the version in force ends the day before); every change needs
    a reason, kept in the history. Shares are typed and shown as percentages."""

    key = forms.ChoiceField(label=_("参数"), choices=KEY_CHOICES)
    applies_from = forms.DateField(
        label=_("自何日起执行"),
        required=False,
        help_text=_(
            "修改数值、频次或“为下限”时必填：原版本于前一日失效，新版本自该日起执行。"
            "填本版本的生效日期则更正本版本（追溯更正）。"
        ),
    )
    change_reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        help_text=_("记入修改历史，例如发文文号或会议决定。"),
    )

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

    user = None  # set by the admin: the writer whose scope the change is checked against

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.unit == PolicyUnit.SHARE:
            self.initial["value"] = _as_percent(self.instance.value)
        if "value" in self.fields:
            self.fields["value"].help_text = _(
                "留空表示“未设定”。比例类参数按百分数填写，例如 29.17 表示 29.17%。"
            )

    def _share(self, key: str | None) -> bool:
        return bool(key) and get_key(key).unit == PolicyUnit.SHARE

    def clean(self):
        cleaned = super().clean()
        key = self.instance.key if self.instance.pk else cleaned.get("key")
        value = cleaned.get("value")
        if value is not None and self._share(key):
            cleaned["value"] = value / 100
        return cleaned

    def _show_preview(self) -> None:
        """“预览影响”: nothing is saved; the form comes back with what the next run would pay
        differently (the run's own code, in a transaction rolled back)."""
        preview = preview_change(
            row=PolicyValue.objects.get(pk=self.instance.pk),
            applies_from=self.cleaned_data.get("applies_from"),
            changes=self.revisable_changes(),
            reason=self.cleaned_data.get("change_reason") or "预览",
            by=self.user,
        )
        text = preview.describe() if preview else _("该参数不影响津贴发放金额。")
        self.add_error(
            None, _("预览（尚未保存）：%(text)s。确认无误后请点击“保存”。") % {"text": text}
        )

    def revisable_changes(self) -> dict:
        return {f: self.cleaned_data[f] for f in REVISABLE_FIELDS if f in self.cleaned_data}

    def _post_clean(self):
        super()._post_clean()
        # A missing reason still lets the rule checks speak, so that every error shows at once.
        if set(self.errors) - {"change_reason"}:
            return
        try:
            region = self.instance.region
            require_rulebook_writer(self.user, region)
            if self.instance.pk:
                plan_policy_revision(
                    row=self.instance,
                    applies_from=self.cleaned_data.get("applies_from"),
                    changes=self.revisable_changes(),
                )
                if "_preview" in self.data and not self.errors:
                    self._show_preview()
            elif self.instance.key:
                self.instance.unit = get_key(self.instance.key).unit
                validate_policy_value(self.instance)
        except PolicyChangeRefused as refused:
            self.add_error("region" if not self.instance.pk else None, str(refused))
        except ValidationError as error:
            self._update_errors(error)


def _as_percent(value):
    return None if value is None else (value * 100).normalize()


class _KeyLanguageFilter(admin.SimpleListFilter):
    """The catalogue's keys by the name people know them by (Chinese), not the identifier."""

    title = _("参数")
    parameter_name = "key"

    def lookups(self, request, model_admin):
        return KEY_CHOICES

    def queryset(self, request, queryset):
        return queryset.filter(key=self.value()) if self.value() else queryset


@admin.register(PolicyValue)
class PolicyValueAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    form = PolicyValueForm
    change_form_template = "admin/regions/policyvalue/change_form.html"
    list_display = [
        "key_name",
        "region",
        "display_value_column",
        "is_minimum",
        "effective_from",
        "effective_to",
        "citation",
    ]
    list_filter = [_KeyLanguageFilter, "region__level", ("value", admin.EmptyFieldListFilter)]
    search_fields = ["key", "region__name", "region__code", "citation"]
    autocomplete_fields = ["region"]
    list_select_related = ["region"]
    date_hierarchy = "effective_from"

    def get_readonly_fields(self, request, obj=None):
        # Region, key and start identify a version; a change is a new version, not an edit.
        return ["region", "key", "effective_from"] if obj is not None else []

    def get_fields(self, request, obj=None):
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
        return (
            [*fields, "applies_from", "change_reason"]
            if obj is not None
            else [
                *fields,
                "change_reason",
            ]
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def _can_write_rulebook(self, request) -> bool:
        scope = scope_of(request.user)
        return scope.everything or (
            not scope.read_only and any(role == Role.BUREAU for role, path in scope.region_grants)
        )

    def has_add_permission(self, request) -> bool:
        return self._can_write_rulebook(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        if not self._can_write_rulebook(request):
            return False
        if obj is not None:
            try:
                require_rulebook_writer(request.user, obj.region)
            except PolicyChangeRefused:
                return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # versions are end-dated, never deleted: payment lines cite them

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        keys = search_keys(search_term)
        if keys:
            results = results | queryset.filter(key__in=keys)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        if change:
            revision = revise_policy_value(
                row=obj,
                applies_from=form.cleaned_data.get("applies_from"),
                reason=reason,
                by=request.user,
                **form.revisable_changes(),
            )
            if revision.starts_new_version:
                self.message_user(
                    request,
                    _("已自 %(date)s 起启用新版本；原版本于 %(end)s 失效。")
                    % {"date": revision.new.effective_from, "end": revision.ended.effective_to},
                )
        else:
            fields = {f: form.cleaned_data.get(f) for f in PolicyValueForm.Meta.fields}
            fields["frequency"] = fields["frequency"] or ""
            fields["note"] = fields["note"] or ""
            row = add_policy_value(by=request.user, reason=reason, **fields)
            obj.pk = row.pk

    @admin.display(description=_("参数"), ordering="key")
    def key_name(self, obj):
        key = get_key(obj.key)
        return format_html("{}<br><small>{}</small>", key.label, key.label_en)

    @admin.display(description=_("数值"))
    def display_value_column(self, obj):
        return obj.display_value


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Read-only: the rules come from regions/data/eligibility.toml (load_eligibility) and are
    shown with their condition in words; the history keeps every version's change."""

    list_display = [
        "label",
        "subject",
        "region",
        "rank",
        "effective_from",
        "effective_to",
        "condition_in_words",
        "citation",
    ]
    list_filter = ["subject", "region__level"]
    search_fields = ["code", "label", "region__name", "region__code", "citation"]
    list_select_related = ["region"]
    date_hierarchy = "effective_from"
    fields = [
        "subject",
        "code",
        "label",
        "region",
        "effective_from",
        "effective_to",
        "rank",
        "condition_in_words",
        "condition",
        "params",
        "citation",
        "note",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # versions are end-dated, never deleted

    @admin.display(description=_("适用条件"))
    def condition_in_words(self, obj):
        reasons = sorted(annotations_of(obj.condition))
        text = obj.describe()
        if not reasons:
            return text
        return format_html(
            "{}<br><small>{}</small>",
            text,
            format_html_join("、", gettext("记为 {}"), ((r,) for r in reasons)),
        )
