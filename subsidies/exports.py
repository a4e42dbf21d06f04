"""The bank's side of a batch: the export of an approved batch and the reconciliation of the
bank's return file (rows parsed by subsidies.bank_returns, files written by subsidies.exporting).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, override

from accounts.scoping import require_in_scope
from subsidies import bank_returns, exporting
from subsidies.bank_returns import BANK_STATUSES, BankReturnRow
from subsidies.batches import draft_batch_for
from subsidies.choices import BatchState, ExportFormat, LineKind, LineStatus, PaymentChannel
from subsidies.models import BankReturnImport, BatchExport, PaymentBatch, PaymentLine
from subsidies.payees import hold_lines_without_account
from subsidies.periods import add_months
from subsidies.selectors import live_lines


def export_batch(
    *,
    batch: PaymentBatch,
    fmt: str,
    output: Path,
    by=None,
    channel: str | None = None,
    layout: str = exporting.Layout.BANK,
) -> BatchExport:
    """Write the batch's file(s) and record the export (who, when, checksum).

    ``layout`` is ``bank`` (the documented machine-readable columns) or ``finance`` (Chinese
    headers and names, for people); ``channel`` keeps one channel's lines (the bank's file,
    the card platform's file). Only approved (or already exported) batches are exported: a
    draft may still change. Lines whose payee has no account are held, not exported: held
    here again, as at approval, so that a batch approved before its payees had accounts (or
    whose lines were put back) never sends a line the bank cannot pay."""
    from accounts.choices import AuditAction
    from accounts.services import record_audit

    if fmt not in ExportFormat.values:
        raise ValidationError(
            {
                "format": gettext("格式 %(format)s 不支持，应为 csv 或 xlsx。")
                % {"format": repr(fmt)}
            }
        )
    if layout not in exporting.Layout.choices:
        raise ValidationError(
            {
                "layout": gettext("版式 %(layout)s 不支持，应为 bank 或 finance。")
                % {"layout": repr(layout)}
            }
        )
    if channel and channel not in PaymentChannel.values:
        raise ValidationError(
            {
                "channel": gettext("渠道 %(channel)s 不存在，应为 %(channels)s。")
                % {"channel": repr(channel), "channels": "、".join(PaymentChannel.values)}
            }
        )
    if batch.state == BatchState.DRAFT:
        raise ValidationError({"state": gettext("批次尚未审核，不能导出。")})
    require_in_scope(by, batch, as_changed=False)
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        hold_lines_without_account(batch)
    output = Path(output)
    writer = exporting.write_csv if fmt == ExportFormat.CSV else exporting.write_xlsx
    files = writer(batch, output, channel=channel, layout=layout)
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        record = BatchExport(
            batch=batch,
            format=fmt,
            channel=channel or "",
            file_name=output.name,
            sha256=files.sha256,
            line_count=files.count,
            total_amount=files.amount,
            exported_by=by if by is not None and by.is_authenticated else None,
        )
        record.full_clean()
        record.save()
        if batch.state == BatchState.APPROVED:
            batch.state = BatchState.EXPORTED
            batch.exported_at = timezone.now()
            batch.save(update_fields=["state", "exported_at"])
        record_audit(
            user=by,
            action=AuditAction.EXPORT,
            object_type="subsidies.PaymentBatch",
            object_id=str(batch.pk),
            details={
                "format": fmt,
                "layout": layout,
                "channel": channel or "",
                "file": output.name,
                "sha256": record.sha256,
                "lines": files.count,
            },
        )
    return record


@transaction.atomic
def reconcile_batch(
    *, batch: PaymentBatch, rows: list[BankReturnRow], file_name: str, sha256: str, by=None
) -> BankReturnImport:
    """Apply the bank's return file: each row names a line (reference) or a person (ID
    number: all their lines in the batch) as paid or failed. Failed lines are re-issued in the
    next draft batch of the region. All rows are checked first; any error and nothing is
    written. The batch is reconciled once every line has an outcome."""
    require_in_scope(by, batch, as_changed=False)
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state not in (BatchState.EXPORTED, BatchState.RECONCILED):
        raise ValidationError({"state": gettext("只有已导出的批次可以对账。")})
    # One matcher for the preview finance reads and for what is written here.
    checked = bank_returns.preview(batch, rows)
    errors = [error for item in checked.rows for error in item.errors]
    if errors:
        raise ValidationError(errors)
    outcomes: dict[int, BankReturnRow] = {
        line["pk"]: item.row for item in checked.rows for line in item.lines
    }
    lines = live_lines(batch)
    now = timezone.now()
    changed = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(pk__in=outcomes)
        .select_related("batch")
    )
    failed = []
    for line in changed:
        row = outcomes[line.pk]
        line.status = BANK_STATUSES[row.status.strip().lower()]
        line.bank_reference = row.bank_reference.strip()[:64]
        line.bank_message = row.message.strip()[:200]
        line.reconciled_at = now
        if line.status == LineStatus.FAILED:
            failed.append(line)
    PaymentLine.objects.bulk_update(
        changed, ["status", "bank_reference", "bank_message", "reconciled_at"], batch_size=2000
    )
    if failed:
        target = draft_batch_for(batch.region_id, add_months(batch.period, 1))
        # The re-issued line's note is stored: in the interface's default language.
        with override(settings.LANGUAGE_CODE):
            returned = gettext("银行退回：%(message)s")
        PaymentLine.objects.bulk_create(
            [
                PaymentLine(
                    batch=target,
                    scheme_id=line.scheme_id,
                    period=line.period,
                    **line.payee_columns,
                    amount=line.amount,
                    kind=LineKind.REISSUE,
                    policy_value_id=line.policy_value_id,
                    corrects=line,
                    inputs={**line.inputs, "reissues_line": line.pk},
                    note=(returned % {"message": line.bank_message})[:200],
                )
                for line in failed
                if line.amount > 0
            ],
            ignore_conflicts=True,
        )
    if not lines.filter(status=LineStatus.PENDING).exists():
        batch.state = BatchState.RECONCILED
        batch.reconciled_at = now
        batch.save(update_fields=["state", "reconciled_at"])
    record = BankReturnImport(
        batch=batch,
        file_name=file_name,
        sha256=sha256,
        paid_count=sum(1 for r in outcomes.values() if r.status.strip().lower() == "paid"),
        failed_count=len(failed),
        imported_by=by if by is not None and by.is_authenticated else None,
    )
    record.full_clean()
    record.save()
    return record
