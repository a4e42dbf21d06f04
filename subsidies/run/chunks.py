"""A chunk of a run: claimed, written with its "done" mark in one transaction, released.

A chunk's lines of the month, and of each arrears month, are written by one INSERT … SELECT …
ON CONFLICT DO NOTHING each, compiled from the schemes' conditions (subsidies.run.lines) on
every database; no elder row travels to Python. The unique constraint on (scheme, period,
elder) makes every rerun add only what is missing.
"""

from __future__ import annotations

from django.db import transaction

from residents.models import Elder
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import BatchState, ChunkStatus, LineKind
from subsidies.models import AllowanceRun, AllowanceRunChunk
from subsidies.run import claims
from subsidies.run.arrears import chunk_arrears
from subsidies.run.finishing import RUNS
from subsidies.run.lines import alive_on_q, chunk_statement, insert_lines
from subsidies.run.plan import RunPlan, plan_of

INSERT_BATCH_SIZE = 2000


def chunk_elders(run: AllowanceRun, chunk: AllowanceRunChunk):
    return Elder.objects.filter(
        id__gte=chunk.id_from, id__lte=chunk.id_to, hukou_region__path__startswith=run.region.path
    )


def chunk_month_lines(run: AllowanceRun, plan: RunPlan, chunk: AllowanceRunChunk) -> int:
    """Write the chunk's lines of the run's month; returns the elders of the chunk alive on
    the 1st (all the chunk's elders when the month pays nothing). While the regular batch is
    a draft the lines go there; once it is approved, what is still missing (an elder
    registered since) goes into the draft adjustment batch, opened only if there is any."""
    elders = chunk_elders(run, chunk)
    statement = chunk_statement(
        plan.main, region_path=run.region.path, id_from=chunk.id_from, id_to=chunk.id_to
    )
    if statement is None:
        return elders.count()
    if run.batch.state == BatchState.DRAFT:
        seen, _ = insert_lines(statement, batch=run.batch_id, count_elders=True)
    else:
        seen, _ = insert_lines(
            statement,
            batch=lambda: draft_adjustment_batch(run.region_id, run.period).pk,
            kind=LineKind.ARREARS,
        )
    if seen is None:
        seen = elders.filter(alive_on_q(run.period)).count()
    return seen


def process_chunk(*, chunk_id: int) -> bool:
    """Claim one chunk, write its lines and mark it done, beating its heartbeat meanwhile
    (subsidies.run.claims.process). Returns whether all the run's chunks are now done. Safe to
    run twice at once: the lines are kept unique by their constraints and only the first "done"
    mark counts."""
    return claims.process(RUNS, chunk_id, write_chunk)


def write_chunk(chunk_id: int) -> None:
    """The chunk's lines and its "done" mark, in one transaction. The chunk row is not locked
    while the lines are written (the heartbeat updates it meanwhile); the mark is a conditional
    update, so a second writer of the same chunk counts nothing twice."""
    with transaction.atomic():
        chunk = AllowanceRunChunk.objects.select_related("run__region", "run__batch").get(
            pk=chunk_id
        )
        if chunk.status == ChunkStatus.DONE:
            return
        run = chunk.run
        plan = plan_of(run)
        seen = chunk_month_lines(run, plan, chunk)
        chunk_arrears(run, plan, chunk)
        claims.pause_point("chunk_written")
        claims.mark_done(RUNS, chunk_id, run.pk, elders_seen=seen)


def release_chunk(*, chunk_id: int, error: str) -> bool:
    """A chunk's task raised: record the error and give the claim back. Returns whether to try
    again; after ALLOWANCE_RUN_MAX_ATTEMPTS the run is marked failed with the reason."""
    return claims.release(RUNS, chunk_id, error)
