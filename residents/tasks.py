"""Celery tasks of the elder import: thin, taking the job's id (the work is in import_jobs).
Both may be delivered again (acks_late): the job's state says whether there is work left."""

from celery import shared_task

from residents import import_jobs


@shared_task(name="residents.check_import_job")
def check_import_job(job_id: int) -> None:
    try:
        import_jobs.check_import_job(job_id=job_id)
    except Exception as error:  # recorded on the job so that its page shows it, then re-raised
        import_jobs.fail_import_job(job_id=job_id, error=repr(error))
        raise


@shared_task(name="residents.apply_import_job")
def apply_import_job(job_id: int) -> None:
    try:
        import_jobs.apply_import_job(job_id=job_id)
    except Exception as error:  # recorded on the job so that its page shows it, then re-raised
        import_jobs.fail_import_job(job_id=job_id, error=repr(error))
        raise


@shared_task(name="residents.requeue_stalled_import_jobs")
def requeue_stalled_import_jobs() -> int:
    """Every minute from beat (migration residents 0004): jobs whose task never came."""
    return import_jobs.requeue_stalled_import_jobs()
