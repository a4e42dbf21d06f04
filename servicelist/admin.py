from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from regions import conditions
from regions.models import Region
from servicelist.choices import SurveySource
from servicelist.models import SatisfactionSurvey, ServiceDelivery, ServiceItem
from servicelist.selectors import region_list
from servicelist.services import find_provider, record_survey, save_service_item, validate_item


class ServiceItemForm(forms.ModelForm):
    """Every check of the service (the condition language, the standard's key, overlapping
    versions, "not lower" than the item above) shown on its field, never as a 500."""

    change_reason = forms.CharField(label=_("修改原因"), max_length=100)

    class Meta:
        model = ServiceItem
        fields = [
            "region",
            "number",
            "name",
            "name_en",
            "target_group",
            "content",
            "kind",
            "reached_through",
            "condition",
            "standard_key",
            "schemes",
            "department",
            "legal_basis",
            "citation",
            "is_addition",
            "corresponds_to",
            "effective_from",
            "effective_to",
            "note",
        ]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            validate_item(self.instance)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)


@admin.register(ServiceItem)
class ServiceItemAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """The lists' items; each bureau edits its own region's (scoped), versions are end-dated,
    never deleted. "打印清单" prints a region's list as published, inherited items included."""

    form = ServiceItemForm
    list_display = ["code", "name", "kind", "standard_key", "effective_from", "effective_to"]
    list_filter = ["kind", "reached_through", "region__level", "is_addition"]
    search_fields = ["code", "name", "name_en", "target_group", "citation"]
    list_select_related = ["region"]
    readonly_fields = ["code", "condition_in_words"]
    change_list_template = "servicelist/serviceitem_changelist.html"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # end-dated, never deleted: deliveries cite them

    def save_model(self, request, obj, form, change):
        save_service_item(item=obj, by=request.user, reason=form.cleaned_data["change_reason"])

    @admin.display(description=_("适用条件（文字）"))
    def condition_in_words(self, obj):
        if obj.condition is None:
            return _("对象无法从名册判定")
        return conditions.describe(obj.condition)

    def get_urls(self):
        printable = path(
            "printable/",
            self.admin_site.admin_view(self.printable_view),
            name="servicelist_serviceitem_printable",
        )
        return [printable, *super().get_urls()]

    def printable_view(self, request):
        """A region's list on a day, as the published list reads: its own items, then those
        it inherits from each list above."""
        code = (request.GET.get("region") or "330000").strip()
        region = Region.objects.filter(code=code).first() or Region.objects.get(code="330000")
        try:
            on = timezone.datetime.fromisoformat(request.GET["date"]).date()
        except (KeyError, ValueError):
            on = timezone.localdate()
        listed = region_list(region, on)
        return render(
            request,
            "servicelist/printable_list.html",
            {
                **self.admin_site.each_context(request),
                "region": region,
                "on": on,
                "own": [li for li in listed if not li.inherited],
                "inherited": [li for li in listed if li.inherited],
                "title": gettext("%(region)s基本养老服务清单") % {"region": region.name},
            },
        )


@admin.register(ServiceDelivery)
class ServiceDeliveryAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Deliveries in kind, read here; recorded by import_deliveries and the providers' API
    (servicelist.services.record_delivery, which checks the scope)."""

    list_display = ["item", "elder", "delivered_on", "provider_name", "quantity", "amount"]
    list_filter = ["source", "delivered_on"]
    search_fields = ["item__code", "provider_name", "elder__name"]
    list_select_related = ["item", "elder"]
    readonly_fields = [f.name for f in ServiceDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The service names a refusal by the column of the survey sheets and the API (``date``,
# ``id_number``); the admin's form calls those fields otherwise.
SURVEY_FORM_FIELDS = {"date": "surveyed_on", "id_number": "elder"}


def on_form_fields(error: ValidationError, fields: dict[str, str]) -> ValidationError:
    """A service's refusal with its fields renamed to the form's, so that the admin shows
    each message beside its field rather than above the form."""
    if not hasattr(error, "error_dict"):
        return error
    renamed: dict[str, list] = {}
    for name, messages in error.error_dict.items():
        renamed.setdefault(fields.get(name, name), []).extend(messages)
    return ValidationError(renamed)


class SatisfactionSurveyForm(forms.ModelForm):
    """An answer entered by bureau staff (a paper survey, a phone call): the provider by its
    facility code or name, as in the survey sheets."""

    provider = forms.CharField(
        label=_("服务提供方"),
        required=False,
        max_length=200,
        help_text=_("机构代码或名称；与服务项目至少填一项。"),
    )

    class Meta:
        model = SatisfactionSurvey
        fields = ["elder", "item", "provider", "surveyed_on", "score", "comment"]


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Satisfaction surveys (满意度测评): read, and entered one by one through the same
    service as the street workers' API and the survey sheets (servicelist.services
    .record_survey, which checks the scope, the item's region and the dates). An answer is
    the elder's: not edited nor deleted here."""

    form = SatisfactionSurveyForm
    list_display = ["surveyed_on", "elder", "item", "provider_name", "score", "source"]
    list_filter = ["score", "source"]
    date_hierarchy = "surveyed_on"
    search_fields = ["elder__name", "=elder__elder_code", "item__code", "provider_name"]
    list_select_related = ["elder", "item"]
    autocomplete_fields = ["elder", "item"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SatisfactionSurvey._meta.fields] if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        return ["elder", "item", "provider_name", "surveyed_on", "score", "comment", "source"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        try:
            result = record_survey(
                elder=obj.elder,
                surveyed_on=obj.surveyed_on,
                score=obj.score,
                item=obj.item,
                provider=find_provider(form.cleaned_data["provider"], required=False),
                comment=obj.comment,
                source=SurveySource.ADMIN,
                by=request.user,
            )
        except ValidationError as error:
            raise on_form_fields(error, SURVEY_FORM_FIELDS) from None
        obj.pk = result.survey.pk


# The items' own records (meal points, adaptations, home-care beds, respite) have their
# own module; importing it registers them.
from servicelist import admin_records  # noqa: E402, F401
