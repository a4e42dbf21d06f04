"""Handing a run's work to Celery once the transaction that decided it commits.

The tasks (subsidies.tasks) call into this package, so they are imported here only when a
message is sent, never when this module is imported: the run imports no task at load time.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from subsidies.models import AllowanceRun, AllowanceRunChunk


def _tasks():
    from subsidies import tasks

    return tasks


def queue_chunks(run: AllowanceRun, chunk_ids: list[int]) -> None:
    """Queue chunks (after commit) on the run's queue, stamping when."""
    if not chunk_ids:
        return
    task = _tasks().process_allowance_chunk
    AllowanceRunChunk.objects.filter(pk__in=chunk_ids).update(queued_at=timezone.now())
    options = {"queue": run.queue} if run.queue else {}
    for chunk_id in chunk_ids:
        transaction.on_commit(lambda chunk_id=chunk_id: task.apply_async((chunk_id,), **options))


def queue_prepare(run: AllowanceRun) -> None:
    """Queue the run's planning (after commit), stamping when."""
    task = _tasks().prepare_allowance_run
    AllowanceRun.objects.filter(pk=run.pk).update(queued_at=timezone.now())
    if run.queue:
        transaction.on_commit(lambda: task.apply_async((run.pk,), queue=run.queue))
    else:
        transaction.on_commit(lambda: task.delay(run.pk))
