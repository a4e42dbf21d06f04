"""The run through Celery: queued by the command, chunked, and completed by a rerun after a
worker died halfway, with no duplicate and no missing line."""

import datetime
import io
import re
import time

import pytest
from django.core.management import call_command
from django.db.models import Count

from regions.models import Region
from subsidies.choices import ChunkStatus, RunStatus
from subsidies.models import AllowanceRun, PaymentLine
from subsidies.run.chunks import process_chunk
from subsidies.run.planning import prepare_run

MAY = datetime.date(2024, 5, 1)


def make_population(make_elder, n=12):
    births = [datetime.date(1939, 1, 1), datetime.date(1929, 1, 1), datetime.date(1920, 1, 1)]
    for i in range(n):
        make_elder(births[i % 3], pension="resident" if i % 2 else "none")
    # 12 elders: 4 per band; 6 resident pension recipients → 12 + 6 = 18 lines
    return 18


def queue_run(chunk_size=5) -> int:
    out = io.StringIO()
    call_command(
        "run_allowances",
        "--region",
        "330106",
        "--period",
        "2024-05",
        "--chunk-size",
        str(chunk_size),
        stdout=out,
    )
    return int(re.search(r"queued allowance run (\d+)", out.getvalue()).group(1))


def wait_for(run_id: int, timeout=60) -> AllowanceRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = AllowanceRun.objects.get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        time.sleep(0.2)
    run = AllowanceRun.objects.get(pk=run_id)
    raise AssertionError(f"run {run_id} did not finish: {run.status} {run.chunks_done}")


def assert_no_duplicates():
    duplicates = (
        PaymentLine.objects.values("scheme", "period", "elder")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_without_sync_the_command_queues_the_run_and_prints_its_id(
    make_elder, django_capture_on_commit_callbacks
):
    from config.celery_app import app

    expected = make_population(make_elder)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # in-process, as on the embedded setup without Redis
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_id = queue_run()
    finally:
        app.conf.task_always_eager = previous
    run = AllowanceRun.objects.get(pk=run_id)
    assert run.status == RunStatus.DONE  # eager Celery on the embedded setup
    assert run.chunks_total == run.chunks_done >= 2
    assert PaymentLine.objects.count() == expected


@pytest.mark.celery_worker
def test_a_run_through_the_worker_pays_everyone_once(celery_worker, make_elder):
    expected = make_population(make_elder)
    run = wait_for(queue_run())
    assert run.status == RunStatus.DONE, run.error
    assert run.chunks_done == run.chunks_total >= 2
    assert PaymentLine.objects.count() == expected
    assert_no_duplicates()


@pytest.mark.celery_worker
def test_a_run_whose_worker_died_halfway_is_completed_by_rerunning(celery_worker, make_elder):
    expected = make_population(make_elder)
    # The first run is planned and only some of its chunks are written: its worker "died".
    interrupted = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, chunk_size=5
    )
    chunk_ids = prepare_run(run_id=interrupted.pk)
    process_chunk(chunk_id=chunk_ids[0])
    partial = PaymentLine.objects.count()
    assert 0 < partial < expected
    interrupted.refresh_from_db()
    assert interrupted.status == RunStatus.RUNNING
    assert interrupted.chunks.filter(status=ChunkStatus.PENDING).exists()

    rerun = wait_for(queue_run())
    assert rerun.status == RunStatus.DONE, rerun.error
    assert PaymentLine.objects.count() == expected
    assert_no_duplicates()
    assert rerun.batch_id == interrupted.batch_id
