"""A real Celery worker killed with SIGKILL in the middle of a correction job (a rate revised
backwards, applied to the months already run): the job is done within seconds — by the broker's
redelivery when only the worker's child process dies, by the sweep and a new worker when the
whole worker dies — with exactly the lines of an uninterrupted job, none missing and none twice.

The worker pauses at a named point of a chunk (ALLOWANCE_RUN_PAUSE_AT, read by the test settings
only) and writes its pid; the test then kills it. Which point and which chunk is drawn at random;
the seed is in every failure message (set KILL_SEED to replay one)."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from django.conf import settings
from django.db.models import Count

from subsidies.choices import ChunkStatus, LineKind, RunHealth, RunStatus
from subsidies.models import CorrectionChunk, CorrectionJob, PaymentLine
from subsidies.run.correction_jobs import sweep_correction_jobs
from subsidies.selectors import run_health
from tests.subsidies.test_correction_jobs import (
    line_keys,
    lines_after_an_uninterrupted_job,
    raise_longevity,
    run_and_approve,
    xihu_population,
)
from tests.subsidies.test_worker_kills import (  # noqa: F401  (workers: a fixture)
    _done_within,
    _paused_pid,
    workers,
)
from tests.subsidies.test_worker_recovery import _staff

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker]

CHUNKS = 15  # ten elders in ranges of two ids, three months
POINTS = ["chunk_claimed", "chunk_written", "chunk_committed"]
BOUND = 60  # seconds for the job to be done after the kill
SEED = int(os.environ.get("KILL_SEED", time.time_ns() % 10**9))


@pytest.fixture
def paid_to_may(make_elder, workers, settings, django_capture_on_commit_callbacks):  # noqa: F811
    """Xihu's runs of February to May, to April approved, committed; the lines an
    uninterrupted job leaves once the 100+ amount is raised from March."""
    settings.CORRECTION_CHUNK_SIZE = 2
    xihu_population(make_elder)
    run_and_approve(_staff("finance-kills", "finance", "330106"))
    return lines_after_an_uninterrupted_job(raise_longevity, django_capture_on_commit_callbacks)


def _assert_corrected_exactly_once(job: CorrectionJob, expected, context: str) -> None:
    assert job.status == RunStatus.DONE, f"{context}: {job.status} {job.error}"
    assert run_health(job)[0] == RunHealth.DONE, context
    assert job.chunks_done == job.chunks_total == CHUNKS, context
    assert not CorrectionChunk.objects.filter(job=job).exclude(status=ChunkStatus.DONE).exists()
    assert line_keys() == expected, context  # none missing, none twice
    twice = (
        PaymentLine.objects.filter(kind=LineKind.CORRECTION)
        .values("corrects", "batch")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not twice.exists(), context
    assert (job.report["corrections"], job.report["recomputed"]) == (10, 5), context


def _revise() -> int:
    """The raise, committed: its job is queued for the worker."""
    return raise_longevity().follow_up["correction_job"]


def test_a_worker_child_killed_at_a_random_point_of_a_chunk_is_redelivered_and_loses_nothing(
    paid_to_may,
    workers,  # noqa: F811
    tmp_path,
):
    expected = paid_to_may
    draw = random.Random(SEED)
    point, passage = draw.choice(POINTS), draw.randint(1, CHUNKS)
    context = f"killed at {point}:{passage} (KILL_SEED={SEED})"
    pause = tmp_path / "pause"
    workers(ALLOWANCE_RUN_PAUSE_AT=f"{point}:{passage}", ALLOWANCE_RUN_PAUSE_FILE=str(pause))
    job_id = _revise()
    os.kill(_paused_pid(pause, point), signal.SIGKILL)  # the child; its parent lives on
    job = _done_within(
        job_id, BOUND, model=CorrectionJob
    )  # reject_on_worker_lost: the broker gives the task back
    _assert_corrected_exactly_once(job, expected, f"{context}\n{workers.log.read_text()[-2000:]}")
    if point != "chunk_committed":  # the killed attempt and the one that did it
        assert CorrectionChunk.objects.filter(job=job, attempts=2).count() == 1, context


def test_a_whole_worker_killed_mid_chunk_is_brought_back_by_the_sweep_and_a_new_worker(
    paid_to_may,
    workers,  # noqa: F811
    tmp_path,
):
    """No process left to give the task back: the chunk's heartbeat stops, the job shows as
    stalled, the sweep queues the chunk again for the next worker."""
    expected = paid_to_may
    passage = random.Random(SEED).randint(1, CHUNKS)
    context = f"whole worker killed at chunk_written:{passage} (KILL_SEED={SEED})"
    pause = tmp_path / "pause"
    first = workers(
        ALLOWANCE_RUN_PAUSE_AT=f"chunk_written:{passage}", ALLOWANCE_RUN_PAUSE_FILE=str(pause)
    )
    job_id = _revise()
    _paused_pid(pause, "chunk_written")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "ALLOWANCE_RUN_STALL_SECONDS", 3)
        patch.setattr(settings, "BROKER_VISIBILITY_TIMEOUT", 3)
        # Alive and paused, the worker still beats: the sweep leaves its chunk alone.
        held = CorrectionChunk.objects.get(job_id=job_id, status=ChunkStatus.RUNNING)
        time.sleep(1.2)
        held.refresh_from_db()
        assert held.heartbeat_at > held.claimed_at, context
        sweep_correction_jobs()  # may queue again chunks queued over 3 s ago, never this one
        held.refresh_from_db()
        assert (held.status, held.attempts) == (ChunkStatus.RUNNING, 1), context
        first.kill()
        time.sleep(3.5)  # the heartbeat is now older than the stall bound
        job = CorrectionJob.objects.get(pk=job_id)
        assert run_health(job)[0] == RunHealth.STALLED, context
        assert job.status == RunStatus.RUNNING  # as last recorded; the health says the truth
        workers()  # a new worker, without a pause
        job = _done_within(job_id, BOUND, sweep=sweep_correction_jobs, model=CorrectionJob)
    _assert_corrected_exactly_once(job, expected, f"{context}\n{workers.log.read_text()[-2000:]}")
    assert CorrectionChunk.objects.get(pk=held.pk).attempts >= 2, context
