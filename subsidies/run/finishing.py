"""A run finished, failed, swept and resumed.

Whoever completes the last chunk finishes the run; the sweep (beat, every minute) queues again
the chunks of workers that died and finishes runs nobody finished; finance or the bureau resume a
stalled or failed run from the admin.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from subsidies.choices import BatchKind, BatchState, ChunkStatus, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentBatch
from subsidies.payees import held_lines_report, hold_lines_without_account
from subsidies.run.queueing import queue_chunks, queue_prepare
from subsidies.selectors import batch_grand_total, orphaned_chunks_q, stall_cutoffs


def run_is_complete(*, run_id: int) -> bool:
    """Whether every chunk of a run is done (the run is then finished by whoever sees it)."""
    run = AllowanceRun.objects.values("status", "chunks_done", "chunks_total").get(pk=run_id)
    return run["status"] == RunStatus.RUNNING and run["chunks_done"] >= run["chunks_total"]


def fail_for_attempts(chunk: AllowanceRunChunk) -> None:
    last = f"，最近错误：{chunk.error}" if chunk.error else "（处理进程在处理中中断）"
    fail_run(
        run_id=chunk.run_id,
        error=(
            f"分块 {chunk.id_from}–{chunk.id_to} 已尝试 {chunk.attempts} 次仍未完成"
            f"（最近处理进程 {chunk.worker or '未知'}）{last}。修复原因后可在后台“续跑”。"
        ),
    )


@transaction.atomic
def finish_run(*, run_id: int) -> AllowanceRun:
    """Mark a run whose chunks are all done as done, with its totals (idempotent: called by
    whoever completes the last chunk, by a redelivered chunk and by the sweep)."""
    run = AllowanceRun.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.RUNNING or run.batch_id is None:
        return run  # not running, or not planned yet
    if run.chunks.exclude(status=ChunkStatus.DONE).exists():
        return run
    # Lines whose payee has no account are held (kept, not paid, each with its reason in the
    # report) and left out of the batch's totals.
    hold_lines_without_account(run.batch)
    count, amount = batch_grand_total(run.batch)
    run.lines_total = count
    run.report = {
        **run.report,
        "batch_lines": count,
        "batch_amount": str(amount),
        "held_lines": held_lines_report(run.batch),
    }
    adjustment = PaymentBatch.objects.filter(
        region_id=run.region_id,
        period=run.period,
        kind=BatchKind.ADJUSTMENT,
        state=BatchState.DRAFT,
    ).first()
    if adjustment is not None:
        adj_count, adj_amount = batch_grand_total(adjustment)
        run.report["adjustment_batch"] = {
            "id": adjustment.pk,
            "lines": adj_count,
            "amount": str(adj_amount),
        }
    run.status = RunStatus.DONE
    run.finished_at = timezone.now()
    run.error = ""
    run.save()
    return run


@transaction.atomic
def fail_run(*, run_id: int, error: str) -> None:
    """Mark a run failed with the reason shown in the admin (a done run stays done)."""
    AllowanceRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(
        status=RunStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def _orphaned_chunks(run_id: int, now: datetime.datetime):
    return AllowanceRunChunk.objects.filter(run_id=run_id).filter(orphaned_chunks_q(now))


def sweep_allowance_runs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Bring stuck runs back (beat runs this every minute; idempotent, safe to run anywhere):

    - chunks claimed by a worker that died (no heartbeat for ALLOWANCE_RUN_STALL_SECONDS) and
      chunks whose message was lost are queued again — or, after ALLOWANCE_RUN_MAX_ATTEMPTS
      claims, their run is marked failed with the reason;
    - runs whose chunks are all done are finished (their finishing worker died);
    - runs queued but never prepared (the message was lost) are queued again.
    """
    now = now or timezone.now()
    lost_before = stall_cutoffs(now)[1]
    counts = {"requeued": 0, "failed": 0, "finished": 0, "prepared": 0}
    running = list(
        AllowanceRun.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
    )
    for run_id in running:
        with transaction.atomic():
            run = AllowanceRun.objects.select_for_update().get(pk=run_id)
            if run.status != RunStatus.RUNNING:
                continue
            orphans = list(_orphaned_chunks(run.pk, now).select_for_update(of=("self",)))
            exhausted = [c for c in orphans if c.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS]
            if exhausted:
                fail_for_attempts(exhausted[0])
                counts["failed"] += 1
                continue
            for chunk in orphans:
                chunk.status = ChunkStatus.PENDING
                chunk.save(update_fields=["status"])
            queue_chunks(run, [c.pk for c in orphans])
            counts["requeued"] += len(orphans)
        if run_is_complete(run_id=run_id) and finish_run(run_id=run_id).status == RunStatus.DONE:
            counts["finished"] += 1
    never_prepared = AllowanceRun.objects.filter(status=RunStatus.PENDING).filter(
        Q(queued_at__lt=lost_before) | Q(queued_at__isnull=True, created_at__lt=lost_before)
    )
    for run in never_prepared:
        with transaction.atomic():
            queue_prepare(run)
        counts["prepared"] += 1
    return counts


def may_resume(user, run: AllowanceRun) -> bool:
    """Finance or the bureau of the run's region (or a superuser) may resume it."""
    from accounts.choices import Role
    from accounts.scoping import scope_of

    scope = scope_of(user)
    if scope.everything:
        return True
    if scope.read_only or not scope.covers_region(run.region, "subsidies"):
        return False
    return any(
        role in (Role.FINANCE, Role.BUREAU) and run.region.path.startswith(path)
        for role, path in scope.region_grants
    )


def _resumed(run: AllowanceRun, by, now: datetime.datetime, chunks: int) -> dict:
    """What the run's report keeps of a resume: who, when, how much, and the error it cleared."""
    return {"at": now.isoformat(), "by": by.get_username(), "chunks": chunks, "error": run.error}


@transaction.atomic
def resume_run(*, run: AllowanceRun, by) -> int:
    """Queue again the unfinished chunks of a stalled or failed run that no live worker holds
    (their attempts counted afresh), and finish it if nothing is left. Returns how many chunks
    were queued. A run that is done, or running with live workers, is refused as such, so
    resuming twice queues nothing twice."""
    if not may_resume(by, run):
        raise ValidationError({"run": f"无权续跑运行 #{run.pk}（{run.region.name}）。"})
    run = (
        AllowanceRun.objects.select_for_update(of=("self",)).select_related("region").get(pk=run.pk)
    )
    now = timezone.now()
    if run.status == RunStatus.DONE:
        raise ValidationError({"run": f"运行 #{run.pk} 已完成，无需续跑。"})
    if run.status == RunStatus.PENDING:
        if (run.queued_at or run.created_at) >= stall_cutoffs(now)[1]:
            raise ValidationError({"run": f"运行 #{run.pk} 正在排队，无需续跑。"})
        queue_prepare(run)
        return 0
    if run.started_at is None:
        # Failed while being planned (nothing of it was written): planned again from the start.
        run.report = {
            **run.report,
            "resumed": [*run.report.get("resumed", []), _resumed(run, by, now, 0)],
        }
        run.status, run.error, run.finished_at = RunStatus.PENDING, "", None
        run.save(update_fields=["report", "status", "error", "finished_at"])
        queue_prepare(run)
        return 0
    dead_before, _ = stall_cutoffs(now)
    unfinished = AllowanceRunChunk.objects.select_for_update().filter(run=run)
    unfinished = unfinished.exclude(status=ChunkStatus.DONE)
    if run.status == RunStatus.FAILED:
        # Every chunk not held by a live worker: a failed run's queued messages were dropped.
        chosen = list(unfinished.exclude(status=ChunkStatus.RUNNING, heartbeat_at__gte=dead_before))
    else:
        chosen = list(_orphaned_chunks(run.pk, now).select_for_update(of=("self",)))
        if not chosen and not run_is_complete(run_id=run.pk):
            raise ValidationError({"run": f"运行 #{run.pk} 正在正常运行，无需续跑。"})
    for chunk in chosen:
        chunk.status = ChunkStatus.PENDING
        chunk.attempts = 0
        chunk.save(update_fields=["status", "attempts"])
    run.report = {
        **run.report,
        "resumed": [*run.report.get("resumed", []), _resumed(run, by, now, len(chosen))],
    }
    run.status = RunStatus.RUNNING
    run.error = ""
    run.finished_at = None
    run.save(update_fields=["report", "status", "error", "finished_at"])
    queue_chunks(run, [c.pk for c in chosen])
    finish_run(run_id=run.pk)  # nothing left to do: finished now
    return len(chosen)
