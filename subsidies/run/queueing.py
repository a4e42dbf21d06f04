"""Handing chunked work to Celery once the transaction that decided it commits.

The tasks (subsidies.tasks) call into this package, so they are imported here only when a
message is sent, never when this module is imported: the run imports no task at load time.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from subsidies.models import AllowanceRun, AllowanceRunChunk, CorrectionChunk, CorrectionJob


def _tasks():
    from subsidies import tasks

    return tasks


def _queue_chunks(task, chunk_model, work, chunk_ids: list[int]) -> None:
    """Queue chunks (after commit) on the work's queue, stamping when."""
    if not chunk_ids:
        return
    chunk_model.objects.filter(pk__in=chunk_ids).update(queued_at=timezone.now())
    options = {"queue": work.queue} if work.queue else {}
    for chunk_id in chunk_ids:
        transaction.on_commit(lambda chunk_id=chunk_id: task.apply_async((chunk_id,), **options))


def _queue_prepare(task, work) -> None:
    """Queue the work's planning (after commit), stamping when."""
    type(work).objects.filter(pk=work.pk).update(queued_at=timezone.now())
    if work.queue:
        transaction.on_commit(lambda: task.apply_async((work.pk,), queue=work.queue))
    else:
        transaction.on_commit(lambda: task.delay(work.pk))


def queue_chunks(run: AllowanceRun, chunk_ids: list[int]) -> None:
    _queue_chunks(_tasks().process_allowance_chunk, AllowanceRunChunk, run, chunk_ids)


def queue_prepare(run: AllowanceRun) -> None:
    _queue_prepare(_tasks().prepare_allowance_run, run)


def queue_correction_chunks(job: CorrectionJob, chunk_ids: list[int]) -> None:
    _queue_chunks(_tasks().process_correction_chunk, CorrectionChunk, job, chunk_ids)


def queue_correction_prepare(job: CorrectionJob) -> None:
    _queue_prepare(_tasks().prepare_correction_job, job)
