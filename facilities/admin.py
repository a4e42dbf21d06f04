"""Admin for institution staff: the bed board (per building and floor, who is in each bed, admit,
discharge and transfer from it), bed and elder code labels, the ranked waiting list, caregivers
with their certificates and the staffing check. Thin: writes go through facilities.services,
reads through facilities.selectors."""

from __future__ import annotations

import datetime
from itertools import groupby

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.constraint_messages import readable_text
from accounts.permissions import ScopedAdminMixin, refusal_by_field
from accounts.reveal import NewPhoneFormMixin, RevealPersonalDataMixin
from accounts.scoping import OutOfScopeWrite, scoped
from facilities import selectors, services
from facilities.choices import OPEN_APPLICATION_STATUSES, BedType, CertificateKind
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
from regions.choices import RegionLevel
from regions.models import Region
from residents.models import Elder

# Kinds of facility whose residents the staffing ratios apply to (as short_staffed_facilities).


def _errors(error: ValidationError) -> str:
    # A constraint's default message names the constraint: the rule is said in words instead.
    return readable_text(error) if isinstance(error, ValidationError) else str(error)


def _show_refusal(form: forms.Form, error: ValidationError | OutOfScopeWrite) -> None:
    """A service's refusal on the form: each message on the field it names (when the form has
    it), the rest above the form; the input is kept."""
    if isinstance(error, OutOfScopeWrite):
        form.add_error(None, str(error))
        return
    for field, messages_ in refusal_by_field(error).items():
        form.add_error(field if field in form.fields else None, messages_)


def _today() -> datetime.date:
    return timezone.localdate()


class ScopedAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    pass


def _page(admin_obj, request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/facilities/{template}",
        {
            **admin_obj.admin_site.each_context(request),
            "title": title,
            "opts": admin_obj.model._meta,
            **context,
        },
    )


# Open stays shown on one page of the county's placement approvals.
PLACEMENTS_PER_PAGE = 100


def _page_links(page, pending_only: bool):
    """Links to the previous and next pages of a list, keeping its filter."""
    keep = "pending=1&" if pending_only else ""
    links = []
    if page.has_previous():
        links.append((f"?{keep}p={page.previous_page_number()}", gettext("上一页")))
    if page.has_next():
        links.append((f"?{keep}p={page.next_page_number()}", gettext("下一页")))
    return format_html_join(" ", '<a href="{}">{}</a>', links)


def _board_url(facility_id: int) -> str:
    return reverse("admin:facilities_facility_beds", args=[facility_id])


# --- QR labels ---------------------------------------------------------------------------------


def _qr_svg(code: str, scale: int = 4) -> str:
    # segno's SVG contains only the code's modules (the code is from our own alphabet).
    return mark_safe(segno.make(code, error="m").svg_inline(scale=scale))


def label_sheet(request, title: str, labels) -> TemplateResponse:
    """A printable sheet of QR labels: ``labels`` are (code, heading, line) tuples."""
    return TemplateResponse(
        request,
        "admin/facilities/labels.html",
        {
            "title": title,
            "labels": [
                {"svg": _qr_svg(code), "code": code, "heading": heading, "line": line}
                for code, heading, line in labels
            ],
        },
    )


def _bed_labels(beds):
    return [(b.code, b.facility.name, f"{_bed_place(b)} {b.label}".strip()) for b in beds]


def _bed_place(bed: Bed) -> str:
    if bed.room_id:
        return gettext("%(building)s %(floor)s层 %(room)s室") % {
            "building": bed.room.floor.building.name,
            "floor": bed.room.floor.number,
            "room": bed.room.number,
        }
    return bed.home_address


# --- facilities --------------------------------------------------------------------------------


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


def _staffing_rows(facilities, on: datetime.date) -> list[dict]:
    rows = []
    for facility in facilities:
        report = selectors.staffing_report(facility, on)
        rows.append({"facility": facility, "report": report, "board": _board_url(facility.pk)})
    # Short-staffed first, the largest shortfall on top.
    rows.sort(key=lambda r: (-(r["report"].shortfall or 0), r["facility"].name))
    return rows


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
    autocomplete_fields = ["region"]
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
            .order_by("name", "pk")  # Meta.ordering does not apply to an aggregate query
        )

    @admin.display(description=_("在住/床位"))
    def beds_in_use(self, facility):
        return f"{facility.occupied}/{facility.bed_count}"

    @admin.display(description=_("评定"))
    def rating_status(self, facility):
        current = selectors.current_rating(facility, _today())
        if current.rating is None:
            return current.status
        return gettext("%(stars)s星（%(status)s，至 %(until)s）") % {
            "stars": current.rating.stars,
            "status": current.status,
            "until": current.rating.valid_until,
        }

    @admin.display(description=_("床位一览"))
    def bed_board_link(self, facility):
        return format_html('<a href="{}">{}</a>', _board_url(facility.pk), _("床位一览"))

    @admin.display(description=_("护理员配备核查（今日）"))
    def staffing(self, facility):
        if not facility.pk:
            return "-"
        report = selectors.staffing_report(facility, _today())
        c = report.counts
        gap = _("无法判断") if report.verdict == "unknown" else report.shortfall
        return format_html(
            gettext("完全失能 {}，部分失能 {}，自理 {}，未评估 {}；所需 {}，实有 {}，缺口 {} {}"),
            c["fully_disabled"],
            c["partly_disabled"],
            c["self_caring"],
            len(report.unassessed),
            report.required,
            report.actual,
            gap,
            report.error,
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            fields = {f: form.cleaned_data[f] for f in form.cleaned_data if f != "id"}
            obj.pk = services.create_facility(by=request.user, **fields).pk

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/beds/", view(self.bed_board), name="facilities_facility_beds"),
            path(
                "<int:pk>/bed-labels/", view(self.bed_labels), name="facilities_facility_bed_labels"
            ),
            path(
                "<int:pk>/elder-labels/",
                view(self.elder_labels),
                name="facilities_facility_elder_labels",
            ),
            path("staffing/", view(self.staffing_view), name="facilities_facility_staffing"),
            *super().get_urls(),
        ]

    def _facility(self, request, pk) -> Facility:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def bed_board(self, request, pk):
        """Beds at a glance, per building and floor: free or occupied, by whom since when, with
        admit (free beds), discharge and transfer (occupied beds) one click away."""
        facility = self._facility(request, pk)
        open_stay = Stay.objects.filter(bed=OuterRef("pk"), end_date__isnull=True)
        beds = list(
            selectors.beds_with_occupant(
                Bed.objects.filter(facility=facility).select_related("room__floor__building")
            )
            .annotate(stay_id=Subquery(open_stay.values("pk")[:1]))
            .order_by(
                "room__floor__building__name",
                "room__floor__number",
                "room__number",
                "label",
            )
        )
        can_change = self.has_change_permission(request)
        cells = []
        for bed in beds:
            if bed.stay_id:
                state = "occupied"
            elif bed.is_active:
                state = "free"
            else:
                state = "inactive"
            cell = {"bed": bed, "state": state}
            if can_change and state == "free":
                cell["admit_url"] = f"{reverse('admin:facilities_stay_admit')}?bed={bed.code}"
            if can_change and state == "occupied":
                cell["discharge_url"] = reverse(
                    "admin:facilities_stay_discharge", args=[bed.stay_id]
                )
                cell["transfer_url"] = reverse("admin:facilities_stay_transfer", args=[bed.stay_id])
            cells.append(cell)

        def group_key(cell):
            bed = cell["bed"]
            if bed.room_id is None:
                return str(BedType.HOME_CARE.label)
            return gettext("%(building)s %(floor)s层") % {
                "building": bed.room.floor.building.name,
                "floor": bed.room.floor.number,
            }

        groups = []
        for title, members in groupby(cells, key=group_key):
            members = list(members)
            rooms = [
                {"name": room or "", "cells": list(in_room)}
                for room, in_room in groupby(
                    members, key=lambda c: c["bed"].room.number if c["bed"].room_id else ""
                )
            ]
            groups.append(
                {
                    "title": title,
                    "rooms": rooms,
                    "free": sum(1 for c in members if c["state"] == "free"),
                    "total": len(members),
                }
            )
        counts = {
            "total": len(cells),
            "occupied": sum(1 for c in cells if c["state"] == "occupied"),
            "free": sum(1 for c in cells if c["state"] == "free"),
            "inactive": sum(1 for c in cells if c["state"] == "inactive"),
        }
        waiting = selectors.waiting_list(facility, _today())
        report = (
            selectors.staffing_report(facility, _today())
            if facility.kind in selectors.STAFFED_KINDS
            else None
        )
        return _page(
            self,
            request,
            "bed_board.html",
            gettext("%(facility)s 床位一览") % {"facility": facility.name},
            facility=facility,
            groups=groups,
            counts=counts,
            waiting=waiting[:10],
            waiting_count=len(waiting),
            report=report,
            can_change=can_change,
        )

    def bed_labels(self, request, pk):
        facility = self._facility(request, pk)
        beds = (
            Bed.objects.filter(facility=facility, is_active=True)
            .select_related("facility", "room__floor__building")
            .order_by("room__floor__building__name", "room__floor__number", "label")
        )
        return label_sheet(
            request, gettext("%(facility)s 床位码") % {"facility": facility.name}, _bed_labels(beds)
        )

    def elder_labels(self, request, pk):
        facility = self._facility(request, pk)
        stays = (
            Stay.objects.filter(bed__facility=facility, end_date__isnull=True)
            .select_related("elder", "bed")
            .order_by("bed__label")
        )
        return label_sheet(
            request,
            gettext("%(facility)s 长者码") % {"facility": facility.name},
            [(s.elder.elder_code, s.elder.name, f"{facility.name} {s.bed.label}") for s in stays],
        )

    def staffing_view(self, request):
        """Caregivers required by the rulebook ratios against those employed today, for every
        institution in the user's scope; short-staffed ones first and highlighted."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        facilities = (
            scoped(Facility.objects.all(), request.user)
            .filter(is_active=True, kind__in=selectors.STAFFED_KINDS)
            .select_related("region")
            .order_by("name")
        )
        rows = _staffing_rows(facilities, _today())
        return _page(
            self,
            request,
            "staffing.html",
            gettext("护理员配备核查"),
            rows=rows,
            on=_today(),
            short_count=sum(1 for r in rows if r["report"].verdict == "short"),
            unknown_count=sum(1 for r in rows if r["report"].verdict == "unknown"),
        )


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
    autocomplete_fields = ["county"]
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
    search_fields = ["facility__name", "facility__code"]
    autocomplete_fields = ["facility"]
    list_select_related = ["facility"]
    readonly_fields = ["valid_until", "validity_citation"]

    @admin.display(description=_("状态"))
    def status(self, rating):
        return gettext("已过期") if rating.valid_until < _today() else gettext("有效")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Building)
class BuildingAdmin(ScopedAdmin):
    list_display = ["name", "facility"]
    search_fields = ["name", "facility__name"]
    autocomplete_fields = ["facility"]
    list_select_related = ["facility"]


@admin.register(Floor)
class FloorAdmin(ScopedAdmin):
    list_display = ["building", "number"]
    search_fields = ["building__name", "building__facility__name"]
    autocomplete_fields = ["building"]
    list_select_related = ["building__facility"]


class BedInlineForm(forms.ModelForm):
    def _post_clean(self):
        # A bed added in its room belongs to the room's facility (the row has no facility
        # field): set before the model's checks and the writer's scope are read.
        room = self.cleaned_data.get("room")
        if room is not None and self.instance.facility_id is None:
            self.instance.facility = room.floor.building.facility
        super()._post_clean()


class BedInline(admin.TabularInline):
    model = Bed
    form = BedInlineForm
    extra = 0
    can_delete = False
    fields = ["label", "bed_type", "code", "occupant", "is_active"]
    readonly_fields = ["code", "occupant"]

    def get_queryset(self, request):
        return selectors.beds_with_occupant(super().get_queryset(request))

    @admin.display(description=_("入住老人"))
    def occupant(self, bed):
        if not bed.pk:
            return "-"
        name = getattr(bed, "occupant_name", None)
        return f"{name}（{bed.occupant_code}）" if name else gettext("空床")


@admin.register(Room)
class RoomAdmin(ScopedAdmin):
    list_display = ["number", "floor"]
    search_fields = ["number", "floor__building__name", "floor__building__facility__name"]
    autocomplete_fields = ["floor"]
    list_select_related = ["floor__building__facility"]
    inlines = [BedInline]


# --- beds and stays ----------------------------------------------------------------------------


class OccupancyFilter(admin.SimpleListFilter):
    title = _("占用情况")
    parameter_name = "occupancy"

    def lookups(self, request, model_admin):
        return [("free", _("空床")), ("occupied", _("已入住"))]

    def queryset(self, request, queryset):
        open_stays = Stay.objects.filter(end_date__isnull=True).values("bed_id")
        if self.value() == "free":
            return queryset.filter(is_active=True).exclude(pk__in=open_stays)
        if self.value() == "occupied":
            return queryset.filter(pk__in=open_stays)
        return queryset


@admin.register(Bed)
class BedAdmin(ScopedAdmin):
    list_display = ["label", "facility", "room", "bed_type", "code", "occupant", "occupied_since"]
    list_filter = [OccupancyFilter, "bed_type", "is_active", "facility"]
    search_fields = ["=code", "label", "facility__name"]
    autocomplete_fields = ["facility", "room"]
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
        return (
            f"{bed.occupant_name}（{bed.occupant_code}）" if bed.occupant_name else gettext("空床")
        )

    @admin.display(description=_("入住日期"))
    def occupied_since(self, bed):
        return bed.occupied_since or ""

    @admin.display(description=_("床位码二维码"))
    def qr(self, bed):
        return _qr_svg(bed.code) if bed.pk else "-"

    @admin.action(description=_("打印所选床位的二维码标签"))
    def print_labels(self, request, queryset):
        beds = queryset.select_related("facility", "room__floor__building")
        return label_sheet(
            request, gettext("床位码"), _bed_labels(beds.order_by("facility_id", "label"))
        )

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


def _waiting_choices(facilities, on: datetime.date) -> list[tuple[str, str]]:
    choices = [("", "—")]
    for facility in facilities:
        for entry in selectors.waiting_list(facility, on):
            elder = entry.application.elder
            choices.append(
                (
                    str(entry.application.pk),
                    gettext("%(facility)s 第%(rank)s名：%(name)s（%(code)s）— %(why)s")
                    % {
                        "facility": facility.name,
                        "rank": entry.rank,
                        "name": elder.name,
                        "code": elder.elder_code,
                        "why": entry.explanation,
                    },
                )
            )
    return choices


class AdmitForm(forms.Form):
    bed_code = forms.CharField(label=_("床位码（扫码或输入）"), max_length=12)
    application = forms.ChoiceField(
        label=_("从轮候名单选择"),
        required=False,
        help_text=_("按轮候名次排列，附排序依据。"),
    )
    elder_code = forms.CharField(label=_("或：长者码（扫码或输入）"), max_length=12, required=False)
    start_date = forms.DateField(label=_("入住日期"), initial=_today)

    def __init__(self, *args, waiting_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = list(waiting_choices) or [("", "—")]

    def clean(self):
        data = super().clean()
        if bool(data.get("application")) == bool((data.get("elder_code") or "").strip()):
            raise ValidationError(_("请从轮候名单选择一位老人，或输入长者码（二者选一）。"))
        return data


class DischargeForm(forms.Form):
    end_date = forms.DateField(label=_("退住日期"), initial=_today)


class TransferForm(forms.Form):
    to_bed = forms.ModelChoiceField(label=_("转入床位"), queryset=Bed.objects.none())
    on = forms.DateField(label=_("转床日期"), initial=_today)

    def __init__(self, *args, beds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_bed"].queryset = beds
        self.fields["to_bed"].label_from_instance = lambda b: (
            f"{_bed_place(b)} {b.label}（{b.code}）"
        )


class CorrectStayForm(forms.Form):
    start_date = forms.DateField(label=_("入住日期"))
    end_date = forms.DateField(
        label=_("退住日期"), required=False, help_text=_("仅已退住的记录可更正退住日期。")
    )
    bed = forms.ModelChoiceField(label=_("床位"), queryset=Bed.objects.none())
    reason = forms.CharField(
        label=_("更正原因"),
        max_length=90,
        help_text=_("记入该入住记录的历史，写明谁发现了什么错误。"),
    )

    def __init__(self, *args, stay: Stay, beds, **kwargs):
        kwargs.setdefault(
            "initial",
            {"start_date": stay.start_date, "end_date": stay.end_date, "bed": stay.bed_id},
        )
        super().__init__(*args, **kwargs)
        self.fields["bed"].queryset = beds
        self.fields["bed"].label_from_instance = lambda b: f"{_bed_place(b)} {b.label}（{b.code}）"
        if stay.end_date is None:
            self.fields["end_date"].disabled = True


class PlacementApprovalForm(forms.Form):
    """The county civil-affairs bureau's approval of placing the elder in institutional care
    (经县级民政部门批准纳入机构养老, docs/policy.md §1 nursing subsidy)."""

    placement_approved_on = forms.DateField(
        label=_("县级民政部门批准纳入机构养老日期"),
        required=False,
        help_text=_(
            "自该日起（入住期间），低保家庭失能老年人的护理补贴按特困供养人员护理费标准发放。"
        ),
    )
    placement_approval_number = forms.CharField(label=_("批准文号"), max_length=64, required=False)
    placement_approved_by = forms.ModelChoiceField(
        label=_("批准的县级民政部门（所在县、市、区）"),
        queryset=Region.objects.filter(level=RegionLevel.COUNTY, is_active=True),
        required=False,
    )
    withdraw = forms.BooleanField(label=_("撤销已登记的批准（登记有误）"), required=False)
    reason = forms.CharField(
        label=_("更改或撤销原因"),
        max_length=90,
        required=False,
        help_text=_("更改或撤销已登记的批准时必填，记入该入住记录的历史。"),
    )

    def __init__(self, *args, stay: Stay, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "placement_approved_on": stay.placement_approved_on,
                "placement_approval_number": stay.placement_approval_number,
                "placement_approved_by": stay.placement_approved_by_id,
            },
        )
        super().__init__(*args, **kwargs)
        if stay.placement_approved_on is None:
            del self.fields["withdraw"]


@admin.register(Stay)
class StayAdmin(ScopedAdmin):
    # The actions first and the bed by its label: at 1366 px with the filters beside the list,
    # 退住 and 转床 stay in view.
    list_display = [
        "elder",
        "stay_actions",
        "bed_label",
        "facility",
        "start_date",
        "end_date",
        "end_reason",
    ]
    list_filter = ["end_reason", ("end_date", admin.EmptyFieldListFilter), "bed__facility"]
    search_fields = ["elder__name", "=elder__elder_code", "=bed__code", "bed__label"]
    list_select_related = ["elder", "bed__facility"]
    readonly_fields = [
        "elder",
        "bed",
        "start_date",
        "end_date",
        "end_reason",
        "placement_approved_on",
        "placement_approval_number",
        "placement_approved_by",
        "stay_actions",
    ]
    actions = ["discharge_today", "print_elder_labels"]

    @admin.display(description=_("机构"))
    def facility(self, stay):
        return stay.bed.facility.name

    @admin.display(description=_("床位"), ordering="bed__label")
    def bed_label(self, stay):
        return stay.bed.label

    @admin.display(description=_("办理"))
    def stay_actions(self, stay):
        links = []
        if stay.end_date is None:
            links += [
                (reverse("admin:facilities_stay_discharge", args=[stay.pk]), _("退住")),
                (reverse("admin:facilities_stay_transfer", args=[stay.pk]), _("转床")),
            ]
        links.append((reverse("admin:facilities_stay_correct", args=[stay.pk]), _("更正")))
        links.append((reverse("admin:facilities_stay_placement", args=[stay.pk]), _("县级批准")))
        return format_html_join(" · ", '<a href="{}" style="white-space:nowrap">{}</a>', links)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A stay is changed by discharge, transfer or correction (each a service with its
        # checks), never by this page: it shows the stay and the links, without save buttons.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:facilities_stay_admit")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("admit/", view(self.admit_view), name="facilities_stay_admit"),
            path(
                "<int:pk>/discharge/", view(self.discharge_view), name="facilities_stay_discharge"
            ),
            path("<int:pk>/transfer/", view(self.transfer_view), name="facilities_stay_transfer"),
            path("<int:pk>/correct/", view(self.correct_view), name="facilities_stay_correct"),
            path(
                "<int:pk>/placement/", view(self.placement_view), name="facilities_stay_placement"
            ),
            path(
                "placement-approvals/",
                view(self.placement_list_view),
                name="facilities_stay_placement_list",
            ),
            *super().get_urls(),
        ]

    def _reachable_elders(self, request):
        """Elders the user may admit: those in their scope, and applicants on the waiting list
        of a facility in their scope (an applicant has no stay there yet)."""
        facilities = scoped(Facility.objects.all(), request.user)
        applicants = Application.objects.filter(
            facility__in=facilities, status__in=OPEN_APPLICATION_STATUSES
        ).values("elder_id")
        registered = selectors.registered_for_admission_by(request.user).values("pk")
        return Elder.objects.filter(
            Q(pk__in=scoped(Elder.objects.all(), request.user).values("pk"))
            | Q(pk__in=applicants)
            | Q(pk__in=registered)
        )

    def admit_view(self, request):
        """Admit to a bed: pick the applicant from the ranked waiting list, or scan the elder
        code; the bed code comes from the bed board or a scan."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        beds = scoped(Bed.objects.select_related("facility"), request.user)
        data = request.POST if request.method == "POST" else None
        bed_code = ((data or request.GET).get("bed_code") or request.GET.get("bed") or "").strip()
        bed = beds.filter(code=bed_code.upper()).first() if bed_code else None
        if bed is not None:
            facilities = [bed.facility]
        else:
            facilities = list(
                scoped(Facility.objects.all(), request.user)
                .filter(pk__in=request.user.role_assignments.values("facility_id"))
                .select_related("region")
            )
        form = AdmitForm(
            data,
            initial={
                "bed_code": bed.code if bed else bed_code,
                "elder_code": (request.GET.get("elder") or "").strip().upper()[:12],
            },
            waiting_choices=_waiting_choices(facilities, _today()),
        )
        if request.method == "POST" and form.is_valid():
            if bed is None:
                form.add_error("bed_code", gettext("没有这个床位码，或不在您的权限范围内。"))
            application = elder = None
            if form.cleaned_data["application"]:
                application = (
                    Application.objects.filter(
                        pk=form.cleaned_data["application"],
                        facility__in=scoped(Facility.objects.all(), request.user),
                    )
                    .select_related("elder")
                    .first()
                )
            else:
                code = form.cleaned_data["elder_code"].strip().upper()
                elder = self._reachable_elders(request).filter(elder_code=code).first()
                if elder is None:
                    form.add_error("elder_code", gettext("没有这个长者码，或不在您的权限范围内。"))
                elif bed is not None:
                    # An applicant admitted from the board: their application is closed too.
                    application = Application.objects.filter(
                        facility=bed.facility, elder=elder, status__in=OPEN_APPLICATION_STATUSES
                    ).first()
            if form.is_valid():
                try:
                    if application is not None:
                        stay = services.admit_application(
                            application=application,
                            on=form.cleaned_data["start_date"],
                            bed=bed,
                            by=request.user,
                        )
                    else:
                        stay = services.admit_to_bed(
                            elder=elder,
                            bed=bed,
                            start_date=form.cleaned_data["start_date"],
                            by=request.user,
                        )
                except (ValidationError, OutOfScopeWrite) as error:
                    form.add_error(None, _errors(error))
                else:
                    messages.success(request, _("已办理入住：%(stay)s") % {"stay": stay})
                    return redirect(_board_url(bed.facility_id))
        return _page(
            self,
            request,
            "form_page.html",
            gettext("办理入住"),
            form=form,
            bed=bed,
            back_url=_board_url(bed.facility_id) if bed else None,
        )

    def _open_stay(self, request, pk) -> Stay:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            self.get_queryset(request)
            .filter(end_date__isnull=True)
            .select_related("elder", "bed__facility", "bed__room__floor__building"),
            pk=pk,
        )

    def discharge_view(self, request, pk):
        stay = self._open_stay(request, pk)
        form = DischargeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.discharge(
                    elder=stay.elder, end_date=form.cleaned_data["end_date"], by=request.user
                )
            except (ValidationError, OutOfScopeWrite) as error:
                form.add_error(None, _errors(error))
            else:
                messages.success(
                    request,
                    gettext("%(elder)s 已退住，%(bed)s 空出")
                    % {"elder": stay.elder, "bed": stay.bed.label},
                )
                return redirect(_board_url(stay.bed.facility_id))
        return _page(
            self,
            request,
            "form_page.html",
            gettext("办理退住：%(name)s（%(place)s %(bed)s）")
            % {"name": stay.elder.name, "place": _bed_place(stay.bed), "bed": stay.bed.label},
            form=form,
            stay=stay,
            submit_label=gettext("确认退住"),
            back_url=_board_url(stay.bed.facility_id),
        )

    def transfer_view(self, request, pk):
        stay = self._open_stay(request, pk)
        free = (
            scoped(selectors.free_beds(stay.bed.facility), request.user)
            .select_related("room__floor__building")
            .order_by("room__floor__building__name", "room__floor__number", "label")
        )
        form = TransferForm(request.POST or None, beds=free)
        if request.method == "POST" and form.is_valid():
            try:
                new_stay = services.transfer(
                    elder=stay.elder,
                    to_bed=form.cleaned_data["to_bed"],
                    on=form.cleaned_data["on"],
                    by=request.user,
                )
            except (ValidationError, OutOfScopeWrite) as error:
                form.add_error(None, _errors(error))
            else:
                messages.success(request, gettext("已转床：%(stay)s") % {"stay": new_stay})
                return redirect(_board_url(stay.bed.facility_id))
        return _page(
            self,
            request,
            "form_page.html",
            gettext("办理转床：%(name)s（现 %(place)s %(bed)s）")
            % {"name": stay.elder.name, "place": _bed_place(stay.bed), "bed": stay.bed.label},
            form=form,
            stay=stay,
            submit_label=gettext("确认转床"),
            back_url=_board_url(stay.bed.facility_id),
        )

    def correct_view(self, request, pk):
        """Correct a stay recorded wrongly (its dates or its bed), with a reason kept in its
        history: how a stay typed with a future date, which holds its bed, is put right."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        stay = get_object_or_404(
            self.get_queryset(request).select_related("elder", "bed__facility"), pk=pk
        )
        beds = (
            scoped(Bed.objects.filter(facility=stay.bed.facility), request.user)
            .filter(Q(is_active=True) | Q(pk=stay.bed_id))
            .select_related("room__floor__building")
            .order_by("room__floor__building__name", "room__floor__number", "label")
        )
        form = CorrectStayForm(request.POST or None, stay=stay, beds=beds)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.correct_stay(
                    stay=stay,
                    start_date=data["start_date"],
                    end_date=data.get("end_date") if stay.end_date is not None else None,
                    bed=data["bed"],
                    reason=data["reason"],
                    by=request.user,
                )
            except (ValidationError, OutOfScopeWrite) as error:
                _show_refusal(form, error)
            else:
                messages.success(request, _("入住记录已更正，原记录保留在历史中。"))
                return redirect(_board_url(stay.bed.facility_id))
        return _page(
            self,
            request,
            "form_page.html",
            _("更正入住记录：%(name)s") % {"name": stay.elder.name},
            form=form,
            stay=stay,
            submit_label=_("确认更正"),
            back_url=_board_url(stay.bed.facility_id),
        )

    def placement_view(self, request, pk):
        """The county's approval of placing the elder in institutional care: recorded,
        changed or withdrawn by a civil-affairs bureau (the service refuses anyone else,
        saying why); everyone who sees the stay sees it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        # A bureau also finds here the stays of the elders registered in its area in other
        # counties' institutions (selectors.placement_approval_stays): for this page only.
        stay = get_object_or_404(
            selectors.placement_approval_stays(request.user).select_related(
                "elder", "bed__facility"
            ),
            pk=pk,
        )
        if self.get_queryset(request).filter(pk=stay.pk).exists():
            back_url = reverse("admin:facilities_stay_change", args=[stay.pk])
        else:
            back_url = reverse("admin:facilities_stay_placement_list")
        form = PlacementApprovalForm(request.POST or None, stay=stay)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.record_placement_approval(
                    stay=stay,
                    approved_on=None if data.get("withdraw") else data["placement_approved_on"],
                    approval_number=data["placement_approval_number"],
                    approved_by=data["placement_approved_by"],
                    reason=data["reason"],
                    by=request.user,
                )
            except (ValidationError, OutOfScopeWrite) as error:
                _show_refusal(form, error)
            else:
                messages.success(request, _("已登记县级民政部门的批准，原记录保留在历史中。"))
                return redirect(back_url)
        return _page(
            self,
            request,
            "form_page.html",
            _("纳入机构养老的县级批准：%(name)s") % {"name": stay.elder.name},
            form=form,
            stay=stay,
            submit_label=_("保存"),
            back_url=back_url,
        )

    def placement_list_view(self, request):
        """The stays whose county approval the user may record, with their placement facts
        only (selectors.placement_approval_stays): a county bureau finds here its registered
        elders' stays in other counties' institutions, which no other page shows it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        stays = selectors.placement_approval_stays(request.user).filter(end_date__isnull=True)
        pending_only = request.GET.get("pending") == "1"
        if pending_only:
            stays = stays.filter(placement_approved_on__isnull=True)
        # Every open stay, a page at a time: a list cut at a fixed length hid the rest.
        page = Paginator(
            stays.select_related("elder", "bed__facility").order_by("-start_date", "pk"),
            PLACEMENTS_PER_PAGE,
        ).get_page(request.GET.get("p"))
        head = (
            _("老年人"),
            _("机构"),
            _("入住日期"),
            _("县级民政部门批准纳入机构养老日期"),
            _("批准文号"),
            _("办理"),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            '<td><a href="{}">{}</a></td></tr>',
            (
                (
                    stay.elder.name,
                    stay.bed.facility.name,
                    stay.start_date,
                    stay.placement_approved_on or "—",
                    stay.placement_approval_number or "—",
                    reverse("admin:facilities_stay_placement", args=[stay.pk]),
                    _("县级批准"),
                )
                for stay in page
            ),
        )
        table = format_html(
            '<p>{} <a href="?{}">{}</a></p>'
            '<table id="result_list"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
            '<p class="paginator">{}</p>',
            gettext("共 %(count)s 条在住记录，第 %(page)s / %(pages)s 页。")
            % {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
            },
            "" if pending_only else "pending=1",
            _("显示全部") if pending_only else _("只看尚未批准的"),
            format_html_join("", "<th>{}</th>", ((h,) for h in head)),
            rows,
            _page_links(page, pending_only),
        )
        return _page(self, request, "simple_page.html", _("县级批准"), table=table)

    @admin.action(description=_("办理退住（今日）"), permissions=["change"])
    def discharge_today(self, request, queryset):
        for stay in queryset.filter(end_date__isnull=True).select_related("elder"):
            try:
                services.discharge(elder=stay.elder, end_date=_today(), by=request.user)
            except (ValidationError, OutOfScopeWrite) as error:
                messages.error(request, f"{stay.elder}：{_errors(error)}")
            else:
                messages.success(request, gettext("%(elder)s 已退住") % {"elder": stay.elder})

    @admin.action(description=_("打印所选老人的长者码标签"))
    def print_elder_labels(self, request, queryset):
        stays = queryset.select_related("elder", "bed__facility").order_by("bed__label")
        return label_sheet(
            request,
            gettext("长者码"),
            [
                (s.elder.elder_code, s.elder.name, f"{s.bed.facility.name} {s.bed.label}")
                for s in stays
            ],
        )


# --- waiting list ------------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(ScopedAdmin):
    list_display = ["rank", "elder", "facility", "applied_on", "status", "rule", "offered_bed"]
    list_filter = ["status", "facility"]
    search_fields = ["elder__name", "=elder__elder_code"]
    list_select_related = ["elder", "facility", "offered_bed"]
    autocomplete_fields = ["elder", "facility"]
    readonly_fields = ["status", "offered_bed", "offered_on", "stay", "closed_on"]
    actions = ["offer_next_free_bed", "admit_to_offered_bed", "withdraw"]

    def get_readonly_fields(self, request, obj=None):
        # Who applied where and when is the application itself (and the rank): an institution
        # edits its applicants' notes without reaching the elder's record.
        if obj is None:
            return self.readonly_fields
        return ["elder", "facility", "applied_on", *self.readonly_fields]

    def changelist_view(self, request, extra_context=None):
        # The list is read in rank order (docs/policy.md §5): get_queryset annotates the ranks.
        request._rank_waiting_list = True
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not getattr(request, "_rank_waiting_list", False):
            return queryset
        # Ranks of the facilities on this list, computed once per facility, put on the rows so
        # the list sorts by them: each facility's applicants in rank order, closed ones after.
        ranks, rules = [], []
        facility_ids = queryset.values_list("facility_id", flat=True).distinct()
        for facility in Facility.objects.filter(pk__in=facility_ids).select_related("region"):
            for entry in selectors.waiting_list(facility, _today()):
                pk = entry.application.pk
                ranks.append(When(pk=pk, then=Value(entry.rank)))
                rules.append(When(pk=pk, then=Value(entry.explanation)))
        return queryset.annotate(
            waiting_rank=Case(*ranks, default=None, output_field=IntegerField()),
            waiting_rule=Case(*rules, default=Value(""), output_field=CharField()),
        )

    def get_ordering(self, request):
        if getattr(request, "_rank_waiting_list", False):
            return [
                "facility__name",
                F("waiting_rank").asc(nulls_last=True),
                "-applied_on",
                "-id",
            ]
        return ["facility__name", "applied_on", "id"]

    @admin.display(description=_("轮候名次"), ordering="waiting_rank")
    def rank(self, application):
        return getattr(application, "waiting_rank", None) or "-"

    @admin.display(description=_("排序依据"))
    def rule(self, application):
        return getattr(application, "waiting_rule", "") or "-"

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

    @admin.action(description=_("为所选机构的下一位申请人通知一张空床"), permissions=["change"])
    def offer_next_free_bed(self, request, queryset):
        for facility in Facility.objects.filter(pk__in=queryset.values("facility_id")):
            entry = selectors.next_applicant(facility, _today())
            bed = selectors.free_beds(facility).exclude(offers__status="offered").first()
            if entry is None or bed is None:
                messages.warning(
                    request,
                    gettext("%(facility)s：没有轮候人或没有空床") % {"facility": facility.name},
                )
                continue
            try:
                services.offer_bed(
                    application=entry.application, bed=bed, on=_today(), by=request.user
                )
            except (ValidationError, OutOfScopeWrite) as error:
                messages.error(request, f"{facility.name}：{_errors(error)}")
            else:
                messages.success(
                    request,
                    gettext("已通知 %(elder)s 入住 %(bed)s")
                    % {"elder": entry.application.elder, "bed": bed.label},
                )

    @admin.action(description=_("按通知床位办理入住（今日）"), permissions=["change"])
    def admit_to_offered_bed(self, request, queryset):
        for application in queryset.filter(status="offered"):
            try:
                stay = services.admit_application(
                    application=application, on=_today(), by=request.user
                )
            except (ValidationError, OutOfScopeWrite) as error:
                messages.error(request, f"{application.elder}：{_errors(error)}")
            else:
                messages.success(request, _("已办理入住：%(stay)s") % {"stay": stay})

    @admin.action(description=_("撤回申请"), permissions=["change"])
    def withdraw(self, request, queryset):
        for application in queryset:
            try:
                services.withdraw_application(application=application, on=_today(), by=request.user)
            except (ValidationError, OutOfScopeWrite) as error:
                messages.error(request, f"{application.elder}：{_errors(error)}")


# --- caregivers --------------------------------------------------------------------------------


class CertificateInline(admin.TabularInline):
    model = Certificate
    extra = 0
    can_delete = False


class EmploymentFormSet(forms.BaseInlineFormSet):
    """Rows typed in one save are checked against each other, not only against the database:
    two open employments at one facility would otherwise reach the database's constraint."""

    def clean(self):
        super().clean()
        open_at: dict[int, int] = {}
        for number, form in enumerate(self.forms, start=1):
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or data.get("end_date") is not None:
                continue
            facility = data.get("facility")
            if facility is None:
                continue
            if facility.pk in open_at:
                raise ValidationError(
                    _(
                        "第 %(a)s 行与第 %(b)s 行都是在%(facility)s的在职记录：同一机构只能有一条未结束的任职。"
                    )
                    % {"a": open_at[facility.pk], "b": number, "facility": facility.name}
                )
            open_at[facility.pk] = number


class EmploymentInline(admin.TabularInline):
    model = Employment
    formset = EmploymentFormSet
    extra = 0
    can_delete = False
    autocomplete_fields = ["facility"]


class EmployedAtFilter(admin.SimpleListFilter):
    title = _("任职机构（在职）")
    parameter_name = "employed_at"

    def lookups(self, request, model_admin):
        facilities = scoped(Facility.objects.all(), request.user).filter(
            employments__end_date__isnull=True
        )
        return [(f.pk, f.name) for f in facilities.distinct().order_by("name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                employments__facility_id=self.value(), employments__end_date__isnull=True
            ).distinct()
        return queryset


class HeldCertificateFilter(admin.SimpleListFilter):
    """Caregivers holding a certificate of a kind valid today (an expired one is not held)."""

    title = _("持有有效证书")
    parameter_name = "holds"

    def lookups(self, request, model_admin):
        return CertificateKind.choices

    def queryset(self, request, queryset):
        if self.value() in CertificateKind.values:
            held = selectors.valid_certificates(_today()).filter(kind=self.value())
            return queryset.filter(pk__in=held.values("caregiver_id"))
        return queryset


class CaregiverForm(NewPhoneFormMixin, forms.ModelForm):
    class Meta:
        model = Caregiver
        fields = ["name", "id_number", "phone"]


@admin.register(Caregiver)
class CaregiverAdmin(RevealPersonalDataMixin, ScopedAdmin):
    form = CaregiverForm
    list_display = ["name", "certificates_held", "facilities_now"]
    # A new caregiver lies in a scope once employed: the employment added with them decides.
    scope_placed_by_inlines = True
    list_filter = [EmployedAtFilter, HeldCertificateFilter, "certificates__grade"]
    search_fields = ["name", "=id_number", "certificates__number"]
    inlines = [CertificateInline, EmploymentInline]

    def get_fields(self, request, obj=None):
        fields = ["name", "id_number", "phone"]
        # PIPL: a saved caregiver's number and phone are shown masked, with a 显示完整 button
        # for the roles whose work needs them (accounts.reveal).
        return fields if obj is None else self.masked_fields(request, fields)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["id_number_shown", "phone_shown"]
        return fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("certificates", "employments__facility")
            .distinct()
        )

    @admin.display(description=_("证书"))
    def certificates_held(self, caregiver):
        # An expired certificate (a 救护员证 past its date) is not held: shown struck through
        # with its date, and not counted anywhere (facilities.selectors.valid_certificates).
        today = _today()
        rows = []
        for certificate in caregiver.certificates.all():
            if selectors.certificate_valid_on(certificate, today):
                rows.append(format_html("<div>{}</div>", certificate))
            else:
                rows.append(
                    format_html(
                        '<div><s>{}</s> <span style="color:var(--error-fg)">{}</span></div>',
                        certificate,
                        _("已过期（%(date)s）") % {"date": certificate.valid_until},
                    )
                )
        return format_html_join("", "{}", ((row,) for row in rows))

    @admin.display(description=_("任职机构"))
    def facilities_now(self, caregiver):
        return "，".join(e.facility.name for e in caregiver.employments.all() if e.end_date is None)
