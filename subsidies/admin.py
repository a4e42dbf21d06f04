"""Admin: runs with their progress, batches with totals and the approve/export actions.

Everything here is read-only except through the actions, which call the services."""

import io
import json
import tempfile
import zipfile
from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import ScopedAdminMixin
from subsidies.choices import ExportFormat
from subsidies.models import (
    AllowanceRun,
    BankReturnImport,
    BatchExport,
    FacilitySubsidy,
    PaymentBatch,
    PaymentLine,
    Scheme,
    StarSubsidyRate,
)
from subsidies.selectors import batch_grand_total, batch_totals
from subsidies.services import (
    approve_batch,
    check_star_rate_cap,
    export_batch,
    set_star_subsidy_rate,
)


class ReadOnlyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # records with audit value are never deleted


@admin.register(Scheme)
class SchemeAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "label", "jurisdiction", "policy_key", "period_kind", "payee"]
    list_filter = ["period_kind", "payee", "eligibility"]
    search_fields = ["code", "label"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _pretty(data) -> str:
    return format_html("<pre>{}</pre>", json.dumps(data, ensure_ascii=False, indent=2))


@admin.register(AllowanceRun)
class AllowanceRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "region",
        "period",
        "status",
        "progress",
        "elders_seen",
        "lines_total",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "period"]
    exclude = ["plan", "report"]
    readonly_fields = ["progress", "report_display"]

    @admin.display(description=_("进度（分块）"))
    def progress(self, run):
        return f"{run.chunks_done}/{run.chunks_total}"

    @admin.display(description=_("运行报告"))
    def report_display(self, run):
        return _pretty(run.report)


class BatchExportInline(admin.TabularInline):
    model = BatchExport
    extra = 0
    can_delete = False
    fields = [
        "format",
        "file_name",
        "sha256",
        "line_count",
        "total_amount",
        "exported_by",
        "exported_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _export_response(request, queryset, fmt: str):
    if queryset.count() != 1:
        messages.error(request, "请只选择一个批次导出。")
        return None
    batch = queryset.get()
    with tempfile.TemporaryDirectory() as folder:
        base = f"batch-{batch.pk}-{batch.region.code}-{batch.period:%Y-%m}"
        output = Path(folder) / f"{base}.{fmt}"
        try:
            export_batch(batch=batch, fmt=fmt, output=output, by=request.user)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
            return None
        if fmt == ExportFormat.XLSX:
            content, name = output.read_bytes(), output.name
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in Path(folder).iterdir():
                    archive.write(path, path.name)
            content, name, kind = buffer.getvalue(), f"{base}.zip", "application/zip"
    response = HttpResponse(content, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["id", "region", "period", "kind", "state", "approved_by", "approved_at"]
    list_filter = ["state", "kind", "period"]
    actions = ["approve", "export_csv", "export_xlsx"]
    inlines = [BatchExportInline]
    readonly_fields = [
        "region",
        "period",
        "kind",
        "state",
        "approved_by",
        "approved_at",
        "exported_at",
        "reconciled_at",
        "totals",
    ]
    fields = readonly_fields + ["note"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("按项目合计"))
    def totals(self, batch):
        rows = batch_totals(batch)
        count, amount = batch_grand_total(batch)
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r["label"], r["count"], r["amount"]) for r in rows),
        )
        return format_html(
            "<table><tr><th>项目</th><th>笔数</th><th>金额（元）</th></tr>{}"
            "<tr><th>合计</th><th>{}</th><th>{}</th></tr></table>",
            body,
            count,
            amount,
        )

    @admin.action(description=_("审核所选批次（财务）"), permissions=["approve"])
    def approve(self, request, queryset):
        for batch in queryset:
            try:
                approve_batch(batch=batch, by=request.user)
            except ValidationError as error:
                messages.error(request, f"{batch}：{'; '.join(error.messages)}")
            else:
                messages.success(request, f"{batch}：已审核")

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("subsidies.approve_paymentbatch")

    @admin.action(description=_("导出所选批次（CSV + 合计）"), permissions=["view"])
    def export_csv(self, request, queryset):
        return _export_response(request, queryset, ExportFormat.CSV)

    @admin.action(description=_("导出所选批次（XLSX）"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return _export_response(request, queryset, ExportFormat.XLSX)


@admin.register(PaymentLine)
class PaymentLineAdmin(ReadOnlyAdmin):
    list_display = ["id", "batch", "scheme", "period", "elder", "amount", "kind", "status"]
    list_filter = ["kind", "status", "scheme", "period"]
    search_fields = ["elder__id_number", "elder__name", "bank_reference"]
    list_select_related = ["batch__region", "scheme", "elder"]
    raw_id_fields = ["elder", "corrects", "batch", "policy_value"]
    readonly_fields = ["inputs_display"]
    exclude = ["inputs"]

    @admin.display(description=_("计算依据"))
    def inputs_display(self, line):
        return _pretty(line.inputs)


@admin.register(BatchExport)
class BatchExportAdmin(ReadOnlyAdmin):
    list_display = [
        "batch",
        "format",
        "file_name",
        "sha256",
        "line_count",
        "total_amount",
        "exported_by",
        "exported_at",
    ]


@admin.register(BankReturnImport)
class BankReturnImportAdmin(ReadOnlyAdmin):
    list_display = [
        "batch",
        "file_name",
        "paid_count",
        "failed_count",
        "imported_by",
        "imported_at",
    ]


@admin.register(StarSubsidyRate)
class StarSubsidyRateAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """The bureau's table of yearly operating subsidies by star level. Saving goes through
    set_star_subsidy_rate, which refuses an amount above the rulebook cap, naming it."""

    list_display = ["jurisdiction", "stars", "amount", "effective_from", "note"]
    list_filter = ["stars"]
    search_fields = ["jurisdiction__name", "jurisdiction__code"]
    autocomplete_fields = ["jurisdiction"]
    list_select_related = ["jurisdiction"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        # The form already checked the cap with the same rule the service applies.
        saved = set_star_subsidy_rate(
            jurisdiction=obj.jurisdiction,
            stars=obj.stars,
            amount=obj.amount,
            effective_from=obj.effective_from,
            note=obj.note,
            by=request.user,
        )
        obj.pk = saved.pk

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class CappedForm(form):
            def clean(self):
                cleaned = super().clean()
                if all(
                    cleaned.get(f) is not None for f in ("jurisdiction", "amount", "effective_from")
                ):
                    check_star_rate_cap(
                        jurisdiction=cleaned["jurisdiction"],
                        amount=cleaned["amount"],
                        effective_from=cleaned["effective_from"],
                    )
                return cleaned

        return CappedForm


@admin.register(FacilitySubsidy)
class FacilitySubsidyAdmin(ReadOnlyAdmin):
    """Granted facility subsidies: each with its cap, citation and payment line. Grants are
    made through the API or grant_facility_subsidy, which check the caps."""

    list_display = ["facility", "kind", "year", "amount", "cap", "citation"]
    list_filter = ["kind", "year"]
    search_fields = ["facility__name", "facility__code"]
    list_select_related = ["facility"]
