"""A rate revised backwards is applied to the months already run by a correction job: the
revision only records it; once it commits Celery plans it into chunks of (month, payees) and
works them. A chunk written twice doubles no line, a chunk whose worker died is queued again by
the sweep and the job ends with exactly the lines of an uninterrupted one, a failed job is
resumed, a batch the job may still change waits for it, and what the admin and the API show is
the job's real state. Celery in-process here (the embedded setup); a real worker killed with
SIGKILL is in test_correction_worker_kills.py."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from regions import services as rulebook
from regions.models import PolicyValue, Region
from subsidies import tasks
from subsidies.batches import approve_batch
from subsidies.choices import ChunkStatus, LineKind, Payee, RunHealth, RunStatus
from subsidies.models import CorrectionChunk, CorrectionJob, PaymentBatch, PaymentLine
from subsidies.run import correction_jobs
from subsidies.run.corrections import correct_chunk
from subsidies.run.planning import request_allowance_run
from subsidies.selectors import run_health
from tests.factories import CaregiverFactory, FacilityFactory
from tests.subsidies.test_worker_recovery import _died_while_holding as died_while_holding
from tests.subsidies.test_worker_recovery import _staff

D = datetime.date
TODAY = D(2024, 6, 10)
LONG_AGO = datetime.timedelta(hours=2)


# --- helpers shared with test_correction_worker_kills.py ------------------------------------------


def xihu_population(make_elder) -> None:
    """Five centenarians paid Xihu's 800 a month, and five aged 90–99 paid 150 (untouched by a
    change to the 100+ amount)."""
    for _ in range(5):
        make_elder(D(1920, 1, 1))
        make_elder(D(1930, 1, 1))


def run_and_approve(finance, months=(2, 3, 4, 5), approved=(2, 3, 4)) -> None:
    """Xihu's runs of 2024's ``months``, in-process; ``approved`` months approved by finance."""
    for month in months:
        run = request_allowance_run(
            region=Region.objects.get(code="330106"), period=D(2024, month, 1), sync=True
        )
        if month in approved:
            approve_batch(batch=run.batch, by=finance)


def longevity(code="330106") -> PolicyValue:
    return PolicyValue.objects.get(
        region__code=code, key="longevity_subsidy_100_plus", effective_to__isnull=True
    )


def raise_longevity(**overrides):
    """Xihu's 100+ amount raised from 800 to 900 from March 2024, decided in June."""
    arguments = {
        "row": longevity(),
        "applies_from": D(2024, 3, 1),
        "reason": "提标",
        "today": TODAY,
        "value": Decimal("900"),
    }
    return rulebook.revise_policy_value(**{**arguments, **overrides})


def line_keys() -> Counter:
    """Every payment line as what it pays and where it stands, counted (policy rows left out:
    a reference computed in a rolled-back transaction gave its rows other ids)."""
    return Counter(
        PaymentLine.objects.values_list(
            "scheme__code",
            "period",
            "elder_id",
            "caregiver_id",
            "amount",
            "kind",
            "status",
            "batch__kind",
            "batch__state",
        )
    )


def lines_after_an_uninterrupted_job(revise, capture) -> Counter:
    """The lines once ``revise()`` and its job have run in-process without a hitch, rolled
    back afterwards (nothing of it is committed, so a worker never sees it)."""
    from config.celery_app import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with transaction.atomic():
            with capture(execute=True):
                revise()
            expected = line_keys()
            transaction.set_rollback(True)
    finally:
        app.conf.task_always_eager = eager
    return expected


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def finance(db):
    return _staff("finance-jobs", "finance", "330106")


@pytest.fixture
def paid_to_may(make_elder, finance, settings):
    """February to April approved, May a draft; jobs cut into chunks of two elder ids."""
    settings.CORRECTION_CHUNK_SIZE = 2
    xihu_population(make_elder)
    run_and_approve(finance)


@pytest.fixture
def planned_job(paid_to_may, django_capture_on_commit_callbacks):
    """The raise recorded and planned, no chunk worked: (job, its chunk ids, the lines an
    uninterrupted job leaves)."""
    expected = lines_after_an_uninterrupted_job(raise_longevity, django_capture_on_commit_callbacks)
    revision = raise_longevity()
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    with mock.patch("subsidies.tasks.process_correction_chunk.apply_async"):
        chunk_ids = correction_jobs.prepare_job(job_id=job.pk)
    return job, chunk_ids, expected


def _died_while_holding(chunk_id: int) -> None:
    died_while_holding(chunk_id, model=CorrectionChunk)


# --- recorded with the revision, worked once it commits ------------------------------------------


def test_the_revision_records_a_job_and_changes_no_line_before_it_commits(paid_to_may):
    before = line_keys()
    revision = raise_longevity()
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    assert (job.status, job.chunks_total, job.region.code) == (RunStatus.PENDING, 0, "330106")
    assert (job.policy_value, job.replaced_value) == (revision.new, revision.ended)
    assert (job.start, job.end, job.decided_on, job.reason) == (D(2024, 3, 1), None, TODAY, "提标")
    assert run_health(job)[0] == RunHealth.QUEUED
    assert line_keys() == before  # the transaction has not committed: nothing is recomputed


def test_a_change_to_months_not_run_yet_records_no_job(paid_to_may):
    revision = raise_longevity(applies_from=D(2024, 7, 1))
    assert revision.follow_up == {"correction_job": None, "correction_job_url": None}
    assert not CorrectionJob.objects.exists()


def test_the_job_is_a_chunk_per_month_run_and_range_of_two_elder_ids(planned_job):
    job, chunk_ids, _ = planned_job
    job.refresh_from_db()
    chunks = CorrectionChunk.objects.filter(job=job)
    months = sorted({c.period for c in chunks})
    assert months == [D(2024, 3, 1), D(2024, 4, 1), D(2024, 5, 1)]
    assert job.report["months"] == ["2024-03", "2024-04", "2024-05"]
    assert {c.payee for c in chunks} == {Payee.ELDER}
    assert len(chunk_ids) == job.chunks_total == 3 * 5  # ten elders: five ranges a month
    assert all(c.id_to - c.id_from == 1 for c in chunks)
    assert job.status == RunStatus.RUNNING and run_health(job)[0] == RunHealth.RUNNING


def test_the_chunks_worked_in_any_order_leave_the_lines_of_an_uninterrupted_job(planned_job):
    job, chunk_ids, expected = planned_job
    for chunk_id in reversed(chunk_ids):
        correction_jobs.process_chunk(chunk_id=chunk_id)
    assert correction_jobs.finish_job(job_id=job.pk).status == RunStatus.DONE
    assert line_keys() == expected
    job.refresh_from_db()
    assert job.chunks_done == job.chunks_total
    assert (job.report["corrections"], job.report["recomputed"]) == (10, 5)
    # The differences: +100 for March and April for each centenarian, in June's adjustment.
    differences = PaymentLine.objects.filter(kind=LineKind.CORRECTION)
    assert {(x.period, x.amount, x.batch.period) for x in differences} == {
        (D(2024, 3, 1), Decimal("100.00"), D(2024, 6, 1)),
        (D(2024, 4, 1), Decimal("100.00"), D(2024, 6, 1)),
    }


def test_a_chunk_written_twice_doubles_no_line(planned_job):
    job, chunk_ids, expected = planned_job
    for chunk_id in chunk_ids:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    # A redelivered chunk is skipped as done; written again regardless, it finds its lines.
    for chunk in CorrectionChunk.objects.filter(pk__in=chunk_ids):
        assert correct_chunk(job, chunk) == dict.fromkeys(chunk.counts, 0)
        assert correction_jobs.process_chunk(chunk_id=chunk.pk) is True
    assert line_keys() == expected


def test_one_difference_line_per_line_and_batch_is_the_databases_rule(planned_job):
    job, chunk_ids, _ = planned_job
    for chunk_id in chunk_ids:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    difference = PaymentLine.objects.filter(kind=LineKind.CORRECTION).first()
    difference.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        difference.save()


# --- a worker lost, a job failed ----------------------------------------------------------------


def test_a_chunk_whose_worker_died_is_queued_again_by_the_sweep_and_the_job_finishes(
    planned_job, tasks_in_process, django_capture_on_commit_callbacks
):
    job, chunk_ids, expected = planned_job
    for chunk_id in chunk_ids[1:]:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    _died_while_holding(chunk_ids[0])
    job.refresh_from_db()
    assert run_health(job) == (
        RunHealth.STALLED,
        "1 个分块的处理进程已中断（无心跳或消息丢失），巡检将重新排队。",
    )
    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.sweep_correction_jobs.apply().get()
    assert counts["requeued"] == 1 and counts["failed"] == 0
    job.refresh_from_db()
    assert job.status == RunStatus.DONE and run_health(job)[0] == RunHealth.DONE
    chunk = CorrectionChunk.objects.get(pk=chunk_ids[0])
    assert chunk.status == ChunkStatus.DONE and chunk.attempts == 2
    assert line_keys() == expected


def test_a_job_whose_plan_message_was_lost_is_planned_again_by_the_sweep(paid_to_may):
    job = CorrectionJob.objects.get(pk=raise_longevity().follow_up["correction_job"])
    CorrectionJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - LONG_AGO)
    job.refresh_from_db()
    assert run_health(job)[0] == RunHealth.STALLED
    with mock.patch("subsidies.tasks.prepare_correction_job.delay"):
        assert correction_jobs.sweep_correction_jobs()["prepared"] == 1


def test_the_sweep_is_scheduled_every_minute(db):
    sweep = PeriodicTask.objects.get(name="津贴追溯调整巡检")
    assert sweep.task == "subsidies.sweep_correction_jobs" and sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (1, "minutes")


def test_a_failed_job_is_resumed_by_finance_and_ends_with_the_exact_lines(
    planned_job, finance, settings, tasks_in_process, django_capture_on_commit_callbacks
):
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 1
    job, chunk_ids, expected = planned_job
    boom = RuntimeError("disk full")
    with (
        mock.patch("subsidies.run.correction_jobs.correct_chunk", side_effect=boom),
        pytest.raises(RuntimeError),
    ):
        tasks.process_correction_chunk.apply((chunk_ids[0],), throw=True)
    job.refresh_from_db()
    assert job.status == RunStatus.FAILED and "disk full" in job.error
    assert run_health(job) == (RunHealth.FAILED, job.error)
    outsider = _staff("ningbo-finance", "finance", "330203")
    with pytest.raises(ValidationError, match="无权续跑"):
        correction_jobs.resume_job(job=job, by=outsider)
    with django_capture_on_commit_callbacks(execute=True):
        assert correction_jobs.resume_job(job=job, by=finance) == len(chunk_ids)
    job.refresh_from_db()
    assert job.status == RunStatus.DONE and job.error == ""
    assert job.report["resumed"][0]["by"] == "finance-jobs"
    assert line_keys() == expected


# --- approval waits; admin and API say what is true ----------------------------------------------


def test_a_batch_the_job_may_still_change_is_not_approved_until_it_is_done(planned_job, finance):
    job, chunk_ids, _ = planned_job
    may = PaymentBatch.objects.get(region__code="330106", period=D(2024, 5, 1), kind="regular")
    with pytest.raises(ValidationError, match=f"追溯调整任务 #{job.pk} 尚未完成"):
        approve_batch(batch=may, by=finance)
    for chunk_id in chunk_ids:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    correction_jobs.finish_job(job_id=job.pk)
    assert approve_batch(batch=may, by=finance).state == "approved"


def test_a_job_elsewhere_or_before_the_month_holds_no_approval(paid_to_may, finance, make_elder):
    make_elder(D(1920, 1, 1), "330523")
    anji = request_allowance_run(
        region=Region.objects.get(code="330523"), period=D(2024, 5, 1), sync=True
    )
    raise_longevity()  # Xihu's job, not done
    assert approve_batch(batch=anji.batch, by=finance).state == "approved"


def test_the_api_shows_the_job_with_its_health_to_its_region_only(planned_job, finance, client):
    job, chunk_ids, _ = planned_job
    for chunk_id in chunk_ids[:4]:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    client.force_login(finance)
    body = client.get("/api/subsidies/corrections/").json()
    (row,) = body["results"]
    assert (row["id"], row["key"], row["region_code"]) == (
        job.pk,
        "longevity_subsidy_100_plus",
        "330106",
    )
    assert (row["health"], row["chunks_done"], row["chunks_total"]) == ("running", 4, 15)
    assert row["progress"] == round(4 / 15, 4) and row["start"] == "2024-03-01"
    client.force_login(_staff("ningbo-finance", "finance", "330203"))
    assert client.get("/api/subsidies/corrections/").json()["count"] == 0
    assert client.get(f"/api/subsidies/corrections/{job.pk}/").status_code == 404


def test_the_admin_shows_a_stalled_job_as_stalled_and_refreshes(planned_job, finance, client):
    job, chunk_ids, _ = planned_job
    _died_while_holding(chunk_ids[0])
    client.force_login(finance)
    page = client.get(reverse("admin:subsidies_correctionjob_changelist"))
    assert page.status_code == 200
    assert "停滞" in page.content.decode() and page.context["refresh_seconds"] == 0
    detail = client.get(reverse("admin:subsidies_correctionjob_change", args=[job.pk]))
    assert "host:4242" in detail.content.decode()


# --- caregivers ------------------------------------------------------------------------------------


def test_the_caregivers_post_allowance_raised_backwards_pays_the_difference(
    rulebook_fixture_anji_caregiver, finance, tasks_in_process, django_capture_on_commit_callbacks
):
    person = rulebook_fixture_anji_caregiver
    row = PolicyValue.objects.get(
        region__code="330523", key="caregiver_post_allowance", effective_to__isnull=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        revision = rulebook.revise_policy_value(
            row=row, applies_from=D(2024, 3, 1), reason="提标", today=TODAY, value=Decimal("450")
        )
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    assert job.status == RunStatus.DONE and job.report["payees"] == [Payee.CAREGIVER]
    lines = PaymentLine.objects.filter(caregiver=person).order_by("period", "pk")
    by_month = {}
    for line in lines:
        by_month.setdefault(line.period, []).append((line.kind, line.amount))
    assert by_month == {
        D(2024, 2, 1): [(LineKind.NORMAL, Decimal("400.00"))],
        D(2024, 3, 1): [
            (LineKind.NORMAL, Decimal("400.00")),
            (LineKind.CORRECTION, Decimal("50.00")),
        ],
        D(2024, 4, 1): [
            (LineKind.NORMAL, Decimal("400.00")),
            (LineKind.CORRECTION, Decimal("50.00")),
        ],
        D(2024, 5, 1): [(LineKind.NORMAL, Decimal("450.00"))],  # a draft: recomputed
    }
    difference = lines.filter(kind=LineKind.CORRECTION).first()
    cited = difference.inputs["correction"]
    assert (cited["old"]["value"], cited["new"]["value"]) == ("400", "450")
    assert difference.corrects.period == difference.period


@pytest.fixture
def rulebook_fixture_anji_caregiver(rulebook, finance):
    """A certified caregiver employed in Anji, paid February to May 2024 (to April approved)."""
    from facilities import services as facility_services

    person = CaregiverFactory()
    facility_services.add_certificate(
        caregiver=person,
        kind="caregiver_skill",
        grade="junior",
        number=f"C{person.pk}",
        issued_on=D(2023, 9, 1),
    )
    facility = FacilityFactory(region=Region.objects.get(code="330523"))
    facility_services.employ_caregiver(
        caregiver=person, facility=facility, start_date=D(2024, 1, 1)
    )
    for month in (2, 3, 4, 5):
        run = request_allowance_run(
            region=Region.objects.get(code="330523"), period=D(2024, month, 1), sync=True
        )
        if month < 5:
            approve_batch(batch=run.batch, by=finance)
    return person
