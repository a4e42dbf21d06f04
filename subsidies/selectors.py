"""Reads of the payment batches and of the allowance runs' health (the run's plan is
subsidies.run.rates')."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from regions.models import Region
from residents.id_numbers import mask_id_number
from subsidies.choices import BatchKind, ChunkStatus, LineStatus, RunHealth, RunStatus
from subsidies.models import CorrectionJob, PaymentBatch, PaymentLine, money

NOT_PAID_HERE = [LineStatus.CANCELLED, LineStatus.HELD]


def live_lines(batch: PaymentBatch) -> QuerySet[PaymentLine]:
    """The lines to pay: cancelled lines are kept for the record and held lines (no account)
    until their account is added, neither is paid in this batch."""
    return batch.lines.exclude(status__in=NOT_PAID_HERE)


def batch_totals(batch: PaymentBatch) -> list[dict]:
    """Per scheme: count and amount of the lines to pay (control totals)."""
    rows = (
        live_lines(batch)
        .values("scheme__code", "scheme__label")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("scheme__code")
    )
    return [
        {
            "scheme": r["scheme__code"],
            "label": r["scheme__label"],
            "count": r["count"],
            "amount": money(r["amount"] or Decimal("0")),
        }
        for r in rows
    ]


def _count_and_amount(lines: QuerySet[PaymentLine]) -> tuple[int, Decimal]:
    agg = lines.aggregate(count=Count("id"), amount=Sum("amount"))
    return agg["count"], money(agg["amount"] or Decimal("0"))


def batch_grand_total(batch: PaymentBatch) -> tuple[int, Decimal]:
    """Count and amount of the lines to pay (held and cancelled lines are not paid here)."""
    return _count_and_amount(live_lines(batch))


def batch_held_total(batch: PaymentBatch) -> tuple[int, Decimal]:
    """Count and amount of the lines held for want of the payee's account: not paid and in no
    total, shown beside the totals (paid once the account is added, subsidies.payees)."""
    return _count_and_amount(batch.lines.filter(status=LineStatus.HELD))


def payee_id_number():
    """The payee's identifier for the bank: an insurer's unified social credit code (for the
    premiums it is paid), the elder's or caregiver's ID number, or the facility's credit code
    (its facility code when it has none)."""
    return Coalesce(
        "insurer__uscc",
        "elder__id_number",
        "caregiver__id_number",
        NullIf("facility__uscc", Value("")),
        "facility__code",
    )


def payee_name():
    return Coalesce("insurer__name", "elder__name", "caregiver__name", "facility__name")


def payee_identifier(payee) -> str:
    """A payee as a page or an answer shows it: a person's ID number masked (PIPL), an
    organisation's credit code (or code) as it is."""
    id_number = getattr(payee, "id_number", "")
    if id_number:
        return mask_id_number(id_number)
    return getattr(payee, "uscc", "") or getattr(payee, "code", "")


def paid_together_q(region: Region) -> Q:
    """Rows (batches, runs, jobs) of regions within ``region`` or above it: those whose runs
    pay its elders, or whose elders a change to its rules pays."""
    return Q(region__path__startswith=region.path) | Q(region__in=region.ancestors_and_self())


def correction_not_done_for(batch: PaymentBatch) -> CorrectionJob | None:
    """A correction job not done yet (queued, running or failed) that may still write into
    ``batch``: of its region or one above or below it, whose months include the batch's (a
    regular batch; its months are those whose 1st is on or after the job's start, or whose
    facility grants were decided on or after it), or any
    (a draft adjustment batch, where differences go)."""
    from subsidies.periods import add_months

    jobs = CorrectionJob.objects.exclude(status=RunStatus.DONE).filter(
        paid_together_q(batch.region)
    )
    if batch.kind == BatchKind.REGULAR:
        # A facility grant's line is in the month its rules were read in, from mid-month on.
        jobs = jobs.filter(start__lt=add_months(batch.period, 1)).filter(
            Q(end__isnull=True) | Q(end__gte=batch.period)
        )
    return jobs.order_by("pk").first()


# --- the run's health: what the admin shows of a run -------------------------------------------


def stall_cutoffs(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Before the first, a claim's last heartbeat means its worker died; before the second, a
    chunk queued and never claimed has lost its message (the broker would have redelivered it
    within its visibility timeout)."""
    stall = datetime.timedelta(seconds=settings.ALLOWANCE_RUN_STALL_SECONDS)
    lost = datetime.timedelta(seconds=settings.BROKER_VISIBILITY_TIMEOUT)
    return now - stall, now - max(stall, lost)


def orphaned_chunks_q(now: datetime.datetime, *, chunk: str = "", run: str = "run__") -> Q:
    """Unfinished chunks that no live worker holds and no message will bring back: the one
    definition for the sweep, resume and the admin (``chunk`` and ``run`` prefix the lookups
    from where the query starts)."""
    dead_before, lost_before = stall_cutoffs(now)
    status, queued = f"{chunk}status", f"{chunk}queued_at"
    return (
        Q(**{status: ChunkStatus.RUNNING, f"{chunk}heartbeat_at__lt": dead_before})
        | Q(**{status: ChunkStatus.PENDING, f"{queued}__lt": lost_before})
        | Q(
            **{
                status: ChunkStatus.PENDING,
                f"{queued}__isnull": True,
                f"{run}started_at__lt": lost_before,
            }
        )
    )


def runs_with_health(queryset: QuerySet, now: datetime.datetime | None = None) -> QuerySet:
    """Runs with what run_health reads: their chunks' last heartbeat and how many of their
    chunks are orphaned (two aggregates over one join, for a whole changelist page)."""
    now = now or timezone.now()
    return queryset.annotate(
        last_heartbeat=Max("chunks__heartbeat_at"),
        orphaned_chunks=Count("chunks", filter=orphaned_chunks_q(now, chunk="chunks__", run="")),
    )


def run_health(run, now: datetime.datetime | None = None) -> tuple[str, str]:
    """The run's state as it is (RunHealth) and what to say of it: a run whose worker died is
    ``stalled`` (the sweep queues its chunks again, or finishes it), not ``running``."""
    now = now or timezone.now()
    if run.status == RunStatus.DONE:
        return RunHealth.DONE, ""
    if run.status == RunStatus.FAILED:
        return RunHealth.FAILED, run.error
    dead_before, lost_before = stall_cutoffs(now)
    if run.status == RunStatus.PENDING:
        if (run.queued_at or run.created_at) < lost_before:
            return RunHealth.STALLED, "排队后一直未开始（消息丢失），巡检将重新排队。"
        return RunHealth.QUEUED, ""
    if not hasattr(run, "orphaned_chunks"):
        run = runs_with_health(type(run).objects.filter(pk=run.pk), now).get()
    if run.orphaned_chunks:
        return (
            RunHealth.STALLED,
            f"{run.orphaned_chunks} 个分块的处理进程已中断（无心跳或消息丢失），巡检将重新排队。",
        )
    last = run.last_heartbeat or run.started_at
    if run.chunks_done >= run.chunks_total and last is not None and last < dead_before:
        return RunHealth.STALLED, "分块已全部完成但未收尾，巡检将完成该运行。"
    return RunHealth.RUNNING, ""
