"""Elder imports from the admin as jobs, so that a large roll never holds a web worker.

Upload (``start_import_job``): the file is held privately (accounts.uploads) and a task checks
it (``check_import_job``: residents.importing's read_rows and plan_import for the importer,
which writes nothing) and records the counts and every rejected row. The importer reads the
preview on the job's page, which refreshes while the job works, and confirms
(``confirm_import_job``); a task then writes it (``apply_import_job``): the file is planned
again for the importer, as the rows may have changed since, and written CHUNK_ROWS rows per
transaction, the progress recorded after each. A worker lost midway leaves whole chunks: the
task is delivered again (acks_late) and, as the import upserts by ID number, the rows already
written are found unchanged and the rest follows. When the job is done the file is deleted; a
job left unconfirmed expires with its file (``expire_import_jobs``, from purge_uploads). With
REDIS_URL unset the tasks run in-process once the request's transaction commits.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import AuditAction, UploadPurpose
from accounts.services import record_audit
from accounts.uploads import hold_upload, release_upload
from residents import importing
from residents.choices import ImportJobState
from residents.models import ImportJob

CHUNK_ROWS = 1000
# Jobs a worker may (still) be working on: a task delivered again picks these up.
CHECKABLE = (ImportJobState.QUEUED, ImportJobState.CHECKING)
APPLICABLE = (ImportJobState.CONFIRMED, ImportJobState.APPLYING)
FINISHED = (
    ImportJobState.DONE,
    ImportJobState.FAILED,
    ImportJobState.CANCELLED,
    ImportJobState.EXPIRED,
)
EXPIRED_MESSAGE = gettext_lazy("导入文件已过期（超过保留时间未确认），请重新上传。")


def _counts(plan: importing.ImportPlan) -> dict:
    return {
        "create": len(plan.to_create),
        "update": len(plan.to_update),
        "unchanged": len(plan.unchanged),
        "rejected": plan.rejected_rows,
    }


def _errors(plan: importing.ImportPlan) -> list[list]:
    return [[e.row, e.field, e.message] for e in plan.errors]


def row_errors(job: ImportJob) -> list[importing.RowError]:
    return [importing.RowError(*error) for error in job.errors]


def summary(counts: dict) -> str:
    """As ImportPlan.summary says it."""
    return (
        f"created {counts.get('create', 0)}, updated {counts.get('update', 0)}, "
        f"rejected {counts.get('rejected', 0)}"
    )


@transaction.atomic
def start_import_job(*, content: bytes, file_name: str, by) -> ImportJob:
    """Hold the file and queue its check once this transaction commits."""
    from residents import tasks

    upload = hold_upload(
        purpose=UploadPurpose.ELDER_IMPORT, owner=by, file_name=file_name, content=content
    )
    job = ImportJob.objects.create(created_by=by, upload=upload, file_name=file_name[:255])
    transaction.on_commit(lambda: tasks.check_import_job.delay(job.pk))
    return job


def _claim(job_id: int, states, working: str) -> ImportJob | None:
    """The job, now in state ``working``, if it was in one of ``states``; None otherwise
    (finished, cancelled, or claimed by another delivery that finished it)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in states:
            return None
        job.state = working
        job.save(update_fields=["state", "updated_at"])
    if job.upload_id is None:
        _finish(job, ImportJobState.EXPIRED, error=EXPIRED_MESSAGE)
        return None
    return job


def _finish(job: ImportJob, state: str, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.state = state
    job.finished_at = timezone.now() if state in FINISHED else None
    job.save()


def _read(job: ImportJob) -> list[tuple[int, dict[str, str]]] | None:
    try:
        return importing.read_rows(bytes(job.upload.content), job.file_name)
    except importing.ImportFileError as error:
        upload, job.upload = job.upload, None
        _finish(job, ImportJobState.FAILED, error=str(error))
        release_upload(upload)
        return None


def check_import_job(*, job_id: int) -> None:
    """Read and check the file for its importer; writes no elder."""
    job = _claim(job_id, CHECKABLE, ImportJobState.CHECKING)
    if job is None or (rows := _read(job)) is None:
        return
    job.rows_total = job.progress_total = len(rows)
    job.progress_done = 0
    job.save(update_fields=["rows_total", "progress_total", "progress_done", "updated_at"])
    plan = importing.plan_import(rows, by=job.created_by)
    _finish(
        job,
        ImportJobState.CHECKED,
        progress_done=len(rows),
        preview=_counts(plan),
        errors=_errors(plan),
    )


@transaction.atomic
def confirm_import_job(*, job: ImportJob, by) -> ImportJob:
    """The importer confirms a checked job: queue its writing once this commits (a job whose
    file has expired is marked so and returned as it is)."""
    from residents import tasks

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.created_by_id != by.pk:
        raise ValidationError(_("只有上传该文件的用户可以确认导入。"))
    if job.state != ImportJobState.CHECKED:
        raise ValidationError(
            _("该导入的状态为“%(state)s”，不能确认。") % {"state": job.get_state_display()}
        )
    if job.upload_id is None:  # purged: the job says so (not raised, which would undo it)
        _finish(job, ImportJobState.EXPIRED, error=EXPIRED_MESSAGE)
        return job
    job.state = ImportJobState.CONFIRMED
    job.save(update_fields=["state", "updated_at"])
    transaction.on_commit(lambda: tasks.apply_import_job.delay(job.pk))
    return job


@transaction.atomic
def cancel_import_job(*, job: ImportJob, by) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.created_by_id != by.pk:
        raise ValidationError(_("只有上传该文件的用户可以取消导入。"))
    if job.state not in (ImportJobState.QUEUED, ImportJobState.CHECKED):
        raise ValidationError(
            _("该导入的状态为“%(state)s”，不能取消。") % {"state": job.get_state_display()}
        )
    upload, job.upload = job.upload, None
    _finish(job, ImportJobState.CANCELLED, errors=[])
    release_upload(upload)
    return job


def apply_import_job(*, job_id: int) -> None:
    """Plan the file again for its importer and write it, CHUNK_ROWS rows per transaction."""
    job = _claim(job_id, APPLICABLE, ImportJobState.APPLYING)
    if job is None or (rows := _read(job)) is None:
        return
    plan = importing.plan_import(rows, by=job.created_by)
    writes = [(row, None) for row in plan.to_create] + list(plan.to_update)
    job.progress_total, job.progress_done = len(writes), 0
    job.save(update_fields=["progress_total", "progress_done", "updated_at"])
    for start in range(0, len(writes), CHUNK_ROWS):
        chunk = writes[start : start + CHUNK_ROWS]
        part = importing.ImportPlan(
            to_create=[row for row, elder in chunk if elder is None],
            to_update=[(row, elder) for row, elder in chunk if elder is not None],
        )
        try:
            importing.apply_import(part, by=job.created_by)
        except ValidationError as error:
            _finish(job, ImportJobState.FAILED, error="；".join(error.messages))
            return
        job.progress_done = start + len(chunk)
        ImportJob.objects.filter(pk=job.pk).update(
            progress_done=job.progress_done, updated_at=timezone.now()
        )
    upload, job.upload = job.upload, None
    _finish(job, ImportJobState.DONE, result=_counts(plan), errors=_errors(plan))
    release_upload(upload)
    record_audit(
        user=job.created_by,
        action=AuditAction.IMPORT,
        object_type="residents.elder",
        object_id=job.pk,
        reason="admin elder import",
        details={"file": job.file_name, **job.result},
    )


def fail_import_job(*, job_id: int, error: str) -> None:
    """Record a task's unexpected failure on its job (the task then raises it again)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is not None and job.state not in FINISHED:
        _finish(job, ImportJobState.FAILED, error=error)


def requeue_stalled_import_jobs(*, now: datetime.datetime | None = None) -> int:
    """Jobs waiting for a task that never came: the process that committed the upload or the
    confirmation died before its message reached the broker, so nothing would ever check or
    write them. Queued or confirmed jobs untouched for IMPORT_JOB_STALL_SECONDS are queued
    again (every minute from beat). Jobs a worker was working on need nothing here: the
    broker delivers their task again (acks_late), and ``_claim`` takes them back. Returns how
    many were queued again."""
    from django.conf import settings

    from residents import tasks

    now = now or timezone.now()
    stalled_before = now - datetime.timedelta(seconds=settings.IMPORT_JOB_STALL_SECONDS)
    requeued = 0
    for state, task in (
        (ImportJobState.QUEUED, tasks.check_import_job),
        (ImportJobState.CONFIRMED, tasks.apply_import_job),
    ):
        ids = list(
            ImportJob.objects.filter(state=state, updated_at__lt=stalled_before).values_list(
                "pk", flat=True
            )
        )
        # Touched first, so that the next sweep waits a whole period again.
        ImportJob.objects.filter(pk__in=ids).update(updated_at=now)
        for job_id in ids:
            task.delay(job_id)
        requeued += len(ids)
    return requeued


def expire_import_jobs(*, older_than: datetime.datetime) -> int:
    """Jobs uploaded before ``older_than``: those never confirmed expire, and every one drops
    its rejected rows (they quote the file). Their files go with purge_uploads. Returns how
    many expired."""
    old = ImportJob.objects.filter(created_at__lt=older_than)
    expired = old.filter(state__in=[ImportJobState.QUEUED, ImportJobState.CHECKED]).update(
        state=ImportJobState.EXPIRED, error=EXPIRED_MESSAGE, finished_at=timezone.now()
    )
    old.exclude(errors=[]).update(errors=[])
    return expired
