"""A chunk of a run: claimed, written with its "done" mark in one transaction, released.

A chunk's lines of the month, and of each arrears month, are written by one INSERT … SELECT …
ON CONFLICT DO NOTHING each, compiled from the schemes' conditions (subsidies.run.lines) on
every database; no elder row travels to Python. The unique constraint on (scheme, period,
elder) makes every rerun add only what is missing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from residents.models import Elder
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import BatchState, ChunkStatus, LineKind, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk
from subsidies.run.arrears import chunk_arrears
from subsidies.run.finishing import fail_for_attempts, run_is_complete
from subsidies.run.lines import alive_on_q, chunk_statement, insert_lines
from subsidies.run.plan import RunPlan, plan_of

logger = logging.getLogger(__name__)
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
    """Claim one chunk, write its lines and mark it done, beating its heartbeat meanwhile.

    Returns whether all the run's chunks are now done, so that the caller finishes the run —
    also when this chunk was already done: a chunk redelivered after its commit (its worker
    died before finishing the run) must still finish it. Safe to run twice at once: the lines
    are kept unique by their constraints and only the first "done" mark counts."""
    run_id = _claim_chunk(chunk_id)
    if run_id is None:
        run_id = AllowanceRunChunk.objects.values_list("run_id", flat=True).get(pk=chunk_id)
        return run_is_complete(run_id=run_id)
    _pause_point("chunk_claimed")
    with _Heartbeat(chunk_id):
        write_chunk(chunk_id)
    _pause_point("chunk_committed")
    complete = run_is_complete(run_id=run_id)
    if complete:
        _pause_point("run_complete")  # the last chunk is committed, the run not yet finished
    return complete


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_chunk(chunk_id: int) -> int | None:
    """Mark the chunk as taken by this process; None when there is nothing to do (the chunk is
    done, or its run is not running — failed runs wait for a resume). A chunk claimed by a
    worker that died is taken over: a redelivered task is how the broker says so."""
    with transaction.atomic():
        chunk = (
            AllowanceRunChunk.objects.select_for_update(of=("self",))
            .select_related("run")
            .get(pk=chunk_id)
        )
        if chunk.status == ChunkStatus.DONE or chunk.run.status != RunStatus.RUNNING:
            return None
        if chunk.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS:
            fail_for_attempts(chunk)
            return None
        now = timezone.now()
        chunk.status = ChunkStatus.RUNNING
        chunk.claimed_at = chunk.heartbeat_at = now
        chunk.attempts += 1
        chunk.worker = _worker_name()
        chunk.save(update_fields=["status", "claimed_at", "heartbeat_at", "attempts", "worker"])
        return chunk.run_id


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
        _pause_point("chunk_written")
        now = timezone.now()
        marked = (
            AllowanceRunChunk.objects.filter(pk=chunk_id)
            .exclude(status=ChunkStatus.DONE)
            .update(status=ChunkStatus.DONE, elders_seen=seen, done_at=now, heartbeat_at=now)
        )
        if marked:
            AllowanceRun.objects.filter(pk=run.pk).update(
                chunks_done=F("chunks_done") + 1, elders_seen=F("elders_seen") + seen
            )


class _Heartbeat:
    """While a chunk is written, a thread stamps its ``heartbeat_at`` every
    ALLOWANCE_RUN_HEARTBEAT_SECONDS (on its own connection, outside the chunk's transaction),
    so the sweep can tell a slow chunk from a dead worker's. Not started inside a surrounding
    transaction (a run in-process has no worker to lose, and the row is not yet visible)."""

    def __init__(self, chunk_id: int):
        self.chunk_id = chunk_id
        self.worker = _worker_name()
        self.stop = threading.Event()
        self.thread = None

    def __enter__(self):
        if not transaction.get_connection().in_atomic_block:
            self.thread = threading.Thread(target=self._beat, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(settings.ALLOWANCE_RUN_HEARTBEAT_SECONDS):
                try:
                    AllowanceRunChunk.objects.filter(
                        pk=self.chunk_id, status=ChunkStatus.RUNNING, worker=self.worker
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError as error:
                    # A beat that could not be written (the row busy, the connection lost) is
                    # only late: the next one tries again, and the chunk's own transaction is
                    # not touched. Too many missed beats and the sweep re-queues the chunk,
                    # which is harmless.
                    logger.warning("heartbeat of chunk %s not written: %s", self.chunk_id, error)
                    connection.close()
        finally:
            connection.close()


def _pause_point(name: str) -> None:
    """A named point of the run where the tests that kill a worker pause it (test settings
    only: ALLOWANCE_RUN_PAUSE_AT="name" or "name:n" for its n-th passage, and
    ALLOWANCE_RUN_PAUSE_FILE). The process writes its pid beside the file and sleeps until the
    test kills it with SIGKILL. Unset everywhere else: the point is then one attribute read."""
    wanted = getattr(settings, "ALLOWANCE_RUN_PAUSE_AT", "")
    if not wanted or wanted.split(":")[0] != name:
        return
    nth = int(wanted.split(":")[1]) if ":" in wanted else 1
    path = Path(settings.ALLOWANCE_RUN_PAUSE_FILE)
    with open(path, "a") as passages:  # one line per passage, appended atomically
        passages.write(f"{os.getpid()}\n")
    if len(path.read_text().splitlines()) == nth:
        Path(f"{path}.pid").write_text(str(os.getpid()))
        time.sleep(60)


def release_chunk(*, chunk_id: int, error: str) -> bool:
    """A chunk's task raised: record the error and give the claim back. Returns whether to try
    again; after ALLOWANCE_RUN_MAX_ATTEMPTS the run is marked failed with the reason."""
    with transaction.atomic():
        chunk = (
            AllowanceRunChunk.objects.select_for_update(of=("self",))
            .select_related("run")
            .get(pk=chunk_id)
        )
        if chunk.status == ChunkStatus.DONE:
            return False
        chunk.error = error[:2000]
        if chunk.status == ChunkStatus.RUNNING:
            chunk.status = ChunkStatus.PENDING
        chunk.queued_at = timezone.now()
        chunk.save(update_fields=["status", "error", "queued_at"])
        if chunk.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS:
            fail_for_attempts(chunk)
            return False
        return chunk.run.status == RunStatus.RUNNING
