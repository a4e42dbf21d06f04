"""Payment batches: where lines go, approval, and the adjustments made after approval.

Lines are only ever added to draft batches. Once a batch is approved its lines are never edited:
what changes afterwards (an elder registered late, a death, a bank refusal) is a new line in the
draft adjustment batch of the region and month.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import AuditAction
from accounts.services import record_audit
from regions.models import Region
from residents.models import Elder
from subsidies.choices import BatchKind, BatchState, LineKind, LineStatus, RunStatus
from subsidies.models import AllowanceRun, PaymentBatch, PaymentLine
from subsidies.payees import hold_lines_without_account
from subsidies.periods import first_of_month
from subsidies.selectors import correction_not_done_for


def regular_batch(region: Region, period: datetime.date) -> PaymentBatch:
    batch, _created = PaymentBatch.objects.get_or_create(
        region=region, period=period, kind=BatchKind.REGULAR
    )
    return batch


def draft_adjustment_batch(region: Region | int, period: datetime.date) -> PaymentBatch:
    region_id = region if isinstance(region, int) else region.pk
    batch, _created = PaymentBatch.objects.get_or_create(
        region_id=region_id, period=period, kind=BatchKind.ADJUSTMENT, state=BatchState.DRAFT
    )
    return batch


def draft_batch_for(region_id: int, period: datetime.date) -> PaymentBatch:
    """Where new lines for (region, period) go: the regular batch while it is a draft, else
    the draft adjustment batch."""
    regular = PaymentBatch.objects.filter(
        region_id=region_id, period=period, kind=BatchKind.REGULAR, state=BatchState.DRAFT
    ).first()
    return regular or draft_adjustment_batch(region_id, period)


@transaction.atomic
def approve_batch(*, batch: PaymentBatch, by) -> PaymentBatch:
    """Finance approves a draft batch; from then on its lines are never edited."""
    if not by.has_perm("subsidies.approve_paymentbatch"):
        raise ValidationError({"approved_by": _("只有财务人员可以审核支付批次。")})
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != BatchState.DRAFT:
        raise ValidationError(
            {
                "state": _("批次状态为“%(state)s”，不能重复审核。")
                % {"state": batch.get_state_display()}
            }
        )
    # The runs that write into this batch: its own, and any of its region and month not yet
    # planned. One not done (running, stalled, or failed last) leaves the batch incomplete.
    runs = AllowanceRun.objects.filter(
        Q(batch=batch) | Q(region_id=batch.region_id, period=batch.period, batch__isnull=True)
    )
    if runs.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).exists():
        raise ValidationError({"state": _("该批次的发放运行尚未完成，不能审核。")})
    latest = runs.order_by("-created_at", "-pk").first()
    if latest is not None and latest.status == RunStatus.FAILED:
        raise ValidationError(
            {
                "state": _(
                    "该批次最近一次发放运行（#%(run)s）失败，批次可能不完整，不能审核："
                    "请先在“津贴发放运行”中续跑或重新运行。"
                )
                % {"run": latest.pk}
            }
        )
    # A rate revised backwards may still change this batch (its month recomputed, or
    # differences added to it): approved only once the job is done.
    correcting = correction_not_done_for(batch)
    if correcting is not None:
        raise ValidationError(
            {
                "state": _(
                    "追溯调整任务 #%(job)s 尚未完成，该批次可能还会变动，不能审核："
                    "请待其完成（失败的任务请在“追溯调整任务”中续跑）。"
                )
                % {"job": correcting.pk}
            }
        )
    # What finance approves is what goes out: lines whose payee still has no account are
    # held now (kept, not exported) and paid once the account is added.
    hold_lines_without_account(batch)
    batch.state = BatchState.APPROVED
    batch.approved_by = by
    batch.approved_at = timezone.now()
    batch.full_clean()
    batch.save()
    record_audit(
        user=by,
        action=AuditAction.APPROVE_BATCH,
        object_type="subsidies.paymentbatch",
        object_id=batch.pk,
        details={"period": batch.period.isoformat(), "region": batch.region.name},
    )
    return batch


@transaction.atomic
def handle_elder_death(*, elder: Elder, death_date: datetime.date) -> dict[str, int]:
    """Months after the death are not due (eligibility is "alive on the 1st"). Their lines
    still in a draft batch are cancelled (kept, not paid); lines in an approved batch are never
    edited: a recovery line (negative) goes into this month's draft adjustment batch."""
    undue = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(elder=elder, period__gt=death_date)
        .exclude(kind=LineKind.RECOVERY)
        .exclude(status__in=[LineStatus.FAILED, LineStatus.CANCELLED])
        .select_related("batch")
    )
    cancelled, recoveries = [], []
    this_month = first_of_month(timezone.localdate())
    for line in undue:
        # A held line was never paid: it is cancelled whatever its batch, so that adding an
        # account later does not pay it.
        if line.batch.is_draft or line.status == LineStatus.HELD:
            cancelled.append(line.pk)
            continue
        if line.corrections.filter(kind=LineKind.RECOVERY).exists():
            continue
        recoveries.append(
            PaymentLine(
                batch=draft_adjustment_batch(line.batch.region_id, this_month),
                scheme_id=line.scheme_id,
                period=line.period,
                **line.payee_columns,  # a premium is recovered from the insurer it paid
                amount=-line.amount,
                kind=LineKind.RECOVERY,
                policy_value_id=line.policy_value_id,
                corrects=line,
                note=f"死亡日期 {death_date}，{line.period:%Y-%m} 不应发放",
                inputs={"death_date": death_date.isoformat(), "recovers_line": line.pk},
            )
        )
    PaymentLine.objects.filter(pk__in=cancelled).update(
        status=LineStatus.CANCELLED, note=f"死亡日期 {death_date}，审核前取消"
    )
    PaymentLine.objects.bulk_create(recoveries, ignore_conflicts=True)
    return {"cancelled": len(cancelled), "recovered": len(recoveries)}
