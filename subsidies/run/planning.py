"""A run requested, planned (subsidies.run.rates) and cut into id-range chunks."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from accounts.scoping import require_in_scope
from regions.models import Region
from residents.models import Elder
from subsidies.batches import regular_batch
from subsidies.choices import RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentLine
from subsidies.periods import check_period
from subsidies.run import arrears, caregivers
from subsidies.run.chunks import INSERT_BATCH_SIZE, process_chunk
from subsidies.run.correction_jobs import lock_rulebook_against_planning
from subsidies.run.finishing import finish_run
from subsidies.run.plan import RunPlan
from subsidies.run.queueing import queue_chunks, queue_prepare
from subsidies.run.rates import plan_period
from subsidies.schemes import active_schemes

DEFAULT_CHUNK_SIZE = 20000


@transaction.atomic
def request_allowance_run(
    *,
    region: Region,
    period: datetime.date,
    by=None,
    sync: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AllowanceRun:
    """Start the run of ``period`` for elders registered in ``region``: in-process when
    ``sync``, else queued on Celery once this transaction commits."""
    period = check_period(period)
    run = AllowanceRun(region=region, period=period, requested_by=by, chunk_size=chunk_size)
    require_in_scope(by, run, field="region", label=f"{region.name}的津贴发放")
    run.full_clean()
    run.save()
    if sync:
        prepare_run(run_id=run.pk)
        for chunk_id in run.chunks.values_list("pk", flat=True):
            process_chunk(chunk_id=chunk_id)
        finish_run(run_id=run.pk)
        run.refresh_from_db()
    else:
        queue_prepare(run)
    return run


@transaction.atomic
def start_run(*, run_id: int, queue: str = "") -> int:
    """What the queued run does first: plan it and queue its chunks on ``queue`` once this
    commits (a run with no elders is finished at once). A run already planned is left alone
    (a redelivered message). Returns the number of chunks queued."""
    chunk_ids = prepare_run(run_id=run_id, queue=queue)
    run = AllowanceRun.objects.get(pk=run_id)
    queue_chunks(run, chunk_ids)
    if not chunk_ids:
        finish_run(run_id=run_id)
    return len(chunk_ids)


@transaction.atomic
def prepare_run(*, run_id: int, queue: str = "") -> list[int]:
    """Resolve the plan, open the regular batch and cut the elders into id-range chunks."""
    run = (
        AllowanceRun.objects.select_for_update(of=("self",)).select_related("region").get(pk=run_id)
    )
    if run.status != RunStatus.PENDING:
        return []
    run.queue = queue
    # Not planned with a value a revision is replacing right now (its correction job would
    # not see this month): subsidies.run.correction_jobs.lock_rulebook_against_planning.
    lock_rulebook_against_planning(run.region, share=True)
    schemes = active_schemes()
    main = plan_period(run.region, run.period, schemes)
    owed, arrears_note = arrears.plan_arrears(run, schemes)
    plan = RunPlan(main=main, arrears=tuple(owed))
    run.plan = plan.to_json()
    run.batch = regular_batch(run.region, run.period)
    bounds = Elder.objects.filter(hukou_region__path__startswith=run.region.path).aggregate(
        low=Min("id"), high=Max("id")
    )
    chunks = []
    if bounds["low"] is not None:
        for start in range(bounds["low"], bounds["high"] + 1, run.chunk_size):
            end = min(start + run.chunk_size - 1, bounds["high"])
            chunks.append(AllowanceRunChunk(run=run, id_from=start, id_to=end))
    AllowanceRunChunk.objects.bulk_create(chunks)
    run.chunks_total = len(chunks)
    run.status = RunStatus.RUNNING
    run.started_at = timezone.now()
    run.report = {
        "period": run.period.strftime("%Y-%m"),
        "region": run.region.code,
        "skipped_schemes": [s.to_json() for s in main.skipped],
        "not_due_this_month": [s.to_json() for s in main.not_due],
        "arrears_periods": [f"{p.period:%Y-%m}" for p in plan.arrears],
        **arrears_note,
    }
    if not main.payable and not main.caregiver_payable:
        run.report["empty"] = (
            "no scheme is in force with an amount for this region and month: the batch is empty"
        )
    if main.caregiver_payable:
        caregiver_lines = caregivers.caregiver_lines(run, main)
        PaymentLine.objects.bulk_create(
            caregiver_lines, batch_size=INSERT_BATCH_SIZE, ignore_conflicts=True
        )
        run.report["caregiver_lines_added"] = len(caregiver_lines)
    run.save()
    return list(run.chunks.values_list("pk", flat=True))
