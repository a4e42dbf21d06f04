"""Admin of the elder registry. Thin: writes go through residents.services / importing."""

from __future__ import annotations

import datetime
import re

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.choices import AuditAction
from accounts.masking import mask_phone
from accounts.permissions import ScopedAdminMixin
from accounts.reveal import NewPhoneFormMixin, RevealPersonalDataMixin
from accounts.scoping import scope_of
from accounts.services import record_audit
from accounts.throttling import id_number_lookup_refused
from accounts.uploads import check_upload_size
from regions.choices import RegionLevel
from regions.models import Region
from residents import import_jobs, importing, services
from residents.choices import AgeBand, Category, ImportJobState
from residents.id_numbers import mask_id_number, normalize_id_number
from residents.models import (
    ELDER_CODE_ALPHABET,
    AbilityAssessment,
    Elder,
    ElderCategory,
    ImportJob,
)
from residents.paginators import LargeTableAdminMixin
from residents.selectors import age_on, birth_date_range_for_age_band, elders_in_category

# Seconds between reloads of an import's page while a worker checks or writes it.
IMPORT_REFRESH_SECONDS = 3
# Rejected rows shown on the import's page; all of them are in its errors file.
IMPORT_ERRORS_SHOWN = 200

# What a search term that is a whole ID number or elder code looks like: such a term is looked
# up by its unique index alone.
ID_NUMBER_SHAPE = re.compile(r"^\d{17}[\dX]$")
ELDER_CODE_SHAPE = re.compile(rf"^E[{ELDER_CODE_ALPHABET}]{{11}}$")


class _RegionWithinFilter(admin.SimpleListFilter):
    """Counties and streets (and the region below them) of the elders in the list."""

    field = ""

    def lookups(self, request, model_admin):
        elders = model_admin.get_queryset(request)
        if scope_of(request.user).everything:
            # The whole registry: ask each region whether an elder points at it (one index
            # probe per region) instead of reading a million elders for their distinct places.
            paths = Region.objects.filter(
                Exists(Elder.objects.filter(**{self.field: OuterRef("pk")}))
            ).values_list("path", flat=True)
        else:
            # A user's area: the distinct places of the elders they see, as many as their area
            # holds. Without the list's ordering: DISTINCT would otherwise be taken over
            # (place, id), one row per elder of the area.
            paths = (
                elders.exclude(**{f"{self.field}__isnull": True})
                .order_by()
                .values_list(f"{self.field}__path", flat=True)
                .distinct()
            )
        codes = {code for p in paths for code in p.split("/") if code}
        regions = Region.objects.filter(
            code__in=codes, level__in=[RegionLevel.COUNTY, RegionLevel.STREET]
        ).order_by("path")
        return [
            (r.code, f"{'　' if r.level == RegionLevel.STREET else ''}{r.name}") for r in regions
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        region = Region.objects.filter(code=self.value()).first()
        if region is None:
            return queryset.none()
        return queryset.filter(**{f"{self.field}__path__startswith": region.path})


class HukouRegionFilter(_RegionWithinFilter):
    title = _("户籍地")
    parameter_name = "hukou"
    field = "hukou_region"


class ResidenceRegionFilter(_RegionWithinFilter):
    title = _("常住地")
    parameter_name = "residence"
    field = "residence_region"


class CategoryFilter(admin.SimpleListFilter):
    title = _("当前类别")
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return Category.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        held = elders_in_category(self.value(), datetime.date.today())
        return queryset.filter(pk__in=held.values("pk"))


class AgeBandFilter(admin.SimpleListFilter):
    title = _("年龄段")
    parameter_name = "age_band"

    def lookups(self, request, model_admin):
        return AgeBand.choices

    def queryset(self, request, queryset):
        if not self.value() or self.value() not in AgeBand.values:
            return queryset
        return queryset.filter(birth_date_range_for_age_band(self.value(), datetime.date.today()))


class AliveFilter(admin.SimpleListFilter):
    title = _("状态")
    parameter_name = "alive"

    def lookups(self, request, model_admin):
        return [("yes", _("在世")), ("no", _("已故"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(death_date__isnull=self.value() == "yes")
        return queryset


class ElderCategoryInline(admin.TabularInline):
    model = ElderCategory
    extra = 0
    fields = ["category", "start_date", "end_date", "note"]
    can_delete = False  # periods are ended, never deleted

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False


class AbilityAssessmentInline(admin.TabularInline):
    model = AbilityAssessment
    extra = 0
    fields = ["assessed_on", "standard", "total_score", "computed_level", "final_level", "assessor"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ElderForm(NewPhoneFormMixin, forms.ModelForm):
    class Meta:
        model = Elder
        fields = [
            "id_number",
            "name",
            "hukou_region",
            "residence_region",
            "phone",
            "pension_type",
            "disability_category",
            "disability_grade",
        ]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("名册文件（CSV 或 XLSX）"),
        help_text=_(
            "列：id_number,name,hukou_region,residence_region,phone,categories,pension,death_date；"
            "类别代码以“|”分隔；可选列 disability_category,disability_grade（残疾人证类别和等级）。"
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_upload_size(upload)
        return upload


@admin.register(Elder)
class ElderAdmin(
    RevealPersonalDataMixin, LargeTableAdminMixin, ScopedAdminMixin, SimpleHistoryAdmin
):
    form = ElderForm
    list_display = [
        "name",
        "masked_id_number",
        "sex",
        # The age, never the birth date: the masked digits of the ID number are the birth date.
        "age",
        "hukou_region",
        "residence_region",
        "pension_type",
        "elder_code",
        "death_date",
    ]
    list_select_related = ["hukou_region", "residence_region"]
    # Exact ID number only: lists never reveal numbers by partial match. The search travels in
    # the URL (?q=); the logs keep paths without query strings (accounts.masking).
    search_fields = ["name", "=id_number", "=elder_code"]
    # Says what the box finds: a part of a number finds no one, on purpose (see above).
    search_help_text = _("按姓名查找；身份证号（18 位）或长者码（E 开头）须完整输入。")
    list_filter = [
        HukouRegionFilter,
        ResidenceRegionFilter,
        CategoryFilter,
        AgeBandFilter,
        "pension_type",
        "sex",
        AliveFilter,
    ]
    autocomplete_fields = ["hukou_region", "residence_region"]
    inlines = [ElderCategoryInline, AbilityAssessmentInline]
    change_list_template = "admin/residents/elder/change_list.html"

    def get_search_results(self, request, queryset, search_term):
        """A whole ID number or elder code is looked up exactly, by its unique index; any
        other term searches names (and exact numbers and codes) as ``search_fields`` say.

        A whole ID number tells whether a guessed number exists: such searches share the user's
        budget with the API lookup (accounts.throttling), and one that finds someone is
        recorded as a look at the number."""
        number = normalize_id_number(search_term)
        if ID_NUMBER_SHAPE.match(number):
            if id_number_lookup_refused(request) is not None:
                messages.warning(request, _("按身份证号查询过于频繁，请稍后再试。"))
                return queryset.none(), False
            found = queryset.filter(id_number=number)
            for pk in found.values_list("pk", flat=True)[:1]:
                record_audit(
                    user=request.user,
                    action=AuditAction.VIEW_ID_NUMBER,
                    object_type="residents.elder",
                    object_id=pk,
                    details={"via": "admin", "lookup": True},
                )
            return found, False
        if ELDER_CODE_SHAPE.match(number):
            return queryset.filter(elder_code=number), False
        # Any other term searches names only: a number or code in another shape matches no
        # one (they are stored whole and normalised), and an OR with them would keep the
        # trigram index of names (migration 0006) from serving the search on PostgreSQL.
        for word in smart_split(search_term):
            if word[:1] in ('"', "'") and word[0] == word[-1]:
                word = unescape_string_literal(word)
            queryset = queryset.filter(name__icontains=word)
        return queryset, False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["id_number_shown", "phone_shown", "sex", "age", "elder_code", "death_date"] + [
            "elder_qr"
        ]

    def get_fields(self, request, obj=None):
        fields = [
            "id_number",
            "name",
            "hukou_region",
            "residence_region",
            "phone",
            "pension_type",
            "disability_category",
            "disability_grade",
        ]
        if obj is None:
            return fields
        # An elder's page shows the ID number and phone masked (PIPL), with a 显示完整 button
        # for the roles whose work needs them (accounts.reveal), and the age, never the birth
        # date, which would give the masked digits.
        fields = self.masked_fields(request, fields)
        return [*fields, "sex", "age", "death_date", "elder_code", "elder_qr"]

    @admin.display(description=_("联系电话"))
    def masked_phone(self, elder):
        return mask_phone(elder.phone) if elder.phone else ""

    # Not sortable: the order of the numbers is the order of the birth dates the mask hides.
    @admin.display(description=_("身份证号"))
    def masked_id_number(self, elder):
        return mask_id_number(elder.id_number)

    @admin.display(description=_("年龄"))
    def age(self, elder):
        return age_on(elder.birth_date, elder.death_date or datetime.date.today())

    @admin.display(description=_("长者码二维码"))
    def elder_qr(self, elder):
        svg = segno.make(elder.elder_code, error="m").svg_inline(scale=4)
        url = reverse("admin:residents_elder_qr", args=[elder.pk])
        return format_html(
            '{}<br><a href="{}" target="_blank">{}</a>', mark_safe(svg), url, _("打印")
        )

    def registers_outside_scope(self, request) -> bool:
        return services.registers_for_admission(request.user)

    def response_add(self, request, obj, post_url_continue=None):
        # Institution staff register an elder to admit them: on to the admission, elder code
        # filled in (the elder is in their scope from the admission on).
        if self.registers_outside_scope(request) and "_popup" not in request.POST:
            messages.success(request, _("已登记%(name)s，请办理入住。") % {"name": obj.name})
            return redirect(f"{reverse('admin:facilities_stay_admit')}?elder={obj.elder_code}")
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request, obj, form, change):
        # A service refusal (ValidationError) is shown on the form with the input kept
        # (accounts.permissions.ScopedAdminMixin.changeform_view).
        data = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
        if change:
            data.pop("id_number", None)
            services.update_elder(elder=obj, by=request.user, **data)
        else:
            created = services.create_elder(by=request.user, **form.cleaned_data)
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/qr/",
                self.admin_site.admin_view(self.qr_view),
                name="residents_elder_qr",
            ),
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="residents_elder_import",
            ),
            path(
                "import/<int:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name="residents_elder_import_job",
            ),
            path(
                "import/<int:job_id>/errors.csv",
                self.admin_site.admin_view(self.import_errors_view),
                name="residents_elder_import_errors",
            ),
        ]
        return own + super().get_urls()

    def qr_view(self, request, pk):
        elder = get_object_or_404(self.get_queryset(request), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "elder": elder,
            "svg": mark_safe(segno.make(elder.elder_code, error="m").svg_inline(scale=8)),
            "title": _("长者码"),
        }
        return TemplateResponse(request, "admin/residents/elder/qr.html", context)

    def _import_context(self, request) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入老年人名册"),
        }

    def import_view(self, request):
        """Upload: the file is held privately and checked by a worker (import_jobs); the
        browser goes to the job's page, which shows the progress and then the preview."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = import_jobs.start_import_job(
                content=upload.read(), file_name=upload.name, by=request.user
            )
            return redirect("admin:residents_elder_import_job", job.pk)
        context = {
            **self._import_context(request),
            "form": form,
            "jobs": ImportJob.objects.filter(created_by=request.user)[:10],
        }
        return TemplateResponse(request, "admin/residents/elder/import.html", context)

    def _own_job(self, request, job_id) -> ImportJob:
        if not self.has_add_permission(request):
            raise PermissionDenied
        # Only the importer's own jobs: the preview was checked against their scope.
        return get_object_or_404(ImportJob, pk=job_id, created_by=request.user)

    def import_job_view(self, request, job_id):
        """The job: its progress (refreshing while a worker has it), then the preview with
        every rejected row and the confirm button, then the result. POST confirms or
        cancels."""
        job = self._own_job(request, job_id)
        if request.method == "POST":
            action = (
                import_jobs.confirm_import_job
                if "confirm" in request.POST
                else import_jobs.cancel_import_job
            )
            try:
                job = action(job=job, by=request.user)
            except ValidationError as error:
                messages.error(request, "；".join(error.messages))
            else:
                if job.state == ImportJobState.EXPIRED:
                    messages.error(request, job.error)
            return redirect("admin:residents_elder_import_job", job.pk)
        working = job.state in (*import_jobs.CHECKABLE, *import_jobs.APPLICABLE)
        counts = job.result if job.state == ImportJobState.DONE else job.preview
        context = {
            **self._import_context(request),
            "job": job,
            "counts": counts,
            "summary": import_jobs.summary(counts) if counts else "",
            "errors": job.errors[:IMPORT_ERRORS_SHOWN],
            "errors_hidden": max(len(job.errors) - IMPORT_ERRORS_SHOWN, 0),
            "percent": round(100 * job.progress_done / job.progress_total)
            if job.progress_total
            else 0,
            "refresh_seconds": IMPORT_REFRESH_SECONDS if working else 0,
            "may_confirm": job.state == ImportJobState.CHECKED,
        }
        return TemplateResponse(request, "admin/residents/elder/import_job.html", context)

    def import_errors_view(self, request, job_id):
        """The rejected rows as CSV (row, field, message), with a byte-order mark so that
        Excel reads it as UTF-8."""
        job = self._own_job(request, job_id)
        text = importing.errors_csv(import_jobs.row_errors(job))
        response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


@admin.register(AbilityAssessment)
class AbilityAssessmentAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "elder",
        "assessed_on",
        "standard",
        "total_score",
        "computed_level",
        "final_level",
        "assessor",
    ]
    list_filter = ["final_level", "standard", "assessed_on"]
    list_select_related = ["elder"]
    search_fields = ["elder__name", "=elder__id_number", "=elder__elder_code"]
    search_help_text = _("按老年人姓名查找；身份证号或长者码须完整输入。")
    date_hierarchy = "assessed_on"
    # Assessments are recorded through the API or services (levels are computed, never typed);
    # the admin shows them read-only.
    readonly_fields = [f.name for f in AbilityAssessment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ElderCategory)
class ElderCategoryAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["elder", "category", "start_date", "end_date"]
    list_filter = ["category"]
    list_select_related = ["elder"]
    search_fields = ["elder__name", "=elder__id_number"]
    search_help_text = _("按老年人姓名查找；身份证号须完整输入。")
    fields = ["elder", "category", "start_date", "end_date", "note"]
    autocomplete_fields = ["elder"]

    def get_readonly_fields(self, request, obj=None):
        return ["elder", "category", "start_date"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            if "end_date" in form.changed_data and obj.end_date:
                services.end_category(
                    elder=obj.elder, category=obj.category, end_date=obj.end_date, by=request.user
                )
            else:
                obj._history_user = request.user
                obj.save(update_fields=["note"])
            return
        created = services.set_category(
            elder=obj.elder,
            category=obj.category,
            start_date=obj.start_date,
            end_date=obj.end_date,
            note=obj.note,
            by=request.user,
        )
        obj.pk = created.pk
