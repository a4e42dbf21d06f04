"""Work cut into chunks that workers claim: the one definition the allowance run
(subsidies.run.chunks, finishing) and the correction jobs (subsidies.run.correction_jobs) share.

A worker claims a chunk (``running``, ``attempts`` + 1, its name), stamps the chunk's heartbeat
on a connection of its own while it works, and writes the chunk's work with its "done" mark in
one transaction. A claim whose heartbeat stopped belongs to a worker that died: the sweep (beat,
every minute) queues the chunk again, or, after ALLOWANCE_RUN_MAX_ATTEMPTS claims, marks the
work failed with the reason; finance or the bureau resume it. Whoever sees the last chunk done
finishes the work.

``Work`` names one kind of such work: its model (subsidies.models.ChunkedWork), its chunks'
model (ClaimedChunk), the chunks' foreign key to it, and how it is queued and finished.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from subsidies.choices import ChunkStatus, RunStatus
from subsidies.selectors import orphaned_chunks_q, stall_cutoffs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """One kind of chunked work and how it is queued and finished."""

    model: type  # a ChunkedWork
    chunk_model: type  # a ClaimedChunk with a foreign key ``owner`` to ``model``
    owner: str
    name: str  # what messages call one of them ("运行", "追溯调整任务")
    queue_chunks: Callable  # (work, chunk ids), after commit
    queue_prepare: Callable  # (work), after commit
    finish: Callable  # (work id) → the work, idempotent

    def chunks_of(self, work_id: int):
        return self.chunk_model.objects.filter(**{f"{self.owner}_id": work_id})

    def orphaned(self, work_id: int, now: datetime.datetime):
        """Its unfinished chunks no live worker holds and no message will bring back."""
        return self.chunks_of(work_id).filter(orphaned_chunks_q(now, run=f"{self.owner}__"))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pause_point(name: str) -> None:
    """A named point of the work where the tests that kill a worker pause it (test settings
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


class Heartbeat:
    """While a chunk is written, a thread stamps its ``heartbeat_at`` every
    ALLOWANCE_RUN_HEARTBEAT_SECONDS (on its own connection, outside the chunk's transaction),
    so the sweep can tell a slow chunk from a dead worker's. Not started inside a surrounding
    transaction (work done in-process has no worker to lose, and the row is not yet visible)."""

    def __init__(self, chunk_model, chunk_id: int):
        self.chunk_model = chunk_model
        self.chunk_id = chunk_id
        self.worker = worker_name()
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
                    self.chunk_model.objects.filter(
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


# --- a chunk: claimed, written, released ---------------------------------------------------------


def finished(item) -> None:
    """Record work whose chunks are all done as done (its report already written)."""
    item.status = RunStatus.DONE
    item.finished_at = timezone.now()
    item.error = ""
    item.save()


def is_complete(work: Work, work_id: int) -> bool:
    """Whether every chunk of the work is done (it is then finished by whoever sees it)."""
    row = work.model.objects.values("status", "chunks_done", "chunks_total").get(pk=work_id)
    return row["status"] == RunStatus.RUNNING and row["chunks_done"] >= row["chunks_total"]


@transaction.atomic
def fail(work: Work, work_id: int, error: str) -> None:
    """Mark the work failed with the reason shown in the admin (done work stays done)."""
    work.model.objects.filter(pk=work_id).exclude(status=RunStatus.DONE).update(
        status=RunStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def fail_for_attempts(work: Work, chunk) -> None:
    last = (
        _("，最近错误：%(error)s") % {"error": chunk.error}
        if chunk.error
        else _("（处理进程在处理中中断）")
    )
    fail(
        work,
        getattr(chunk, f"{work.owner}_id"),
        _(
            "分块 %(chunk)s 已尝试 %(attempts)s 次仍未完成（最近处理进程 %(worker)s）%(last)s。"
            "修复原因后可在后台“续跑”。"
        )
        % {
            "chunk": chunk.label,
            "attempts": chunk.attempts,
            "worker": chunk.worker or _("未知"),
            "last": last,
        },
    )


def claim(work: Work, chunk_id: int) -> int | None:
    """Mark the chunk as taken by this process and return its work's id; None when there is
    nothing to do (the chunk is done, or its work is not running — failed work waits for a
    resume). A chunk claimed by a worker that died is taken over: a redelivered task is how the
    broker says so."""
    with transaction.atomic():
        chunk = (
            work.chunk_model.objects.select_for_update(of=("self",))
            .select_related(work.owner)
            .get(pk=chunk_id)
        )
        if (
            chunk.status == ChunkStatus.DONE
            or getattr(chunk, work.owner).status != RunStatus.RUNNING
        ):
            return None
        if chunk.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS:
            fail_for_attempts(work, chunk)
            return None
        now = timezone.now()
        chunk.status = ChunkStatus.RUNNING
        chunk.claimed_at = chunk.heartbeat_at = now
        chunk.attempts += 1
        chunk.worker = worker_name()
        chunk.save(update_fields=["status", "claimed_at", "heartbeat_at", "attempts", "worker"])
        return getattr(chunk, f"{work.owner}_id")


def process(work: Work, chunk_id: int, write: Callable[[int], None]) -> bool:
    """Claim one chunk, ``write`` it (its work and its "done" mark, one transaction) and beat
    its heartbeat meanwhile (``Deferred`` from ``write``: the claim given back uncounted, the
    exception passed on). Returns whether all the work's chunks are now done, so that the
    caller finishes it — also when this chunk was already done: a chunk redelivered after its
    commit (its worker died before finishing the work) must still finish it."""
    work_id = claim(work, chunk_id)
    if work_id is None:
        work_id = owner_of(work, chunk_id)
        return is_complete(work, work_id)
    pause_point("chunk_claimed")
    try:
        with Heartbeat(work.chunk_model, chunk_id):
            write(chunk_id)
    except Deferred as waiting:
        defer(work, chunk_id, str(waiting))
        raise
    pause_point("chunk_committed")
    complete = is_complete(work, work_id)
    if complete:
        pause_point("run_complete")  # the last chunk is committed, the work not yet finished
    return complete


class Deferred(Exception):
    """A chunk that cannot be written yet: what it must follow is not done (a correction's
    month whose allowance run is still at work). Its claim is given back uncounted
    (``process``) and its task tried again later (subsidies.tasks)."""


def defer(work: Work, chunk_id: int, reason: str) -> None:
    """Give a deferred chunk's claim back without counting the attempt, saying why it waits."""
    work.chunk_model.objects.filter(pk=chunk_id, status=ChunkStatus.RUNNING).update(
        status=ChunkStatus.PENDING,
        attempts=F("attempts") - 1,
        error=reason[:2000],
        queued_at=timezone.now(),
    )


def owner_of(work: Work, chunk_id: int) -> int:
    return work.chunk_model.objects.values_list(f"{work.owner}_id", flat=True).get(pk=chunk_id)


def mark_done(work: Work, chunk_id: int, work_id: int, **progress) -> bool:
    """The chunk's "done" mark, in the transaction that wrote its work: a conditional update,
    so a second writer of the same chunk counts nothing twice. ``progress``: the chunk's fields
    to set, each also added to the work's field of the same name."""
    now = timezone.now()
    marked = (
        work.chunk_model.objects.filter(pk=chunk_id)
        .exclude(status=ChunkStatus.DONE)
        .update(status=ChunkStatus.DONE, done_at=now, heartbeat_at=now, **progress)
    )
    if marked:
        work.model.objects.filter(pk=work_id).update(
            chunks_done=F("chunks_done") + 1,
            **{name: F(name) + value for name, value in progress.items() if isinstance(value, int)},
        )
    return bool(marked)


def release(work: Work, chunk_id: int, error: str) -> bool:
    """A chunk's task raised: record the error and give the claim back. Returns whether to try
    again; after ALLOWANCE_RUN_MAX_ATTEMPTS the work is marked failed with the reason."""
    with transaction.atomic():
        chunk = (
            work.chunk_model.objects.select_for_update(of=("self",))
            .select_related(work.owner)
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
            fail_for_attempts(work, chunk)
            return False
        return getattr(chunk, work.owner).status == RunStatus.RUNNING


# --- the sweep and resume ---------------------------------------------------------------------


def sweep(work: Work, *, now: datetime.datetime | None = None) -> dict[str, int]:
    """Bring stuck work back (beat runs this every minute; idempotent, safe to run anywhere):

    - chunks claimed by a worker that died (no heartbeat for ALLOWANCE_RUN_STALL_SECONDS) and
      chunks whose message was lost are queued again — or, after ALLOWANCE_RUN_MAX_ATTEMPTS
      claims, their work is marked failed with the reason;
    - work whose chunks are all done is finished (its finishing worker died);
    - work queued but never prepared (the message was lost) is queued again.
    """
    now = now or timezone.now()
    lost_before = stall_cutoffs(now)[1]
    counts = {"requeued": 0, "failed": 0, "finished": 0, "prepared": 0}
    running = list(work.model.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))
    for work_id in running:
        with transaction.atomic():
            item = work.model.objects.select_for_update().get(pk=work_id)
            if item.status != RunStatus.RUNNING:
                continue
            orphans = list(work.orphaned(work_id, now).select_for_update(of=("self",)))
            exhausted = [c for c in orphans if c.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS]
            if exhausted:
                fail_for_attempts(work, exhausted[0])
                counts["failed"] += 1
                continue
            for chunk in orphans:
                chunk.status = ChunkStatus.PENDING
                chunk.save(update_fields=["status"])
            work.queue_chunks(item, [c.pk for c in orphans])
            counts["requeued"] += len(orphans)
        if is_complete(work, work_id) and work.finish(work_id).status == RunStatus.DONE:
            counts["finished"] += 1
    never_prepared = work.model.objects.filter(status=RunStatus.PENDING).filter(
        Q(queued_at__lt=lost_before) | Q(queued_at__isnull=True, created_at__lt=lost_before)
    )
    for item in never_prepared:
        with transaction.atomic():
            work.queue_prepare(item)
        counts["prepared"] += 1
    return counts


def may_resume(user, item) -> bool:
    """Finance or the bureau of the work's region (or a superuser) may resume it."""
    from accounts.choices import Role
    from accounts.scoping import scope_of

    scope = scope_of(user)
    if scope.everything:
        return True
    if scope.read_only or not scope.covers_region(item.region, "subsidies"):
        return False
    return any(
        role in (Role.FINANCE, Role.BUREAU) and item.region.path.startswith(path)
        for role, path in scope.region_grants
    )


def _resumed(item, by, now: datetime.datetime, chunks: int) -> dict:
    """What the report keeps of a resume: who, when, how much, and the error it cleared."""
    return {"at": now.isoformat(), "by": by.get_username(), "chunks": chunks, "error": item.error}


@transaction.atomic
def resume(work: Work, item, *, by) -> int:
    """Queue again the unfinished chunks of stalled or failed work that no live worker holds
    (their attempts counted afresh), and finish it if nothing is left. Returns how many chunks
    were queued. Work that is done, or running with live workers, is refused as such, so
    resuming twice queues nothing twice."""
    names = {"name": work.name, "id": item.pk}
    if not may_resume(by, item):
        raise ValidationError(
            {
                "run": _("无权续跑%(name)s #%(id)s（%(region)s）。")
                % {**names, "region": item.region.name}
            }
        )
    item = (
        work.model.objects.select_for_update(of=("self",)).select_related("region").get(pk=item.pk)
    )
    now = timezone.now()
    if item.status == RunStatus.DONE:
        raise ValidationError({"run": _("%(name)s #%(id)s 已完成，无需续跑。") % names})
    if item.status == RunStatus.PENDING:
        if (item.queued_at or item.created_at) >= stall_cutoffs(now)[1]:
            raise ValidationError({"run": _("%(name)s #%(id)s 正在排队，无需续跑。") % names})
        work.queue_prepare(item)
        return 0
    if item.started_at is None:
        # Failed while being planned (nothing of it was written): planned again from the start.
        item.report = {
            **item.report,
            "resumed": [*item.report.get("resumed", []), _resumed(item, by, now, 0)],
        }
        item.status, item.error, item.finished_at = RunStatus.PENDING, "", None
        item.save(update_fields=["report", "status", "error", "finished_at"])
        work.queue_prepare(item)
        return 0
    dead_before, _lost = stall_cutoffs(now)
    unfinished = work.chunks_of(item.pk).select_for_update().exclude(status=ChunkStatus.DONE)
    if item.status == RunStatus.FAILED:
        # Every chunk not held by a live worker: failed work's queued messages were dropped.
        chosen = list(unfinished.exclude(status=ChunkStatus.RUNNING, heartbeat_at__gte=dead_before))
    else:
        chosen = list(work.orphaned(item.pk, now).select_for_update(of=("self",)))
        if not chosen and not is_complete(work, item.pk):
            raise ValidationError({"run": _("%(name)s #%(id)s 正在正常运行，无需续跑。") % names})
    for chunk in chosen:
        chunk.status = ChunkStatus.PENDING
        chunk.attempts = 0
        chunk.save(update_fields=["status", "attempts"])
    item.report = {
        **item.report,
        "resumed": [*item.report.get("resumed", []), _resumed(item, by, now, len(chosen))],
    }
    item.status = RunStatus.RUNNING
    item.error = ""
    item.finished_at = None
    item.save(update_fields=["report", "status", "error", "finished_at"])
    work.queue_chunks(item, [c.pk for c in chosen])
    work.finish(item.pk)  # nothing left to do: finished now
    return len(chosen)
