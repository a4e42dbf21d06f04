"""Admin for finance: allowance runs with their progress (refreshing while they run), batch
review (lines filtered by scheme, street and status, with totals per scheme and in all), approval
with a confirmation page, the audited CSV/XLSX export and the bank return upload (preview every
row, then reconcile). Thin: every write is one call to a service (subsidies.run, batches,
exports, grants)."""

import hashlib
import io
import json
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.choices import UploadPurpose
from accounts.masking import without_derivable_facts
from accounts.permissions import ScopedAdminMixin
from accounts.scoping import scoped
from accounts.templatetags.amounts import yuan
from accounts.uploads import check_upload_size, held_upload, hold_upload, release_upload
from regions.choices import RegionLevel
from regions.models import Region
from residents.paginators import LargeTableAdminMixin
from subsidies import bank_returns
from subsidies.batches import approve_batch
from subsidies.choices import BatchState, ExportFormat, RunHealth
from subsidies.exporting import Layout
from subsidies.exports import export_batch, reconcile_batch
from subsidies.grants import check_star_rate_cap, set_star_subsidy_rate
from subsidies.models import (
    AllowanceRun,
    AllowanceRunChunk,
    BankReturnImport,
    BatchExport,
    CorrectionChunk,
    CorrectionJob,
    FacilitySubsidy,
    PaymentBatch,
    PaymentLine,
    Scheme,
    StarSubsidyRate,
    money,
)
from subsidies.permissions import (
    STAR_RATES_ARE_THE_BUREAUS,
    can_approve,
    can_export,
    can_reconcile,
    can_set_star_rates,
)
from subsidies.run.correction_jobs import resume_job
from subsidies.run.finishing import resume_run
from subsidies.selectors import (
    batch_money_annotations,
    batch_payable_and_held,
    batch_totals,
    payable_and_held,
    run_health,
    runs_with_health,
)

# Seconds between reloads of a run's page while the run is queued or running.
RUN_REFRESH_SECONDS = 5


def _messages_of(error: ValidationError) -> str:
    return "；".join(error.messages)


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
    list_filter = ["period_kind", "payee"]
    search_fields = ["code", "label"]
    autocomplete_fields = ["jurisdiction"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _pretty(data) -> str:
    return format_html("<pre>{}</pre>", json.dumps(data, ensure_ascii=False, indent=2))


def _progress_bar(run) -> str:
    percent = round(100 * run.chunks_done / run.chunks_total) if run.chunks_total else 0
    if run_health(run)[0] == RunHealth.DONE:
        percent = 100
    return format_html(
        '<progress value="{}" max="100" title="{}%"></progress> {}/{}（{}%）',
        percent,
        percent,
        run.chunks_done,
        run.chunks_total,
        percent,
    )


# What the admin shows of a run that may still change: refreshed while it is.
_LIVE = (RunHealth.QUEUED, RunHealth.RUNNING)


class AllowanceRunChunkInline(admin.TabularInline):
    """Each chunk with its claim: who took it, how often, its last heartbeat, its last error."""

    model = AllowanceRunChunk
    fields = [
        "id_from",
        "id_to",
        "status",
        "attempts",
        "worker",
        "claimed_at",
        "heartbeat_at",
        "done_at",
        "elders_seen",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _month(value) -> str:
    return (
        gettext("%(year)s年%(month)s月") % {"year": value.year, "month": value.month}
        if value
        else ""
    )


class MonthFilter(admin.SimpleListFilter):
    """The month a run, batch or line is for, as its month (2026年10月), newest first — not
    a date filter offering 今天/过去7天, which a monthly period never falls in."""

    title = _("月份")
    parameter_name = "period"

    def months(self, request, model_admin):
        return model_admin.get_queryset(request).order_by().dates("period", "month", "DESC")

    def lookups(self, request, model_admin):
        return [(f"{m:%Y-%m}", _month(m)) for m in self.months(request, model_admin)[:60]]

    def queryset(self, request, queryset):
        value = self.value() or ""
        try:
            year, month = (int(part) for part in value.split("-"))
        except ValueError:
            return queryset
        return queryset.filter(period__year=year, period__month=month)


class PeriodMonthMixin:
    @admin.display(description=_("月份"), ordering="period")
    def period_month(self, obj):
        return _month(obj.period)


class ChunkedWorkAdmin(ReadOnlyAdmin):
    """Work Celery does in chunks (allowance runs, correction jobs) as it is: its health read
    with its chunks' heartbeats (running, 停滞 when its worker died, failed with the reason),
    its progress and last heartbeat, refreshing while it may still change; 续跑 queues a
    stalled or failed one's unfinished chunks again."""

    actions = ["resume"]
    change_form_template = "admin/subsidies/allowancerun/change_form.html"
    change_list_template = "admin/subsidies/allowancerun/change_list.html"
    resumed_message = ""

    def resume_work(self, item, by) -> int:
        raise NotImplementedError

    def get_queryset(self, request):
        return runs_with_health(super().get_queryset(request))

    def has_resume_permission(self, request) -> bool:
        # Whether this one may be resumed by this user is the resume service's to say.
        opts = self.model._meta
        return not self._read_only(request) and request.user.has_perm(
            f"{opts.app_label}.view_{opts.model_name}"
        )

    @admin.display(description=_("状态"))
    def health(self, run):
        state, detail = run_health(run)
        label = RunHealth(state).label
        if not detail:
            return label
        return format_html('{}<br><span class="help">{}</span>', label, detail)

    @admin.display(description=_("最近心跳"))
    def last_heartbeat(self, run):
        return run.last_heartbeat or "-"

    @admin.display(description=_("进度（分块）"))
    def progress(self, run):
        return _progress_bar(run)

    @admin.action(description=_("续跑所选运行（重新排队未完成的分块）"), permissions=["resume"])
    def resume(self, request, queryset):
        """The resume service checks the user's scope and the work's state for each one, and
        says why it refuses one."""
        for item in queryset.select_related("region"):
            try:
                queued = self.resume_work(item, request.user)
            except ValidationError as error:
                self.message_user(request, _messages_of(error), messages.ERROR)
                continue
            self.message_user(
                request, self.resumed_message % {"id": item.pk, "n": queued}, messages.SUCCESS
            )

    @admin.display(description=_("运行报告"))
    def report_display(self, run):
        return _pretty(run.report)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        running = run is not None and run_health(run)[0] in _LIVE
        extra = {**(extra_context or {}), "refresh_seconds": RUN_REFRESH_SECONDS if running else 0}
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            running = any(run_health(r)[0] in _LIVE for r in cl.result_list)
            response.context_data["refresh_seconds"] = RUN_REFRESH_SECONDS if running else 0
        return response


@admin.register(AllowanceRun)
class AllowanceRunAdmin(PeriodMonthMixin, ChunkedWorkAdmin):
    list_display = [
        "id",
        "region",
        "period_month",
        "health",
        "progress",
        "last_heartbeat",
        "elders_seen",
        "lines_total",
        "batch_link",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", MonthFilter]
    list_select_related = ["region", "batch"]
    exclude = ["plan", "report"]
    readonly_fields = ["health", "progress", "last_heartbeat", "batch_link", "report_display"]
    inlines = [AllowanceRunChunkInline]
    resumed_message = _("运行 #%(id)s 已续跑：重新排队 %(n)d 个分块。")

    def resume_work(self, item, by) -> int:
        return resume_run(run=item, by=by)

    @admin.display(description=_("常规批次"))
    def batch_link(self, run):
        if not run.batch_id:
            return "-"
        url = reverse("admin:subsidies_paymentbatch_change", args=[run.batch_id])
        return format_html('<a href="{}">{}</a>', url, _("批次 #{}").format(run.batch_id))


class CorrectionChunkInline(AllowanceRunChunkInline):
    """Each month and range of payees with its claim and what it did."""

    model = CorrectionChunk
    # The run's chunk's fields but its count of elders, with the month, the payees and what
    # the chunk did.
    fields = ["period", "payee", *AllowanceRunChunkInline.fields[:-2], "counts", "error"]
    readonly_fields = fields


@admin.register(CorrectionJob)
class CorrectionJobAdmin(ChunkedWorkAdmin):
    """A rate revised backwards, applied to the months already run: which value, from when,
    why, and how far the job has got."""

    list_display = [
        "id",
        "region",
        "policy_key",
        "start",
        "health",
        "progress",
        "last_heartbeat",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    list_select_related = ["region", "policy_value", "requested_by"]
    exclude = ["report"]
    readonly_fields = ["health", "progress", "last_heartbeat", "report_display"]
    inlines = [CorrectionChunkInline]
    resumed_message = _("追溯调整任务 #%(id)s 已续跑：重新排队 %(n)d 个分块。")

    def resume_work(self, item, by) -> int:
        return resume_job(job=item, by=by)

    @admin.display(description=_("参数"), ordering="policy_value__key")
    def policy_key(self, job):
        return job.policy_value.key


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


class BankReturnInline(admin.TabularInline):
    model = BankReturnImport
    extra = 0
    can_delete = False
    fields = ["file_name", "sha256", "paid_count", "failed_count", "imported_by", "imported_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# The files finance can take, each named for who reads it: (format, layout, label).
EXPORT_FILES = [
    (ExportFormat.CSV, Layout.BANK, _("银行文件（CSV，机读列，含合计）")),
    (ExportFormat.XLSX, Layout.BANK, _("银行文件（Excel，机读列）")),
    (ExportFormat.XLSX, Layout.FINANCE, _("财务核对表（Excel，中文表头）")),
    (ExportFormat.CSV, Layout.FINANCE, _("财务核对表（CSV，Excel 可直接打开，含合计）")),
]


def _export_response(request, batch, fmt: str, layout: str = Layout.BANK):
    """The audited export (export_batch) as a download: XLSX as it is, CSV zipped with its
    totals file (per-scheme control totals and the checksum of the lines file). The finance
    layout's files are named so (``…-finance``) beside the bank's."""
    with tempfile.TemporaryDirectory() as folder:
        base = f"batch-{batch.pk}-{batch.region.code}-{batch.period:%Y-%m}"
        if layout == Layout.FINANCE:
            base += "-finance"
        output = Path(folder) / f"{base}.{fmt}"
        try:
            record = export_batch(
                batch=batch, fmt=fmt, output=output, by=request.user, layout=layout
            )
        except ValidationError as error:
            messages.error(
                request,
                gettext("%(batch)s：%(errors)s") % {"batch": batch, "errors": _messages_of(error)},
            )
            return None
        if fmt == ExportFormat.XLSX:
            content, name = output.read_bytes(), output.name
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(Path(folder).iterdir()):
                    archive.write(file, file.name)
            content, name, kind = buffer.getvalue(), f"{base}.zip", "application/zip"
    response = HttpResponse(content, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Checksum-SHA256"] = record.sha256
    return response


def _batch_summary(batch) -> dict:
    split = batch_payable_and_held(batch)
    return {
        "batch": batch,
        "totals": batch_totals(batch),
        "count": split.payable.count,
        "amount": split.payable.amount,
        "held_count": split.held.count,
        "held_amount": split.held.amount,
    }


class BankReturnUploadForm(forms.Form):
    file = forms.FileField(
        label=_("银行回盘文件（CSV 或 XLSX）"),
        help_text=_(
            "表头：reference（明细编号 PL…）或 id_number，status（paid/failed），"
            "bank_reference，可选 message。"
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in (".csv", ".xlsx"):
            raise ValidationError(_("请上传 CSV 或 XLSX 文件。"))
        check_upload_size(upload)
        return upload


@admin.register(PaymentBatch)
class PaymentBatchAdmin(PeriodMonthMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "id",
        "region",
        "period_month",
        "kind",
        "state",
        "line_count",
        "amount",
        "approved_by",
        "approved_at",
        "review_link",
    ]
    list_filter = ["state", "kind", MonthFilter]
    list_select_related = ["region", "approved_by"]
    search_fields = ["region__name", "=region__code"]
    actions = ["approve", "export_csv", "export_xlsx", "export_finance_xlsx"]
    inlines = [BatchExportInline, BankReturnInline]
    change_form_template = "admin/subsidies/paymentbatch/change_form.html"
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

    def get_queryset(self, request):
        # Correlated subqueries, not a join: only the rows shown are totalled, and the
        # changelist's count query drops them. Payable and held as everywhere (selectors).
        return super().get_queryset(request).annotate(**batch_money_annotations())

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_approve_permission(self, request) -> bool:
        return can_approve(request.user)

    def has_export_permission(self, request) -> bool:
        return can_export(request.user)

    @admin.display(description=_("笔数"), ordering="payable_count")
    def line_count(self, batch):
        return batch.payable_count or 0

    @admin.display(description=_("金额（元）"), ordering="payable_amount")
    def amount(self, batch):
        return yuan(money(batch.payable_amount or Decimal("0")))

    @admin.display(description=_("明细"))
    def review_link(self, batch):
        return format_html('<a href="{}">{}</a>', _lines_url(batch), _("审阅明细"))

    @admin.display(description=_("按项目合计"))
    def totals(self, batch):
        summary = _batch_summary(batch)
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r["label"], r["count"], yuan(r["amount"])) for r in summary["totals"]),
        )
        held = (
            format_html(
                '<tr class="held"><td>{}</td><td>{}</td><td>{}</td></tr>',
                _("暂缓发放（无账户，不计入合计）"),
                summary["held_count"],
                yuan(summary["held_amount"]),
            )
            if summary["held_count"]
            else ""
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}"
            "<tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("项目"),
            _("笔数"),
            _("金额（元）"),
            body,
            _("合计"),
            summary["count"],
            yuan(summary["amount"]),
            held,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/approve/", view(self.approve_view), name="subsidies_paymentbatch_approve"
            ),
            path("<int:pk>/export/", view(self.export_view), name="subsidies_paymentbatch_export"),
            path(
                "<int:pk>/bank-return/",
                view(self.bank_return_view),
                name="subsidies_paymentbatch_bank_return",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if batch is not None:
            extra.update(
                lines_url=_lines_url(batch),
                may_approve=batch.state == BatchState.DRAFT and can_approve(request.user),
                may_export=batch.state != BatchState.DRAFT and can_export(request.user),
                may_reconcile=batch.state in (BatchState.EXPORTED, BatchState.RECONCILED)
                and can_reconcile(request.user),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _page(self, request, template: str, title: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/subsidies/paymentbatch/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                **context,
            },
        )

    def _batch(self, request, pk, allowed) -> PaymentBatch:
        if not allowed(request.user):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request).select_related("region"), pk=pk)

    def _approve(self, request, batches) -> int:
        approved = 0
        for batch in batches:
            try:
                approve_batch(batch=batch, by=request.user)
            except ValidationError as error:
                messages.error(
                    request,
                    gettext("%(batch)s：%(errors)s")
                    % {"batch": batch, "errors": _messages_of(error)},
                )
            else:
                approved += 1
                messages.success(request, gettext("%(batch)s：已审核") % {"batch": batch})
        return approved

    def _confirm_approval(self, request, batches, *, action: bool) -> TemplateResponse:
        return self._page(
            request,
            "approve_confirm.html",
            gettext("确认审核支付批次"),
            summaries=[_batch_summary(b) for b in batches],
            from_action=action,
            action_checkbox_name=ACTION_CHECKBOX_NAME,
            changelist_url=reverse("admin:subsidies_paymentbatch_changelist"),
        )

    def approve_view(self, request, pk):
        """The batch's totals and a confirmation; on POST, approve_batch (which checks the
        finance permission, the state and that no run is still adding lines)."""
        batch = self._batch(request, pk, can_approve)
        if request.method == "POST":
            self._approve(request, [batch])
            return redirect("admin:subsidies_paymentbatch_change", batch.pk)
        return self._confirm_approval(request, [batch], action=False)

    def export_view(self, request, pk):
        """GET: the formats and the batch's earlier exports; POST: the audited download."""
        batch = self._batch(request, pk, can_export)
        if request.method == "POST":
            fmt = request.POST.get("format", "")
            layout = request.POST.get("layout") or Layout.BANK
            if fmt not in ExportFormat.values:
                messages.error(
                    request,
                    gettext("格式 %(format)s 不支持，应为 csv 或 xlsx。") % {"format": repr(fmt)},
                )
            elif layout not in Layout.choices:
                messages.error(
                    request,
                    gettext("版式 %(layout)s 不支持，应为 bank 或 finance。")
                    % {"layout": repr(layout)},
                )
            else:
                response = _export_response(request, batch, fmt, layout)
                if response is not None:
                    return response
            return redirect("admin:subsidies_paymentbatch_export", batch.pk)
        return self._page(
            request,
            "export.html",
            gettext("导出：%(batch)s") % {"batch": batch},
            summary=_batch_summary(batch),
            exports=batch.exports.select_related("exported_by"),
            formats=ExportFormat.choices,
            files=EXPORT_FILES,
        )

    def bank_return_view(self, request, pk):
        """Upload → preview (each row matched or not, errors naming row and field) → confirm,
        which calls reconcile_batch with the same file. Between the two the file is a private
        HeldUpload of this user (accounts.uploads), deleted once used or when it expires."""
        batch = self._batch(request, pk, can_reconcile)
        session_key = "bank_return"
        if request.method == "POST" and "confirm" in request.POST:
            stored = request.session.get(session_key) or {}
            held = None
            if stored.get("token") == request.POST.get("token") and stored.get("batch") == batch.pk:
                held = held_upload(
                    pk=stored["token"], purpose=UploadPurpose.BANK_RETURN, owner=request.user
                )
            if held is None:
                messages.error(request, gettext("回盘文件已失效，请重新上传。"))
                return redirect("admin:subsidies_paymentbatch_bank_return", batch.pk)
            content = bytes(held.content)
            try:
                record = reconcile_batch(
                    batch=batch,
                    rows=bank_returns.parse_bank_return(content, held.file_name),
                    file_name=held.file_name,
                    sha256=hashlib.sha256(content).hexdigest(),
                    by=request.user,
                )
            except ValidationError as error:
                messages.error(request, _messages_of(error))
                return redirect("admin:subsidies_paymentbatch_bank_return", batch.pk)
            finally:
                release_upload(held)
                request.session.pop(session_key, None)
            messages.success(
                request,
                gettext(
                    "%(batch)s：对账完成，到账 %(paid)s 笔，失败 %(failed)s 笔"
                    "（失败的明细已转入下一批次重发）。"
                )
                % {"batch": batch, "paid": record.paid_count, "failed": record.failed_count},
            )
            return redirect("admin:subsidies_paymentbatch_change", batch.pk)

        form = BankReturnUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            content = upload.read()
            try:
                rows = bank_returns.parse_bank_return(content, upload.name)
            except ValidationError as error:
                form.add_error("file", _messages_of(error))
            else:
                result = bank_returns.preview(batch, rows)
                context = {"preview": result, "file_name": upload.name, "batch": batch}
                if result.ok:
                    previous = (request.session.get(session_key) or {}).get("token")
                    if previous:  # a file previewed before and never confirmed
                        release_upload(
                            held_upload(
                                pk=previous, purpose=UploadPurpose.BANK_RETURN, owner=request.user
                            )
                        )
                    held = hold_upload(
                        purpose=UploadPurpose.BANK_RETURN,
                        owner=request.user,
                        file_name=upload.name,
                        content=content,
                    )
                    token = str(held.pk)
                    request.session[session_key] = {"token": token, "batch": batch.pk}
                    context["token"] = token
                return self._page(
                    request,
                    "bank_return_preview.html",
                    gettext("银行回盘预览：%(batch)s") % {"batch": batch},
                    **context,
                )
        return self._page(
            request,
            "bank_return.html",
            gettext("上传银行回盘：%(batch)s") % {"batch": batch},
            form=form,
            batch=batch,
        )

    @admin.action(description=_("审核所选批次（财务）"), permissions=["approve"])
    def approve(self, request, queryset):
        batches = list(queryset.select_related("region"))
        if request.POST.get("confirm") == "yes":
            self._approve(request, batches)
            return None
        return self._confirm_approval(request, batches, action=True)

    def _single(self, request, queryset):
        if queryset.count() != 1:
            messages.error(request, gettext("请只选择一个批次导出。"))
            return None
        return queryset.select_related("region").get()

    @admin.action(description=_("导出银行文件（CSV，机读列，含合计）"), permissions=["export"])
    def export_csv(self, request, queryset):
        batch = self._single(request, queryset)
        return batch and _export_response(request, batch, ExportFormat.CSV)

    @admin.action(description=_("导出银行文件（Excel，机读列）"), permissions=["export"])
    def export_xlsx(self, request, queryset):
        batch = self._single(request, queryset)
        return batch and _export_response(request, batch, ExportFormat.XLSX)

    @admin.action(description=_("导出财务核对表（Excel，中文表头）"), permissions=["export"])
    def export_finance_xlsx(self, request, queryset):
        batch = self._single(request, queryset)
        return batch and _export_response(request, batch, ExportFormat.XLSX, Layout.FINANCE)


def _lines_url(batch) -> str:
    return f"{reverse('admin:subsidies_paymentline_changelist')}?batch__id__exact={batch.pk}"


class StreetFilter(admin.SimpleListFilter):
    """Lines by the street of the payee: an elder's household registration (where allowances
    are paid), a facility's location."""

    title = _("街道")
    parameter_name = "street"

    def lookups(self, request, model_admin):
        regions = scoped(PaymentBatch.objects.all(), request.user).values("region_id")
        batch_id = request.GET.get("batch__id__exact")
        if batch_id and batch_id.isdigit():
            regions = regions.filter(pk=batch_id)
        # Every street below a batch's region: a province's or a city's batch has no street
        # as a child, and a filter without choices would be dropped with its ?street= ignored.
        below = Q(pk__in=[])
        for region_path in Region.objects.filter(pk__in=regions).values_list("path", flat=True):
            below |= Q(path__startswith=region_path)
        streets = Region.objects.filter(below, level=RegionLevel.STREET)
        return [(r.code, r.name) for r in streets.order_by("code")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        street = Region.objects.filter(code=self.value()).first()
        if street is None:
            return queryset.none()
        return queryset.filter(
            Q(elder__hukou_region__path__startswith=street.path)
            | Q(facility__region__path__startswith=street.path)
        )


class LineMonthFilter(MonthFilter):
    """The months of the user's batches: the distinct months of a province's lines would be
    read from every line on each page (no index leads with the month, and one would slow
    every run's insert). A line is for its batch's month or, as arrears or a correction, for
    an earlier one; a month before the first batch is still chosen by its URL (?period=)."""

    def months(self, request, model_admin):
        batches = scoped(PaymentBatch.objects.all(), request.user)
        return batches.order_by().dates("period", "month", "DESC")


@admin.register(PaymentLine)
class PaymentLineAdmin(PeriodMonthMixin, LargeTableAdminMixin, ReadOnlyAdmin):
    # Who is paid and how much first: at 1366 px beside the filters they stay in view.
    list_display = [
        "id",
        "payee",
        "amount_yuan",
        "scheme",
        "period_month",
        "kind",
        "status",
        "batch",
    ]
    list_filter = ["scheme", StreetFilter, "status", "kind", LineMonthFilter]
    search_fields = ["=elder__id_number", "elder__name", "=elder__elder_code", "bank_reference"]
    list_select_related = ["batch__region", "scheme", "elder", "caregiver", "facility", "insurer"]
    raw_id_fields = ["elder", "corrects", "batch", "policy_value"]
    readonly_fields = ["inputs_display"]
    exclude = ["inputs"]
    change_list_template = "admin/subsidies/paymentline/change_list.html"

    def lookup_allowed(self, lookup, value, request=None):
        # The batch review is this list with ?batch__id__exact=N.
        return lookup == "batch__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("收款人"))
    def payee(self, line):
        return line.payee

    @admin.display(description=_("金额（元）"), ordering="amount")
    def amount_yuan(self, line):
        return yuan(line.amount)

    @admin.display(description=_("计算依据"))
    def inputs_display(self, line):
        # Finance sees ID numbers masked: not the birth date, which gives the masked digits.
        return _pretty(without_derivable_facts(line.inputs))

    def changelist_view(self, request, extra_context=None):
        """A batch's lines as filtered, with their totals per scheme and in all (cancelled
        lines are kept for the record and held lines wait for an account: neither is paid, so
        neither is counted; held lines are shown apart). Totals only for one
        batch: across all batches they would aggregate the whole table on every page."""
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        batch_id = request.GET.get("batch__id__exact", "")
        if cl is None or not batch_id.isdigit():
            return response
        split = payable_and_held(cl.queryset.order_by(), ("scheme__code", "scheme__label"))
        totals = [
            {
                "scheme": code,
                "label": label,
                "count": found.payable.count,
                "amount": found.payable.amount,
            }
            for (code, label), found in sorted(split.items())
            if found.payable.count
        ]
        held = [found.held for found in split.values()]
        batch = scoped(PaymentBatch.objects.select_related("region"), request.user)
        response.context_data.update(
            show_totals=True,
            line_totals=totals,
            line_total_count=sum(t["count"] for t in totals),
            line_total_amount=money(sum((t["amount"] for t in totals), Decimal("0"))),
            line_held_count=sum(h.count for h in held),
            line_held_amount=money(sum((h.amount for h in held), Decimal("0"))),
            review_batch=batch.filter(pk=batch_id).first(),
        )
        return response


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
    list_select_related = ["batch__region", "exported_by"]


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
    list_select_related = ["batch__region", "imported_by"]


@admin.register(StarSubsidyRate)
class StarSubsidyRateAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """The bureau's table of yearly operating subsidies by star level. Saving goes through
    set_star_subsidy_rate, which refuses an amount above the rulebook cap, naming it."""

    list_display = ["jurisdiction", "stars", "amount", "effective_from", "note"]
    list_filter = ["stars"]
    search_fields = ["jurisdiction__name", "jurisdiction__code"]
    autocomplete_fields = ["jurisdiction"]
    list_select_related = ["jurisdiction"]

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and can_set_star_rates(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        # Finance (and anyone but a bureau over the jurisdiction) reads the table only.
        jurisdiction = obj.jurisdiction if obj is not None else None
        return super().has_change_permission(request, obj) and can_set_star_rates(
            request.user, jurisdiction
        )

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
                jurisdiction = cleaned.get("jurisdiction")
                if jurisdiction is not None and not can_set_star_rates(request.user, jurisdiction):
                    raise ValidationError({"jurisdiction": STAR_RATES_ARE_THE_BUREAUS})
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


# Registered by importing them: the payee accounts' admin, and insurers with their covers.
from subsidies import admin_insurers, admin_payees  # noqa: E402, F401
