"""Admin for institution staff: rooms and beds at a glance with who is in each, admission and
discharge, the ranked waiting list, caregivers. Thin: writes go through facilities.services."""

from __future__ import annotations

import datetime

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from accounts.scoping import scoped
from facilities import selectors, services
from facilities.models import (
    Application,
    Bed,
    Building,
    Caregiver,
    Certificate,
    ChainContract,
    Employment,
    Facility,
    Floor,
    Rating,
    Room,
    Stay,
)
from residents.models import Elder


def _errors(error: ValidationError) -> str:
    return "；".join(error.messages)


def _today() -> datetime.date:
    return datetime.date.today()


class ScopedAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    pass


# --- facilities ------------------------------------------------------------------------------


class RatingInline(admin.TabularInline):
    model = Rating
    extra = 0
    can_delete = False
    fields = ["scheme", "stars", "rated_on", "score", "valid_until", "rated_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class BuildingInline(admin.TabularInline):
    model = Building
    extra = 0
    can_delete = False


@admin.register(Facility)
class FacilityAdmin(ScopedAdmin):
    list_display = [
        "name",
        "code",
        "kind",
        "ownership",
        "region",
        "licensed_beds",
        "beds_in_use",
        "rating_status",
        "bed_board_link",
    ]
    list_filter = ["kind", "ownership", "is_destitute_support", "is_inclusive", "is_active"]
    search_fields = ["name", "code", "uscc", "operator"]
    readonly_fields = ["code", "staffing"]
    inlines = [BuildingInline, RatingInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("region")
            .annotate(
                bed_count=Count("beds", distinct=True),
                occupied=Count("beds__stays", filter=Q(beds__stays__end_date__isnull=True)),
            )
        )

    @admin.display(description=_("在住/床位"))
    def beds_in_use(self, facility):
        return f"{facility.occupied}/{facility.bed_count}"

    @admin.display(description=_("评定"))
    def rating_status(self, facility):
        current = selectors.current_rating(facility, _today())
        if current.rating is None:
            return current.status
        return f"{current.rating.stars}星（{current.status}，至 {current.rating.valid_until}）"

    @admin.display(description=_("床位一览"))
    def bed_board_link(self, facility):
        url = reverse("admin:facilities_facility_beds", args=[facility.pk])
        return format_html('<a href="{}">床位一览</a>', url)

    @admin.display(description=_("护理员配备核查（今日）"))
    def staffing(self, facility):
        if not facility.pk:
            return "-"
        report = selectors.staffing_report(facility, _today())
        c = report.counts
        return format_html(
            "完全失能 {}，部分失能 {}，自理 {}；所需 {}，实有 {}，缺口 {} {}",
            c["fully_disabled"],
            c["partly_disabled"],
            c["self_caring"],
            report.required,
            report.actual,
            report.shortfall,
            report.error,
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            fields = {f: form.cleaned_data[f] for f in form.cleaned_data if f != "id"}
            obj.pk = services.create_facility(by=request.user, **fields).pk

    def get_urls(self):
        return [
            path(
                "<int:pk>/beds/",
                self.admin_site.admin_view(self.bed_board),
                name="facilities_facility_beds",
            ),
            *super().get_urls(),
        ]

    def bed_board(self, request, pk):
        """Rooms and beds at a glance, with who is in each (one query for the beds)."""
        facility = self.get_object(request, str(pk))
        if facility is None:
            return redirect("admin:facilities_facility_changelist")
        beds = selectors.beds_with_occupant(
            Bed.objects.filter(facility=facility).select_related("room__floor__building")
        ).order_by("room__floor__building__name", "room__floor__number", "room__number", "label")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{b.room.floor.building.name} {b.room.floor.number}层 {b.room.number}"
                    if b.room
                    else b.home_address,
                    b.label,
                    b.get_bed_type_display(),
                    b.code,
                    f"{b.occupant_name}（{b.occupant_code}）" if b.occupant_name else "空床",
                    b.occupied_since or "",
                )
                for b in beds
            ),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{facility.name} 床位一览",
            "table": format_html(
                "<table><thead><tr><th>房间</th><th>床号</th><th>类型</th><th>床位码</th>"
                "<th>入住老人</th><th>入住日期</th></tr></thead><tbody>{}</tbody></table>",
                rows,
            ),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/facilities/simple_page.html", context)


class ChainContractForm(forms.ModelForm):
    class Meta:
        model = ChainContract
        fields = [
            "county",
            "operator",
            "zone_count",
            "zone_number",
            "zone_name",
            "is_government_purchase",
            "start_date",
            "end_date",
            "facilities",
        ]

    def clean(self):
        data = super().clean()
        needed = ["county", "zone_count", "zone_number", "start_date", "end_date"]
        if all(data.get(f) is not None for f in needed):
            try:
                services.check_chain_contract(
                    is_government_purchase=data.get("is_government_purchase", True),
                    **{f: data[f] for f in needed},
                )
            except ValidationError as error:
                raise ValidationError(error.message_dict) from None
        return data


@admin.register(ChainContract)
class ChainContractAdmin(ScopedAdmin):
    form = ChainContractForm
    list_display = ["county", "zone_number", "zone_count", "operator", "start_date", "end_date"]
    filter_horizontal = ["facilities"]


class RatingForm(forms.ModelForm):
    class Meta:
        model = Rating
        fields = ["facility", "scheme", "stars", "rated_on", "score", "rated_by"]

    def clean(self):
        data = super().clean()
        if data.get("facility") and data.get("rated_on"):
            try:
                years, until = services.rating_validity(
                    facility=data["facility"], rated_on=data["rated_on"]
                )
            except ValidationError as error:
                raise ValidationError(error.message_dict) from None
            self.instance.valid_until = until
            self.instance.validity_citation = f"rating_validity_years = {years}"
        return data


@admin.register(Rating)
class RatingAdmin(ScopedAdmin):
    form = RatingForm
    list_display = ["facility", "scheme", "stars", "rated_on", "valid_until", "status"]
    list_filter = ["scheme", "stars"]
    readonly_fields = ["valid_until", "validity_citation"]

    @admin.display(description=_("状态"))
    def status(self, rating):
        return "已过期" if rating.valid_until < _today() else "有效"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Building)
class BuildingAdmin(ScopedAdmin):
    list_display = ["name", "facility"]


@admin.register(Floor)
class FloorAdmin(ScopedAdmin):
    list_display = ["building", "number"]


class BedInline(admin.TabularInline):
    model = Bed
    extra = 0
    can_delete = False
    fields = ["label", "bed_type", "code", "occupant", "is_active"]
    readonly_fields = ["code", "occupant"]

    @admin.display(description=_("入住老人"))
    def occupant(self, bed):
        stay = bed.stays.filter(end_date__isnull=True).select_related("elder").first()
        return str(stay.elder) if stay else "空床"


@admin.register(Room)
class RoomAdmin(ScopedAdmin):
    list_display = ["number", "floor"]
    inlines = [BedInline]


# --- beds and stays --------------------------------------------------------------------------


def _qr_svg(code: str) -> str:
    # segno's SVG contains only the code's modules (the code is from our own alphabet).
    return mark_safe(segno.make(code, error="m").svg_inline(scale=4))


def label_sheet(beds) -> HttpResponse:
    """A printable sheet of QR labels (SVG in HTML): bed code, facility, bed label."""
    cells = format_html_join(
        "",
        '<div class="label">{}<div><b>{}</b></div><div>{}</div><div><code>{}</code></div></div>',
        (
            (
                _qr_svg(b.code),
                b.facility.name,
                b.label,
                b.code,
            )
            for b in beds
        ),
    )
    html = format_html(
        "<!doctype html><html><head><meta charset='utf-8'><title>床位码</title><style>"
        "body{{font-family:sans-serif}}.label{{display:inline-block;width:6cm;margin:4mm;"
        "padding:2mm;border:1px dashed #999;text-align:center;page-break-inside:avoid}}"
        "</style></head><body>{}</body></html>",
        cells,
    )
    return HttpResponse(html)


@admin.register(Bed)
class BedAdmin(ScopedAdmin):
    list_display = ["label", "facility", "room", "bed_type", "code", "occupant", "occupied_since"]
    list_filter = ["bed_type", "is_active", "facility"]
    search_fields = ["code", "label", "facility__name"]
    readonly_fields = ["code", "qr"]
    actions = ["print_labels"]

    def get_queryset(self, request):
        return selectors.beds_with_occupant(
            super()
            .get_queryset(request)
            .select_related("facility", "room__floor__building__facility")
        )

    @admin.display(description=_("入住老人"))
    def occupant(self, bed):
        return f"{bed.occupant_name}（{bed.occupant_code}）" if bed.occupant_name else "空床"

    @admin.display(description=_("入住日期"))
    def occupied_since(self, bed):
        return bed.occupied_since or ""

    @admin.display(description=_("床位码二维码"))
    def qr(self, bed):
        return _qr_svg(bed.code) if bed.pk else "-"

    @admin.action(description=_("打印所选床位的二维码标签"))
    def print_labels(self, request, queryset):
        return label_sheet(queryset.select_related("facility").order_by("facility_id", "label"))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        bed = services.create_bed(
            facility=obj.facility,
            room=obj.room,
            label=obj.label,
            bed_type=obj.bed_type,
            home_address=obj.home_address,
            by=request.user,
        )
        obj.pk, obj.code = bed.pk, bed.code


class AdmitForm(forms.Form):
    elder_code = forms.CharField(label=_("长者码（扫码或输入）"), max_length=12)
    bed_code = forms.CharField(label=_("床位码（扫码或输入）"), max_length=12)
    start_date = forms.DateField(label=_("入住日期"), initial=_today)


@admin.register(Stay)
class StayAdmin(ScopedAdmin):
    list_display = ["elder", "bed", "facility", "start_date", "end_date", "end_reason"]
    list_filter = ["end_reason", ("end_date", admin.EmptyFieldListFilter), "bed__facility"]
    search_fields = ["elder__name", "elder__elder_code", "bed__code", "bed__label"]
    list_select_related = ["elder", "bed__facility"]
    readonly_fields = ["elder", "bed", "start_date", "end_date", "end_reason"]
    actions = ["discharge_today"]

    @admin.display(description=_("机构"))
    def facility(self, stay):
        return stay.bed.facility.name

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:facilities_stay_admit")

    def get_urls(self):
        return [
            path(
                "admit/", self.admin_site.admin_view(self.admit_view), name="facilities_stay_admit"
            ),
            *super().get_urls(),
        ]

    def admit_view(self, request):
        """Admit by scanning the elder code and the bed code."""
        if not self.has_add_permission(request):
            return redirect("admin:facilities_stay_changelist")
        form = AdmitForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            elder = scoped(Elder.objects.all(), request.user).filter(
                elder_code=form.cleaned_data["elder_code"].strip().upper()
            )
            bed = scoped(Bed.objects.all(), request.user).filter(
                code=form.cleaned_data["bed_code"].strip().upper()
            )
            if not elder.exists():
                form.add_error("elder_code", "没有这个长者码，或不在您的权限范围内。")
            if not bed.exists():
                form.add_error("bed_code", "没有这个床位码，或不在您的权限范围内。")
            if form.is_valid():
                try:
                    stay = services.admit_to_bed(
                        elder=elder.get(),
                        bed=bed.get(),
                        start_date=form.cleaned_data["start_date"],
                        by=request.user,
                    )
                except ValidationError as error:
                    form.add_error(None, _errors(error))
                else:
                    messages.success(request, f"已办理入住：{stay}")
                    return redirect("admin:facilities_stay_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "办理入住",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/facilities/form_page.html", context)

    @admin.action(description=_("办理退住（今日）"))
    def discharge_today(self, request, queryset):
        for stay in queryset.filter(end_date__isnull=True).select_related("elder"):
            try:
                services.discharge(elder=stay.elder, end_date=_today(), by=request.user)
            except ValidationError as error:
                messages.error(request, f"{stay.elder}：{_errors(error)}")
            else:
                messages.success(request, f"{stay.elder} 已退住")


# --- waiting list ----------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(ScopedAdmin):
    list_display = ["rank", "elder", "facility", "applied_on", "status", "rule", "offered_bed"]
    list_filter = ["status", "facility"]
    search_fields = ["elder__name", "elder__elder_code"]
    list_select_related = ["elder", "facility", "offered_bed"]
    readonly_fields = ["status", "offered_bed", "offered_on", "stay", "closed_on"]
    actions = ["offer_next_free_bed", "admit_to_offered_bed", "withdraw"]
    ordering = ["facility_id", "applied_on", "id"]

    def changelist_view(self, request, extra_context=None):
        # Ranks of the facilities on this list, computed once per facility (POLICY.md §5).
        self._entries = {}
        facility_ids = self.get_queryset(request).values_list("facility_id", flat=True).distinct()
        for facility in Facility.objects.filter(pk__in=facility_ids).select_related("region"):
            for entry in selectors.waiting_list(facility, _today()):
                self._entries[entry.application.pk] = entry
        return super().changelist_view(request, extra_context)

    def _entry(self, application):
        return getattr(self, "_entries", {}).get(application.pk)

    @admin.display(description=_("轮候名次"))
    def rank(self, application):
        entry = self._entry(application)
        return entry.rank if entry else "-"

    @admin.display(description=_("排序依据"))
    def rule(self, application):
        entry = self._entry(application)
        return entry.explanation if entry else "-"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        application = services.apply_for_place(
            facility=obj.facility,
            elder=obj.elder,
            applied_on=obj.applied_on,
            note=obj.note,
            by=request.user,
        )
        obj.pk = application.pk

    @admin.action(description=_("为所选机构的下一位申请人通知一张空床"))
    def offer_next_free_bed(self, request, queryset):
        for facility in Facility.objects.filter(pk__in=queryset.values("facility_id")):
            entry = selectors.next_applicant(facility, _today())
            bed = selectors.free_beds(facility).exclude(offers__status="offered").first()
            if entry is None or bed is None:
                messages.warning(request, f"{facility.name}：没有轮候人或没有空床")
                continue
            try:
                services.offer_bed(
                    application=entry.application, bed=bed, on=_today(), by=request.user
                )
            except ValidationError as error:
                messages.error(request, f"{facility.name}：{_errors(error)}")
            else:
                messages.success(request, f"已通知 {entry.application.elder} 入住 {bed.label}")

    @admin.action(description=_("按通知床位办理入住（今日）"))
    def admit_to_offered_bed(self, request, queryset):
        for application in queryset.filter(status="offered"):
            try:
                stay = services.admit_application(
                    application=application, on=_today(), by=request.user
                )
            except ValidationError as error:
                messages.error(request, f"{application.elder}：{_errors(error)}")
            else:
                messages.success(request, f"已办理入住：{stay}")

    @admin.action(description=_("撤回申请"))
    def withdraw(self, request, queryset):
        for application in queryset:
            try:
                services.withdraw_application(application=application, on=_today(), by=request.user)
            except ValidationError as error:
                messages.error(request, f"{application.elder}：{_errors(error)}")


# --- caregivers ------------------------------------------------------------------------------


class CertificateInline(admin.TabularInline):
    model = Certificate
    extra = 0
    can_delete = False


class EmploymentInline(admin.TabularInline):
    model = Employment
    extra = 0
    can_delete = False


@admin.register(Caregiver)
class CaregiverAdmin(ScopedAdmin):
    list_display = ["name", "certificates_held", "facilities_now"]
    search_fields = ["name"]
    inlines = [CertificateInline, EmploymentInline]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).prefetch_related("certificates", "employments__facility")
        )

    @admin.display(description=_("证书"))
    def certificates_held(self, caregiver):
        return "，".join(str(c) for c in caregiver.certificates.all())

    @admin.display(description=_("任职机构"))
    def facilities_now(self, caregiver):
        return "，".join(e.facility.name for e in caregiver.employments.all() if e.end_date is None)
