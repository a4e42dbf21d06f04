"""Correction jobs: a rate revised backwards, applied to the months already run on Celery.

The revision's transaction only records the job (``request_correction``, the follow-up the
subsidies app registers with the rulebook); once it commits, the job is planned
(``start_job``: one chunk per month already run and id range of elders, one per month for the
caregivers when the value pays them) and each chunk is a task that recomputes its month for its
payees (subsidies.run.corrections.correct_chunk) and marks itself done in one transaction.
Claims, heartbeats, the sweep and resume are the allowance run's (subsidies.run.claims), so a
worker killed at any instant loses nothing and doubles nothing: the sweep queues the chunk
again and its rerun finds what was written.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, override

from regions.models import PolicyValue
from residents.models import Elder
from subsidies.choices import ChunkStatus, Payee, RunStatus
from subsidies.models import CorrectionChunk, CorrectionJob, Scheme
from subsidies.run import claims
from subsidies.run.corrections import (
    COUNTS,
    correct_chunk,
    facility_grants,
    first_month_from,
    run_months,
    runs_at_work,
)
from subsidies.run.queueing import queue_correction_chunks, queue_correction_prepare


def request_correction(
    *,
    rows: list[PolicyValue],
    start: datetime.date,
    end: datetime.date | None = None,
    reason: str = "",
    today: datetime.date | None = None,
    by=None,
) -> dict:
    """Record the job that recomputes the months from ``start`` (to ``end``) already run, for
    the payees paid from one of ``rows`` (the version a revision ended and the new one, or the
    row changed or added) or owed from them now; queued once the revision's transaction
    commits. Nothing is recorded when no such month was run. Returns what the revision
    reports of it: ``correction_job``, the job's id, and ``correction_job_url``, its path in
    the API (/api/subsidies/corrections/<id>/), both None when no job was recorded."""
    new = rows[-1]
    first = first_month_from(start)
    lock_rulebook_against_planning(new.region)
    if not run_months(new.region, first, end) and not _facility_grants_from(new, start, end):
        return {"correction_job": None, "correction_job_url": None}
    job = CorrectionJob(
        region=new.region,
        policy_value=new,
        replaced_value=rows[0] if len(rows) > 1 else None,
        start=start,
        end=end,
        reason=reason,
        decided_on=today or timezone.localdate(),
        requested_by=by if getattr(by, "is_authenticated", False) else None,
        chunk_size=settings.CORRECTION_CHUNK_SIZE,
    )
    job.full_clean()
    job.save()
    queue_correction_prepare(job)
    return {
        "correction_job": job.pk,
        "correction_job_url": reverse("correction-job-detail", args=[job.pk]),
    }


def lock_rulebook_against_planning(region, *, share: bool = False) -> None:
    """One row both a revision and a run's planning lock (PostgreSQL; SQLite has one writer at
    a time): the root of ``region``'s province. A revision takes it (FOR NO KEY UPDATE) before
    it looks for the months already run; a run takes it (FOR SHARE, ``share``) before it reads
    the rulebook. So either the run is planned after the revision commits (and reads the new
    value), or the revision waits for the run's plan to commit and finds its month: no run
    is planned with a replaced value in a month the correction job does not cover."""
    from django.db import connection

    from regions.models import Region

    if connection.vendor != "postgresql":
        return
    root = region.ancestors_and_self()[-1]  # nearest first: the province last
    mode = "FOR SHARE" if share else "FOR NO KEY UPDATE"
    table = connection.ops.quote_name(Region._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s {mode}", [root.pk])


def _payees_of(key: str) -> list[str]:
    """Whom the schemes paid from ``key`` pay (elders when it is no scheme's amount: the
    payment month of yearly items, say); facilities too when the grants' rules read it
    (subsidies.facility_rules.KEYS_READ: a cap, a share, the transfer coefficient)."""
    from subsidies.facility_rules import KEYS_READ

    payees = set(
        Scheme.objects.filter(Q(policy_key=key) | Q(amount_share_key=key), is_active=True)
        .values_list("payee", flat=True)
        .distinct()
    )
    if key in KEYS_READ:
        payees.add(Payee.FACILITY)
    return sorted(payees or {Payee.ELDER})


def _facility_grants_from(row: PolicyValue, start, end) -> list:
    """The facility grants a change to ``row`` from ``start`` (to ``end``) may change."""
    from subsidies.facility_rules import KEYS_READ

    if row.key not in KEYS_READ:
        return []
    return facility_grants(row.region, start, end)


def _id_ranges(bounds: dict, size: int) -> list[tuple[int, int]]:
    if bounds["low"] is None:
        return []
    return [
        (start, min(start + size - 1, bounds["high"]))
        for start in range(bounds["low"], bounds["high"] + 1, size)
    ]


@transaction.atomic
def prepare_job(*, job_id: int, queue: str = "") -> list[int]:
    """Cut the job into chunks: per month already run (as the job's rows date it), its
    elders' id ranges and, where the value pays caregivers, its caregivers; where the value
    bounds facility grants, per month their lines are paid in, its facilities."""
    from facilities.models import Caregiver, Facility

    job = (
        CorrectionJob.objects.select_for_update(of=("self",))
        .select_related("region", "policy_value")
        .get(pk=job_id)
    )
    if job.status != RunStatus.PENDING:
        return []
    job.queue = queue
    months = sorted(run_months(job.region, first_month_from(job.start), job.end))
    payees = _payees_of(job.policy_value.key)
    ranges = {
        Payee.ELDER: _id_ranges(
            Elder.objects.filter(hukou_region__path__startswith=job.region.path).aggregate(
                low=Min("id"), high=Max("id")
            ),
            job.chunk_size,
        ),
        # Caregivers are few: one chunk a month, all of them.
        Payee.CAREGIVER: _id_ranges(
            Caregiver.objects.aggregate(low=Min("id"), high=Max("id")), 2**62
        ),
    }
    chunks = [
        CorrectionChunk(job=job, period=period, payee=payee, id_from=low, id_to=high)
        for period in months
        for payee in payees
        if payee != Payee.FACILITY
        for low, high in ranges[payee]
    ]
    # Facility grants: one chunk per month their lines are paid in, all facilities (few).
    grant_months = sorted(
        {grant.line.period for grant in facility_grants(job.region, job.start, job.end)}
        if Payee.FACILITY in payees
        else set()
    )
    facilities = _id_ranges(Facility.objects.aggregate(low=Min("id"), high=Max("id")), 2**62)
    chunks += [
        CorrectionChunk(job=job, period=period, payee=Payee.FACILITY, id_from=low, id_to=high)
        for period in grant_months
        for low, high in facilities
    ]
    CorrectionChunk.objects.bulk_create(chunks)
    job.chunks_total = len(chunks)
    job.status = RunStatus.RUNNING
    job.started_at = timezone.now()
    job.report = {
        "key": job.policy_value.key,
        "months": [f"{period:%Y-%m}" for period in months],
        "facility_months": [f"{period:%Y-%m}" for period in grant_months],
        "payees": payees,
    }
    job.save()
    return list(job.chunks.values_list("pk", flat=True))


@transaction.atomic
def start_job(*, job_id: int, queue: str = "") -> int:
    """What the queued job does first: plan it and queue its chunks on ``queue`` once this
    commits (a job with nothing to do is finished at once). A job already planned is left
    alone (a redelivered message). Returns the number of chunks queued."""
    chunk_ids = prepare_job(job_id=job_id, queue=queue)
    queue_correction_chunks(CorrectionJob.objects.get(pk=job_id), chunk_ids)
    if not chunk_ids:
        finish_job(job_id=job_id)
    return len(chunk_ids)


def write_chunk(chunk_id: int) -> None:
    """The chunk's lines and its "done" mark with what it did, in one transaction."""
    with transaction.atomic():
        chunk = CorrectionChunk.objects.select_related("job__region").get(pk=chunk_id)
        if chunk.status == ChunkStatus.DONE:
            return
        if chunk.payee != Payee.FACILITY:
            # The month's run may still write lines by the plan it was given before the
            # revision: its month is corrected once it is done (it wrote by then all it will).
            waiting = runs_at_work(chunk.job.region, chunk.period, chunk.period)
            if waiting:
                # Stored on the chunk and shown in the admin and the API: written in the
                # interface's default language, whoever's request or worker defers it.
                with override(settings.LANGUAGE_CODE):
                    # A failed run goes on only once someone resumes it: say so, so that the
                    # job's page does not show a wait that nothing will end.
                    text = (
                        gettext(
                            "等待 %(period)s 的津贴运行 #%(run)s 完成：该运行已失败，"
                            "须在管理后台恢复"
                        )
                        if waiting[0].status == RunStatus.FAILED
                        else gettext("等待 %(period)s 的津贴运行 #%(run)s 完成")
                    )
                    reason = text % {"run": waiting[0].pk, "period": f"{chunk.period:%Y-%m}"}
                raise claims.Deferred(reason)
        counts = correct_chunk(chunk.job, chunk)
        claims.pause_point("chunk_written")
        claims.mark_done(JOBS, chunk_id, chunk.job_id, counts=counts)


@transaction.atomic
def finish_job(*, job_id: int) -> CorrectionJob:
    """Mark a job whose chunks are all done as done, with the sum of what they did
    (idempotent: called by whoever completes the last chunk, by a redelivered chunk and by the
    sweep)."""
    job = CorrectionJob.objects.select_for_update().get(pk=job_id)
    if job.status != RunStatus.RUNNING or job.started_at is None:
        return job
    if job.chunks.exclude(status=ChunkStatus.DONE).exists():
        return job
    totals = dict.fromkeys(COUNTS, 0)
    for counts in job.chunks.values_list("counts", flat=True):
        for name in COUNTS:
            totals[name] += counts.get(name, 0)
    job.report = {**job.report, **totals}
    claims.finished(job)
    return job


JOBS = claims.Work(
    model=CorrectionJob,
    chunk_model=CorrectionChunk,
    owner="job",
    name=gettext_lazy("追溯调整任务"),
    queue_chunks=queue_correction_chunks,
    queue_prepare=queue_correction_prepare,
    finish=lambda job_id: finish_job(job_id=job_id),
)


def process_chunk(*, chunk_id: int) -> bool:
    """Claim a chunk, write it, mark it done (subsidies.run.claims.process); whether the job's
    chunks are now all done."""
    return claims.process(JOBS, chunk_id, write_chunk)


def release_chunk(*, chunk_id: int, error: str) -> bool:
    return claims.release(JOBS, chunk_id, error)


def fail_job(*, job_id: int, error: str) -> None:
    claims.fail(JOBS, job_id, error)


def sweep_correction_jobs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Bring stuck jobs back (beat runs this every minute): subsidies.run.claims.sweep."""
    return claims.sweep(JOBS, now=now)


def resume_job(*, job: CorrectionJob, by) -> int:
    """Queue again a stalled or failed job's unfinished chunks: subsidies.run.claims.resume."""
    return claims.resume(JOBS, job, by=by)
