"""A run finished, failed, swept and resumed.

Whoever completes the last chunk finishes the run; the sweep (beat, every minute) queues again
the chunks of workers that died and finishes runs nobody finished; finance or the bureau resume a
stalled or failed run from the admin. How chunks are claimed, swept and resumed is
subsidies.run.claims', shared with the correction jobs; this module says what finishing a run is.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy

from subsidies.choices import BatchKind, BatchState, ChunkStatus, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentBatch
from subsidies.payees import held_lines_report, hold_lines_without_account
from subsidies.run import claims
from subsidies.run.queueing import queue_chunks, queue_prepare
from subsidies.selectors import batch_grand_total


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
    claims.finished(run)
    return run


RUNS = claims.Work(
    model=AllowanceRun,
    chunk_model=AllowanceRunChunk,
    owner="run",
    name=gettext_lazy("运行"),
    queue_chunks=queue_chunks,
    queue_prepare=queue_prepare,
    finish=lambda run_id: finish_run(run_id=run_id),
)


def run_is_complete(*, run_id: int) -> bool:
    """Whether every chunk of a run is done (the run is then finished by whoever sees it)."""
    return claims.is_complete(RUNS, run_id)


def fail_for_attempts(chunk: AllowanceRunChunk) -> None:
    claims.fail_for_attempts(RUNS, chunk)


def fail_run(*, run_id: int, error: str) -> None:
    """Mark a run failed with the reason shown in the admin (a done run stays done)."""
    claims.fail(RUNS, run_id, error)


def sweep_allowance_runs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Bring stuck runs back (beat runs this every minute): subsidies.run.claims.sweep."""
    return claims.sweep(RUNS, now=now)


def resume_run(*, run: AllowanceRun, by) -> int:
    """Queue again a stalled or failed run's unfinished chunks: subsidies.run.claims.resume."""
    return claims.resume(RUNS, run, by=by)
