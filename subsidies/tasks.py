"""Celery tasks of the allowance run: thin, idempotent, taking ids (the work is in services).

prepare_allowance_run plans the run and queues one process_allowance_chunk per elder-id range;
the chunk that completes the run finishes it. A chunk already done is skipped, and every write
is INSERT … ON CONFLICT DO NOTHING, so redelivery (acks_late) and reruns are harmless.
"""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from regions.models import Region
from subsidies import services


def _same_queue(task) -> dict:
    """The chunks of a run go to the queue its first task came from (a dedicated queue for
    province-wide runs stays dedicated); in-process (eager) runs have none."""
    delivery = task.request.delivery_info or {}
    queue = delivery.get("routing_key")
    return {"queue": queue} if queue else {}


@shared_task(name="subsidies.prepare_allowance_run", bind=True)
def prepare_allowance_run(self, run_id: int) -> int:
    options = _same_queue(self)
    try:
        with transaction.atomic():
            chunk_ids = services.prepare_run(run_id=run_id)
            for chunk_id in chunk_ids:
                transaction.on_commit(
                    lambda chunk_id=chunk_id: process_allowance_chunk.apply_async(
                        (chunk_id,), **options
                    )
                )
            if not chunk_ids:
                transaction.on_commit(
                    lambda: finish_allowance_run.apply_async((run_id,), **options)
                )
    except Exception as error:  # recorded on the run so that the admin shows it, then re-raised
        services.fail_run(run_id=run_id, error=repr(error))
        raise
    return len(chunk_ids)


@shared_task(name="subsidies.process_allowance_chunk")
def process_allowance_chunk(chunk_id: int) -> None:
    if services.process_chunk(chunk_id=chunk_id):
        from subsidies.models import AllowanceRunChunk

        run_id = AllowanceRunChunk.objects.values_list("run_id", flat=True).get(pk=chunk_id)
        services.finish_run(run_id=run_id)


@shared_task(name="subsidies.finish_allowance_run")
def finish_allowance_run(run_id: int) -> None:
    services.finish_run(run_id=run_id)


@shared_task(name="subsidies.scheduled_allowance_run")
def scheduled_allowance_run(region_code: str) -> int:
    """For django-celery-beat: each region's monthly run, on the day set in the admin.

    The PeriodicTask is created by ``subsidies.services.schedule_monthly_run(region=…, day=…)``
    (a crontab at ``hour`` on ``day`` 1–28, Asia/Shanghai, args ``["<region code>"]``); its day
    is then changed in the admin (定时任务 → 周期任务) and picked up by the beat's
    DatabaseScheduler. Runs the current month, queued like any run."""
    run = services.request_allowance_run(
        region=Region.objects.get(code=region_code), period=timezone.localdate()
    )
    return run.pk
