"""A real Celery worker killed with SIGKILL in the middle of a run, at named points of a chunk
(claimed, lines written but not committed, committed) and between the last chunk's commit and
the run's finish: the run is done within seconds — by the broker's redelivery when only the
worker's child process dies, by the sweep and a new worker when the whole worker dies — with
exactly the lines of an uninterrupted run, none missing and none twice.

The worker pauses at the point (ALLOWANCE_RUN_PAUSE_AT, read by the test settings only) and
writes its pid; the test then kills it. Which point and which chunk is drawn at random; the seed
is in every failure message (set KILL_SEED to replay one)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from regions.models import Region
from subsidies.choices import ChunkStatus, RunHealth, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk
from subsidies.run.finishing import sweep_allowance_runs
from subsidies.run.planning import request_allowance_run
from subsidies.selectors import run_health
from tests.subsidies.test_worker import make_population
from tests.subsidies.test_worker_recovery import MAY, line_keys, lines_of_a_sync_run

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker]

ROOT = Path(__file__).resolve().parent.parent.parent
CHUNK_SIZE = 2  # 12 elders: 6 chunks
CHUNK_POINTS = ["chunk_claimed", "chunk_written", "chunk_committed"]
BOUND = 45  # seconds for a run to be done after the kill
SEED = int(os.environ.get("KILL_SEED", time.time_ns() % 10**9))


class Worker:
    """`celery worker` on a queue of its own, one child process, in a process group of its own
    (so that the whole worker can be killed at once)."""

    def __init__(self, queue: str, log: Path, **environment: str):
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "ALLOWANCE_RUN_HEARTBEAT_SECONDS": "0.5",
            **environment,
        }
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=1",
                "--pool=prefork",
                "-Q",
                queue,
                "-n",
                f"{queue}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the worker and its child: no cleanup, no ack, no goodbye."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # cold shutdown: the test is over
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Start workers on a queue of this test; every task the test queues goes there."""
    from config.celery_app import app

    queue = f"kills-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    started: list[Worker] = []
    log = tmp_path / "worker.log"

    def start(**environment: str) -> Worker:
        worker = Worker(queue, log, **environment)
        started.append(worker)
        deadline = time.monotonic() + 60
        while True:  # ready when it answers a ping on the queue
            try:
                if app.send_task("config.ping", queue=queue).get(timeout=5) == "pong":
                    return worker
            except Exception:  # still booting: retry until the deadline
                if time.monotonic() > deadline or worker.process.poll() is not None:
                    raise AssertionError(f"worker did not start:\n{log.read_text()[-3000:]}")

    previous = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    start.log = log
    try:
        yield start
    finally:
        app.conf.task_default_queue, app.conf.task_always_eager = previous
        for worker in started:
            worker.stop()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)


def _paused_pid(pause_file: Path, why: str) -> int:
    deadline = time.monotonic() + 30
    marker = Path(f"{pause_file}.pid")
    while not marker.exists():
        assert time.monotonic() < deadline, f"the worker never reached {why}"
        time.sleep(0.05)
    time.sleep(0.05)  # the pid is written in one call; let it land
    return int(marker.read_text())


def _queue_run() -> int:
    run = request_allowance_run(
        region=Region.objects.get(code="330106"), period=MAY, chunk_size=CHUNK_SIZE
    )
    return run.pk


def _done_within(run_id: int, seconds: float, *, sweep=None, model=AllowanceRun):
    """The run (or the ``model`` of chunked work: a correction job) once done or failed, or as
    it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sweep is not None:
            sweep()
        run = model.objects.get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        time.sleep(0.3)
    return model.objects.get(pk=run_id)


def _assert_paid_exactly_once(run: AllowanceRun, expected, context: str) -> None:
    assert run.status == RunStatus.DONE, f"{context}: {run.status} {run.error}"
    assert run_health(run)[0] == RunHealth.DONE
    assert run.chunks_done == run.chunks_total == 6, context
    assert run.elders_seen == 12, context  # no chunk counted twice
    assert not AllowanceRunChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists()
    assert line_keys() == expected, context  # none missing, none twice
    assert run.lines_total == sum(expected.values()), context


def test_a_worker_child_killed_at_a_random_point_of_a_chunk_is_redelivered_and_loses_nothing(
    make_elder, workers, tmp_path
):
    make_population(make_elder)
    expected = lines_of_a_sync_run(chunk_size=CHUNK_SIZE)
    draw = random.Random(SEED)
    point, passage = draw.choice(CHUNK_POINTS), draw.randint(1, 6)
    context = f"killed at {point}:{passage} (KILL_SEED={SEED})"
    pause = tmp_path / "pause"
    workers(ALLOWANCE_RUN_PAUSE_AT=f"{point}:{passage}", ALLOWANCE_RUN_PAUSE_FILE=str(pause))
    run_id = _queue_run()
    os.kill(_paused_pid(pause, point), signal.SIGKILL)  # the child; its parent lives on
    run = _done_within(run_id, BOUND)  # reject_on_worker_lost: the broker gives the task back
    _assert_paid_exactly_once(run, expected, f"{context}\n{workers.log.read_text()[-2000:]}")
    if point != "chunk_committed":  # the killed attempt and the one that did it
        assert AllowanceRunChunk.objects.filter(run=run, attempts=2).count() == 1, context


def test_a_worker_child_killed_between_the_last_chunk_and_the_finish_finishes_on_redelivery(
    make_elder, workers, tmp_path
):
    """The issue's run stuck for good: the redelivered chunk, already done, finishes the run."""
    make_population(make_elder)
    expected = lines_of_a_sync_run(chunk_size=CHUNK_SIZE)
    pause = tmp_path / "pause"
    workers(ALLOWANCE_RUN_PAUSE_AT="run_complete", ALLOWANCE_RUN_PAUSE_FILE=str(pause))
    run_id = _queue_run()
    pid = _paused_pid(pause, "run_complete")
    paused = AllowanceRun.objects.get(pk=run_id)
    assert paused.status == RunStatus.RUNNING and paused.chunks_done == 6
    os.kill(pid, signal.SIGKILL)
    run = _done_within(run_id, BOUND)
    _assert_paid_exactly_once(run, expected, workers.log.read_text()[-2000:])


@pytest.mark.parametrize("point", ["chunk_written", "run_complete"])
def test_a_whole_worker_killed_is_brought_back_by_the_sweep_and_a_new_worker(
    make_elder, workers, tmp_path, point
):
    """No process left to give the task back: the chunk's heartbeat stops, the sweep queues it
    again for the next worker (or finishes the run whose chunks are all done)."""
    make_population(make_elder)
    expected = lines_of_a_sync_run(chunk_size=CHUNK_SIZE)
    passage = random.Random(SEED).randint(1, 6) if point == "chunk_written" else 1
    context = f"whole worker killed at {point}:{passage} (KILL_SEED={SEED})"
    pause = tmp_path / "pause"
    first = workers(
        ALLOWANCE_RUN_PAUSE_AT=f"{point}:{passage}", ALLOWANCE_RUN_PAUSE_FILE=str(pause)
    )
    run_id = _queue_run()
    _paused_pid(pause, point)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "ALLOWANCE_RUN_STALL_SECONDS", 3)
        patch.setattr(settings, "BROKER_VISIBILITY_TIMEOUT", 3)
        if point == "chunk_written":
            # Alive and paused, the worker still beats: the sweep leaves its chunk alone.
            held = AllowanceRunChunk.objects.get(run_id=run_id, status=ChunkStatus.RUNNING)
            time.sleep(1.2)
            held.refresh_from_db()
            assert held.heartbeat_at > held.claimed_at, context
            assert sweep_allowance_runs()["requeued"] == 0, context
        first.kill()
        assert run_health(AllowanceRun.objects.get(pk=run_id))[0] != RunHealth.DONE
        workers()  # a new worker, without a pause
        run = _done_within(run_id, BOUND, sweep=sweep_allowance_runs)
    _assert_paid_exactly_once(run, expected, f"{context}\n{workers.log.read_text()[-2000:]}")
