"""What a rate revised backwards sets going, seen from its edges: a month whose allowance run is
still at work when the revision lands is corrected once the run is done (the job's chunk for
it waits, uncounted); the revise API names the job and its URL, as its schema says; and a
change to the caregivers' post allowance is previewed like an elder's amount."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import PolicyValue, Region
from regions.services import preview_change
from subsidies.choices import ChunkStatus, LineKind, Payee, RunStatus
from subsidies.models import AllowanceRun, CorrectionChunk, CorrectionJob, PaymentLine
from subsidies.run import chunks as run_chunks
from subsidies.run import claims, correction_jobs, finishing, planning
from tests.openapi_conformance import assert_matches_schema
from tests.subsidies.test_correction_jobs import (
    finance,  # noqa: F401 (a fixture)
    raise_longevity,
    rulebook_fixture_anji_caregiver,  # noqa: F401 (a fixture)
    run_and_approve,
    xihu_population,
)

D = datetime.date
MAY = D(2024, 5, 1)


def xihu() -> Region:
    return Region.objects.get(code="330106")


def planned_job_of(revision) -> tuple[CorrectionJob, list[int]]:
    job = CorrectionJob.objects.get(pk=revision.follow_up["correction_job"])
    with mock.patch("subsidies.tasks.process_correction_chunk.apply_async"):
        return job, correction_jobs.prepare_job(job_id=job.pk)


def work_run(run: AllowanceRun) -> None:
    """The run's chunks written and the run finished, as its worker would."""
    for chunk_id in run.chunks.values_list("pk", flat=True):
        run_chunks.process_chunk(chunk_id=chunk_id)
    finishing.finish_run(run_id=run.pk)


def may_centenarian_lines():
    return PaymentLine.objects.filter(
        period=MAY, scheme__code__contains="longevity", elder__birth_date=D(1920, 1, 1)
    )


# --- a run at work when the revision lands ----------------------------------------------------


@pytest.fixture
def to_april(make_elder, finance):  # noqa: F811
    xihu_population(make_elder)
    run_and_approve(finance, months=(2, 3, 4), approved=(2, 3, 4))


def _work_the_job(job, chunk_ids) -> None:
    for chunk_id in chunk_ids:
        correction_jobs.process_chunk(chunk_id=chunk_id)
    assert correction_jobs.finish_job(job_id=job.pk).status == RunStatus.DONE


def test_a_month_whose_run_was_planned_before_the_revision_is_corrected_after_the_run(to_april):
    run = planning.request_allowance_run(region=xihu(), period=MAY)
    planning.prepare_run(run_id=run.pk)  # planned by the 800 in force then, no line written
    job, chunk_ids = planned_job_of(raise_longevity())
    may = CorrectionChunk.objects.filter(job=job, period=MAY)
    assert may.exists() and "2024-05" in CorrectionJob.objects.get(pk=job.pk).report["months"]

    # While the run is at work, the month's chunks wait: their claim given back, uncounted.
    for chunk in may:
        with translation.override("en"), pytest.raises(claims.Deferred, match=f"#{run.pk}"):
            correction_jobs.process_chunk(chunk_id=chunk.pk)
    assert set(may.values_list("status", "attempts")) == {(ChunkStatus.PENDING, 0)}
    # Why they wait is stored in the interface's language, whoever's worker deferred them.
    assert set(may.values_list("error", flat=True)) == {f"等待 2024-05 的津贴运行 #{run.pk} 完成"}

    work_run(run)  # the run writes May by the plan it was given: 800
    assert set(may_centenarian_lines().values_list("amount", flat=True)) == {Decimal("800.00")}
    _work_the_job(job, chunk_ids)

    # The run's May lines (a draft) now pay the revised 900, in place; nothing else for May.
    lines = may_centenarian_lines()
    assert lines.count() == 5
    assert set(lines.values_list("amount", "kind")) == {(Decimal("900.00"), LineKind.NORMAL)}
    assert all(line.batch.is_draft for line in lines)
    assert not PaymentLine.objects.filter(period=MAY, kind=LineKind.CORRECTION).exists()


def test_a_month_waiting_on_a_failed_run_says_the_run_must_be_resumed(to_april):
    run = planning.request_allowance_run(region=xihu(), period=MAY)
    planning.prepare_run(run_id=run.pk)
    job, chunk_ids = planned_job_of(raise_longevity())
    AllowanceRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    may = CorrectionChunk.objects.filter(job=job, period=MAY)
    for chunk in may:
        with pytest.raises(claims.Deferred):
            correction_jobs.process_chunk(chunk_id=chunk.pk)
    assert set(may.values_list("error", flat=True)) == {
        f"等待 2024-05 的津贴运行 #{run.pk} 完成：该运行已失败，须在管理后台恢复"
    }
    with translation.override("en"):
        assert "must be resumed in the admin" in gettext(
            "等待 %(period)s 的津贴运行 #%(run)s 完成：该运行已失败，须在管理后台恢复"
        )


def test_a_run_queued_before_its_batch_opened_is_covered_and_reads_the_new_value(to_april):
    run = planning.request_allowance_run(region=xihu(), period=MAY)  # queued, not planned
    assert run.batch_id is None
    job, chunk_ids = planned_job_of(raise_longevity())
    assert "2024-05" in CorrectionJob.objects.get(pk=job.pk).report["months"]
    may = CorrectionChunk.objects.filter(job=job, period=MAY).first()
    with pytest.raises(claims.Deferred):
        correction_jobs.process_chunk(chunk_id=may.pk)

    planning.prepare_run(run_id=run.pk)  # planned after the revision: reads 900
    work_run(run)
    _work_the_job(job, chunk_ids)
    assert set(may_centenarian_lines().values_list("amount", flat=True)) == {Decimal("900.00")}
    assert not PaymentLine.objects.filter(period=MAY, kind=LineKind.CORRECTION).exists()


def test_a_failed_run_holds_its_month_until_it_is_resumed_and_done(to_april, finance):  # noqa: F811
    run = planning.request_allowance_run(region=xihu(), period=MAY)
    planning.prepare_run(run_id=run.pk)
    AllowanceRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="lost")
    job, chunk_ids = planned_job_of(raise_longevity())
    may = CorrectionChunk.objects.filter(job=job, period=MAY).first()
    with pytest.raises(claims.Deferred):
        correction_jobs.process_chunk(chunk_id=may.pk)
    AllowanceRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, error="")
    work_run(run)
    _work_the_job(job, chunk_ids)
    assert set(may_centenarian_lines().values_list("amount", flat=True)) == {Decimal("900.00")}


def test_in_process_a_waiting_chunk_is_left_for_the_sweep(to_april, tasks_in_process):
    from subsidies import tasks

    run = planning.request_allowance_run(region=xihu(), period=MAY)
    planning.prepare_run(run_id=run.pk)
    job, _chunk_ids = planned_job_of(raise_longevity())
    may = CorrectionChunk.objects.filter(job=job, period=MAY).first()
    tasks.process_correction_chunk.apply(args=[may.pk]).get()  # no error, no endless retry
    may.refresh_from_db()
    assert (may.status, may.attempts) == (ChunkStatus.PENDING, 0) and f"#{run.pk}" in may.error


def test_a_job_for_months_run_and_done_is_not_held(to_april):
    job, chunk_ids = planned_job_of(raise_longevity())
    assert correction_jobs.runs_at_work(xihu(), D(2024, 3, 1)) == []
    _work_the_job(job, chunk_ids)


# --- the revise API names the job -----------------------------------------------------------------


@pytest.fixture
def bureau(db, rulebook):
    user = get_user_model().objects.create_user("xihu-bureau-revise", password="x")
    assign_role(user=user, role=Role.BUREAU, region=Region.objects.get(code="330106"))
    return user


def test_the_revise_api_answers_with_the_correction_job_and_its_url(to_april, bureau):
    api = APIClient()
    api.force_authenticate(bureau)
    row = PolicyValue.objects.get(
        region__code="330106", key="longevity_subsidy_100_plus", effective_to__isnull=True
    )
    url = f"/api/regions/policy-values/{row.pk}/revise/"
    answer = api.post(
        url, {"value": "900", "applies_from": "2024-03-01", "reason": "提标"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    job = CorrectionJob.objects.get()
    assert body["correction_job"] == job.pk
    assert body["correction_job_url"] == f"http://testserver/api/subsidies/corrections/{job.pk}/"
    assert_matches_schema("post", "/api/regions/policy-values/{id}/revise/", answer)
    shown = api.get(body["correction_job_url"])
    assert shown.status_code == 200 and shown.json()["id"] == job.pk


def test_a_revision_of_months_not_run_answers_no_job(to_april, bureau):
    api = APIClient()
    api.force_authenticate(bureau)
    row = PolicyValue.objects.get(
        region__code="330106", key="high_age_allowance_90_99", effective_to__isnull=True
    )
    answer = api.post(
        f"/api/regions/policy-values/{row.pk}/revise/",
        {"value": "120", "applies_from": "2030-01-01", "reason": "提标"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["correction_job"], answer.json()["correction_job_url"]) == (None, None)
    assert_matches_schema("post", "/api/regions/policy-values/{id}/revise/", answer)


def test_the_schema_documents_the_job_fields():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    schemas = json.loads(OpenApiJsonRenderer().render(document))["components"]["schemas"]
    result = schemas["PolicyRevisionResult"]["properties"]
    assert result["correction_job"]["type"] == "integer" and result["correction_job"]["nullable"]
    assert result["correction_job_url"]["format"] == "uri"
    assert "/api/subsidies/corrections/" in result["correction_job_url"]["description"]


# --- the caregivers' post allowance previewed -------------------------------------------------------


def test_a_change_to_the_caregivers_post_allowance_is_previewed_for_caregivers(
    rulebook_fixture_anji_caregiver,  # noqa: F811
):
    person = rulebook_fixture_anji_caregiver
    anji = Region.objects.get(code="330523")
    bureau = get_user_model().objects.create_user("anji-bureau", password="x")
    assign_role(user=bureau, role=Role.BUREAU, region=anji)
    row = PolicyValue.objects.get(
        region=anji, key="caregiver_post_allowance", effective_to__isnull=True
    )
    preview = preview_change(
        row=row,
        applies_from=D(2030, 1, 1),
        changes={"value": Decimal("450")},
        reason="提标",
        by=bureau,
    )
    assert preview is not None and preview.payee == Payee.CAREGIVER
    assert preview.period == D(2030, 1, 1)
    assert (preview.caregivers_affected, preview.elders_affected) == (1, 0)
    assert (preview.lines_before, preview.lines_after) == (1, 1)
    assert (preview.amount_before, preview.amount_after) == (Decimal("400"), Decimal("450"))
    assert "养老护理员" in preview.describe() and "+50.00" in preview.describe()
    row.refresh_from_db()
    assert row.value == Decimal("400") and row.effective_to is None  # nothing was saved
    assert person.payment_lines.count() == 4  # and nothing was paid

    api = APIClient()
    api.force_authenticate(bureau)
    answer = api.post(
        f"/api/regions/policy-values/{row.pk}/revise/",
        {"value": "450", "applies_from": "2030-01-01", "reason": "提标", "preview": True},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    shown = answer.json()["preview"]
    assert (shown["payee"], shown["caregivers_affected"], shown["difference"]) == (
        "caregiver",
        1,
        "50.00",
    )
