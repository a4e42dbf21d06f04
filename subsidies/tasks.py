"""Celery tasks of the allowance run and of the correction jobs: thin, idempotent, taking ids
(the work is in subsidies.run).

prepare_allowance_run plans the run and queues one process_allowance_chunk per elder-id range.
Whoever completes the last chunk finishes the run — also a chunk redelivered after its commit,
whose worker died before finishing. Every write is INSERT … ON CONFLICT DO NOTHING or a
conditional update, so redelivery (acks_late, reject_on_worker_lost) and reruns are harmless.
sweep_allowance_runs, run by beat every minute, queues again the chunks of workers that died
and finishes runs nobody finished. The correction jobs of rates revised backwards
(subsidies.run.correction_jobs) are planned, chunked, swept and finished the same way.
"""

from celery import shared_task
from django.utils import timezone

from regions.models import Region
from subsidies.run import chunks, claims, correction_jobs, finishing, planning

# Seconds before a chunk that raised is tried again (times its attempts so far); far below
# the broker's visibility timeout, which would otherwise deliver the retry twice.
RETRY_SECONDS = 10
# Seconds before a chunk that waits for another piece of work looks again.
DEFER_SECONDS = 30


def _same_queue(task) -> str:
    """The chunks of a run go to the queue its first task came from (a dedicated queue for
    province-wide runs stays dedicated); in-process (eager) runs have none."""
    delivery = task.request.delivery_info or {}
    return delivery.get("routing_key") or ""


@shared_task(name="subsidies.prepare_allowance_run", bind=True)
def prepare_allowance_run(self, run_id: int) -> int:
    try:
        return planning.start_run(run_id=run_id, queue=_same_queue(self))
    except Exception as error:  # recorded on the run so that the admin shows it, then re-raised
        finishing.fail_run(run_id=run_id, error=repr(error))
        raise


def _work_on_chunk(task, chunk_id: int, work, *, process, release) -> None:
    """A chunk's task: processed; on an error its claim is given back and the task retried,
    until the work fails after too many tries; the work finished when its last chunk is."""
    try:
        complete = process(chunk_id=chunk_id)
    except claims.Deferred as waiting:
        # Not an error: the chunk waits for what it follows (its claim given back uncounted).
        # In-process (eager) there is nobody to wait for: the sweep queues it again.
        if task.request.is_eager:
            return
        raise task.retry(exc=waiting, countdown=DEFER_SECONDS) from waiting
    except Exception as error:  # the claim is given back; the work fails after too many tries
        if not release(chunk_id=chunk_id, error=repr(error)):
            raise
        raise task.retry(exc=error, countdown=RETRY_SECONDS * (task.request.retries + 1))
    if complete:
        work.finish(claims.owner_of(work, chunk_id))


@shared_task(name="subsidies.process_allowance_chunk", bind=True, max_retries=None)
def process_allowance_chunk(self, chunk_id: int) -> None:
    _work_on_chunk(
        self, chunk_id, finishing.RUNS, process=chunks.process_chunk, release=chunks.release_chunk
    )


@shared_task(name="subsidies.finish_allowance_run")
def finish_allowance_run(run_id: int) -> None:
    finishing.finish_run(run_id=run_id)


@shared_task(name="subsidies.sweep_allowance_runs")
def sweep_allowance_runs() -> dict:
    """For django-celery-beat, every minute (the PeriodicTask 津贴发放运行巡检 is created by
    migration subsidies 0004): chunks of dead workers queued again, stuck runs finished."""
    return finishing.sweep_allowance_runs()


@shared_task(name="subsidies.prepare_correction_job", bind=True)
def prepare_correction_job(self, job_id: int) -> int:
    try:
        return correction_jobs.start_job(job_id=job_id, queue=_same_queue(self))
    except Exception as error:  # recorded on the job so that the admin shows it, then re-raised
        correction_jobs.fail_job(job_id=job_id, error=repr(error))
        raise


@shared_task(name="subsidies.process_correction_chunk", bind=True, max_retries=None)
def process_correction_chunk(self, chunk_id: int) -> None:
    jobs = correction_jobs
    _work_on_chunk(
        self, chunk_id, jobs.JOBS, process=jobs.process_chunk, release=jobs.release_chunk
    )


@shared_task(name="subsidies.sweep_correction_jobs")
def sweep_correction_jobs() -> dict:
    """For django-celery-beat, every minute (the PeriodicTask 津贴追溯调整巡检 is created by
    migration subsidies 0012): chunks of dead workers queued again, stuck jobs finished."""
    return correction_jobs.sweep_correction_jobs()


@shared_task(name="subsidies.scheduled_allowance_run")
def scheduled_allowance_run(region_code: str) -> int:
    """For django-celery-beat: each region's monthly run, on the day set in the admin.

    The PeriodicTask is created by ``subsidies.schedules.schedule_monthly_run(region=…, day=…)``
    (a crontab at ``hour`` on ``day`` 1–28, Asia/Shanghai, args ``["<region code>"]``); its day
    is then changed in the admin (定时任务 → 周期任务) and picked up by the beat's
    DatabaseScheduler. Runs the current month, queued like any run."""
    run = planning.request_allowance_run(
        region=Region.objects.get(code=region_code), period=timezone.localdate()
    )
    return run.pk
