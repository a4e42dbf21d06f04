"""A run never sticks: finishing is idempotent and follows the chunk count, a redelivered chunk
finishes its run, the sweep queues again the chunks of workers that died (or fails the run after
too many attempts, saying why), resume is the admin's way to do the same, and what the admin
shows is the run's real state. Without a worker (Celery in-process); the same on a real worker
killed with SIGKILL is in test_worker_kills.py."""

from __future__ import annotations

import datetime
import importlib
import time
from collections import Counter
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.services import assign_role
from regions.models import Region
from subsidies import tasks
from subsidies.batches import approve_batch
from subsidies.choices import BatchState, ChunkStatus, RunHealth, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentLine
from subsidies.run import chunks
from subsidies.run.chunks import process_chunk, release_chunk
from subsidies.run.finishing import finish_run, resume_run, sweep_allowance_runs
from subsidies.run.planning import prepare_run, request_allowance_run
from subsidies.selectors import run_health
from tests.subsidies.test_worker import make_population

MAY = datetime.date(2024, 5, 1)
LONG_AGO = datetime.timedelta(hours=2)


# --- helpers shared with test_worker_kills.py --------------------------------------------------


def line_keys() -> Counter:
    """Every payment line as what it pays (scheme, month, elder, amount, kind), counted: equal
    Counters mean no line missing and none twice."""
    return Counter(
        PaymentLine.objects.values_list("scheme__code", "period", "elder_id", "amount", "kind")
    )


def lines_of_a_sync_run(region_code: str = "330106", chunk_size: int = 5) -> Counter:
    """The lines an in-process run writes for the same data, rolled back afterwards (nothing of
    it is committed, so a worker never sees it)."""
    with transaction.atomic():
        request_allowance_run(
            region=Region.objects.get(code=region_code),
            period=MAY,
            sync=True,
            chunk_size=chunk_size,
        )
        expected = line_keys()
        transaction.set_rollback(True)
    return expected


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def eager():
    """Celery in-process also on the PostgreSQL leg, where REDIS_URL is set."""
    from config.celery_app import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def planned(make_elder):
    """A run of 12 elders planned in chunks of 5 (3 chunks), nothing written yet, and the lines
    an uninterrupted run writes."""
    make_population(make_elder)
    expected = lines_of_a_sync_run()
    run = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, chunk_size=5
    )
    chunk_ids = prepare_run(run_id=run.pk)
    assert len(chunk_ids) == 3
    return run, chunk_ids, expected


def _died_while_holding(
    chunk_id: int, *, attempts: int = 1, ago=LONG_AGO, model=AllowanceRunChunk
) -> None:
    """The state a worker killed in the middle of a chunk leaves: claimed, no longer beating
    (a run's chunk, or a ``model`` of the same claims: a correction job's)."""
    then = timezone.now() - ago
    model.objects.filter(pk=chunk_id).update(
        status=ChunkStatus.RUNNING,
        claimed_at=then,
        heartbeat_at=then,
        attempts=attempts,
        worker="host:4242",
    )


def _staff(username: str, role: str, region_code: str) -> User:
    group, _ = Group.objects.get_or_create(name=f"subsidies-{role}")
    group.permissions.set(Permission.objects.filter(content_type__app_label="subsidies"))
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    assign_role(user=user, role=role, region=Region.objects.get(code=region_code))
    return user


# --- finishing -----------------------------------------------------------------------------------


def test_a_chunk_redelivered_after_its_commit_finishes_the_run(planned):
    """The issue's stuck run: the last chunk committed, its worker died before finishing the run,
    and the redelivered chunk was skipped as done. Now the redelivery finishes it."""
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids:
        process_chunk(chunk_id=chunk_id)  # committed; nobody called finish_run
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.chunks_done == run.chunks_total == 3
    tasks.process_allowance_chunk.apply((chunk_ids[-1],))  # the broker's redelivery
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert run.lines_total == sum(expected.values())
    assert line_keys() == expected


def test_any_chunk_that_sees_the_count_complete_finishes_the_run_not_only_the_last(planned):
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids:
        process_chunk(chunk_id=chunk_id)
    tasks.process_allowance_chunk.apply((chunk_ids[0],))  # an earlier chunk, redelivered late
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and line_keys() == expected


def test_finishing_twice_changes_nothing(planned):
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids:
        process_chunk(chunk_id=chunk_id)
    first = finish_run(run_id=run.pk)
    again = finish_run(run_id=run.pk)
    assert first.status == again.status == RunStatus.DONE
    assert (again.finished_at, again.report, again.lines_total) == (
        first.finished_at,
        first.report,
        first.lines_total,
    )


def test_a_run_with_chunks_left_is_not_finished(planned):
    run, chunk_ids, _ = planned
    process_chunk(chunk_id=chunk_ids[0])
    assert finish_run(run_id=run.pk).status == RunStatus.RUNNING


def test_a_chunk_processed_twice_counts_once_and_writes_nothing_twice(planned):
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids + chunk_ids:
        process_chunk(chunk_id=chunk_id)
    run.refresh_from_db()
    assert run.chunks_done == 3 and run.elders_seen == 12
    assert line_keys() == expected


# --- the sweep -------------------------------------------------------------------------------------


def test_the_sweep_queues_again_a_chunk_whose_worker_stopped_beating(
    planned, eager, django_capture_on_commit_callbacks
):
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids[1:]:
        process_chunk(chunk_id=chunk_id)
    _died_while_holding(chunk_ids[0])
    assert run_health(AllowanceRun.objects.get(pk=run.pk))[0] == RunHealth.STALLED
    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_allowance_runs()
    assert counts["requeued"] == 1 and counts["failed"] == 0
    run.refresh_from_db()
    assert run.status == RunStatus.DONE  # the re-queued chunk ran, and finished the run
    chunk = AllowanceRunChunk.objects.get(pk=chunk_ids[0])
    assert chunk.status == ChunkStatus.DONE and chunk.attempts == 2
    assert line_keys() == expected


def test_the_sweep_leaves_a_chunk_whose_worker_still_beats(planned):
    run, chunk_ids, _ = planned
    _died_while_holding(chunk_ids[0], ago=datetime.timedelta(seconds=5))
    with mock.patch("subsidies.tasks.process_allowance_chunk.apply_async") as queued:
        counts = sweep_allowance_runs()
    assert counts == {"requeued": 0, "failed": 0, "finished": 0, "prepared": 0}
    queued.assert_not_called()
    assert AllowanceRunChunk.objects.get(pk=chunk_ids[0]).status == ChunkStatus.RUNNING
    assert run_health(AllowanceRun.objects.get(pk=run.pk))[0] == RunHealth.RUNNING


def test_the_sweep_finishes_a_run_whose_chunks_are_all_done(planned):
    run, chunk_ids, expected = planned
    for chunk_id in chunk_ids:
        process_chunk(chunk_id=chunk_id)
    assert sweep_allowance_runs()["finished"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and line_keys() == expected
    assert sweep_allowance_runs()["finished"] == 0  # idempotent


def test_the_sweep_fails_the_run_after_too_many_attempts_saying_why(planned, settings):
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 3
    run, chunk_ids, _ = planned
    _died_while_holding(chunk_ids[1], attempts=3)
    with mock.patch("subsidies.tasks.process_allowance_chunk.apply_async") as queued:
        assert sweep_allowance_runs()["failed"] == 1
    queued.assert_not_called()
    run.refresh_from_db()
    chunk = AllowanceRunChunk.objects.get(pk=chunk_ids[1])
    assert run.status == RunStatus.FAILED
    assert f"分块 {chunk.id_from}–{chunk.id_to} 已尝试 3 次仍未完成" in run.error
    assert "host:4242" in run.error and "续跑" in run.error
    assert run_health(run) == (RunHealth.FAILED, run.error)


def test_a_chunk_whose_message_was_lost_is_queued_again(
    planned, settings, django_capture_on_commit_callbacks
):
    """Queued, never claimed, and older than the broker's visibility timeout: had a worker
    taken its message and died, the broker would have given it back by now."""
    run, chunk_ids, _ = planned
    settings.BROKER_VISIBILITY_TIMEOUT = 600
    now = timezone.now()
    lost, waiting = now - datetime.timedelta(minutes=11), now - datetime.timedelta(minutes=9)
    AllowanceRunChunk.objects.filter(pk=chunk_ids[2]).update(queued_at=lost)
    AllowanceRunChunk.objects.filter(pk__in=chunk_ids[:2]).update(queued_at=waiting)
    assert run_health(AllowanceRun.objects.get(pk=run.pk))[0] == RunHealth.STALLED
    with (
        mock.patch("subsidies.tasks.process_allowance_chunk.apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_allowance_runs()["requeued"] == 1
    queued.assert_called_once_with((chunk_ids[2],))
    assert AllowanceRunChunk.objects.get(pk=chunk_ids[2]).queued_at >= now
    assert run_health(AllowanceRun.objects.get(pk=run.pk))[0] == RunHealth.RUNNING


def test_a_run_whose_prepare_message_was_lost_is_queued_again(make_elder, settings):
    make_population(make_elder)
    run = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"),
        period=MAY,
        queued_at=timezone.now() - datetime.timedelta(minutes=30),
    )
    assert run_health(run)[0] == RunHealth.STALLED
    assert sweep_allowance_runs()["prepared"] == 1
    run.refresh_from_db()
    assert run_health(run)[0] == RunHealth.QUEUED  # queued again just now


def test_a_redelivered_chunk_at_its_attempt_limit_fails_the_run_instead_of_looping(
    planned, settings
):
    """A chunk that kills every worker that takes it: the broker gives it back each time
    (reject_on_worker_lost); the claim refuses the last attempt and fails the run."""
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 2
    run, chunk_ids, _ = planned
    _died_while_holding(chunk_ids[0], attempts=2, ago=datetime.timedelta(seconds=1))
    assert process_chunk(chunk_id=chunk_ids[0]) is False
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "已尝试 2 次" in run.error
    chunk = AllowanceRunChunk.objects.get(pk=chunk_ids[0])
    assert chunk.attempts == 2  # not claimed a third time
    assert not PaymentLine.objects.filter(
        elder_id__gte=chunk.id_from, elder_id__lte=chunk.id_to
    ).exists()


def test_a_chunk_that_raises_gives_its_claim_back_and_fails_the_run_at_the_last_attempt(
    planned, settings
):
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 2
    run, chunk_ids, _ = planned
    _died_while_holding(chunk_ids[0], attempts=1, ago=datetime.timedelta(seconds=1))
    assert release_chunk(chunk_id=chunk_ids[0], error="OperationalError('gone')") is True
    chunk = AllowanceRunChunk.objects.get(pk=chunk_ids[0])
    assert chunk.status == ChunkStatus.PENDING and "gone" in chunk.error
    _died_while_holding(chunk_ids[0], attempts=2, ago=datetime.timedelta(seconds=1))
    assert release_chunk(chunk_id=chunk_ids[0], error="OperationalError('gone')") is False
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "最近错误：OperationalError('gone')" in run.error


def test_a_chunk_task_that_raises_is_retried_then_fails_the_run(planned, eager, settings):
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 3
    run, chunk_ids, _ = planned
    boom = RuntimeError("disk full")
    with mock.patch("subsidies.run.chunks.write_chunk", side_effect=boom) as write:
        # Each delivery by hand: in-process, a retry is raised, not queued.
        for raised in (Retry, Retry, RuntimeError):
            with pytest.raises(raised):
                tasks.process_allowance_chunk.apply((chunk_ids[0],), throw=True)
    assert write.call_count == 3  # each retry claimed the chunk once
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "disk full" in run.error


def test_a_heartbeat_is_stamped_while_a_chunk_is_written(transactional_db, make_elder, settings):
    """The worker's heartbeat thread, on its own connection, outside the chunk's transaction."""
    settings.ALLOWANCE_RUN_HEARTBEAT_SECONDS = 0.05
    make_population(make_elder)
    run = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, chunk_size=50
    )
    (chunk_id,) = prepare_run(run_id=run.pk)
    write = chunks.write_chunk
    seen = {}

    def slow_write(chunk_id):
        claimed = AllowanceRunChunk.objects.get(pk=chunk_id)
        time.sleep(0.5)
        seen["beat"] = AllowanceRunChunk.objects.get(pk=chunk_id).heartbeat_at
        seen["claimed"] = claimed.claimed_at
        write(chunk_id)

    with mock.patch("subsidies.run.chunks.write_chunk", slow_write):
        assert process_chunk(chunk_id=chunk_id) is True
    assert seen["beat"] > seen["claimed"]


# --- resume --------------------------------------------------------------------------------------


@pytest.fixture
def failed_run(planned, settings):
    settings.ALLOWANCE_RUN_MAX_ATTEMPTS = 1
    run, chunk_ids, expected = planned
    process_chunk(chunk_id=chunk_ids[0])
    _died_while_holding(chunk_ids[1], attempts=1)
    sweep_allowance_runs()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    return run, expected


@pytest.mark.parametrize("role", ["finance", "bureau"])
def test_finance_or_the_bureau_of_the_region_resumes_a_failed_run(
    failed_run, role, eager, django_capture_on_commit_callbacks
):
    run, expected = failed_run
    user = _staff("resumer", role, "330106")
    with django_capture_on_commit_callbacks(execute=True):
        assert resume_run(run=run, by=user) == 2
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.error == ""
    assert run.report["resumed"][0]["by"] == "resumer"
    assert "已尝试 1 次" in run.report["resumed"][0]["error"]
    assert line_keys() == expected
    with pytest.raises(ValidationError, match="已完成，无需续跑"):
        resume_run(run=run, by=user)


def test_a_run_that_failed_while_being_planned_is_planned_again_on_resume(
    make_elder, admin_user, eager, django_capture_on_commit_callbacks
):
    make_population(make_elder)
    expected = lines_of_a_sync_run()
    run = AllowanceRun.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, chunk_size=5
    )
    unreadable = OSError("rulebook unreadable")
    with (
        mock.patch("subsidies.run.planning.plan_period", side_effect=unreadable),
        pytest.raises(OSError),
    ):
        tasks.prepare_allowance_run.apply((run.pk,), throw=True)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "rulebook unreadable" in run.error
    assert run.batch_id is None and not run.chunks.exists()  # nothing of it was written
    with django_capture_on_commit_callbacks(execute=True):
        assert resume_run(run=run, by=admin_user) == 0
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.chunks_done == run.chunks_total == 3
    assert line_keys() == expected


@pytest.mark.parametrize(
    ("role", "region"),
    [("finance", "330102"), ("auditor", "330106"), ("street_worker", "330106")],
)
def test_nobody_else_resumes_a_run(failed_run, role, region):
    run, _ = failed_run
    with pytest.raises(ValidationError, match="无权续跑"):
        resume_run(run=run, by=_staff("outsider", role, region))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


def test_resuming_a_run_that_is_running_well_is_refused_and_twice_queues_nothing_twice(
    planned, admin_user
):
    run, chunk_ids, _ = planned
    AllowanceRunChunk.objects.filter(pk__in=chunk_ids).update(queued_at=timezone.now())
    with pytest.raises(ValidationError, match="正在正常运行"):
        resume_run(run=run, by=admin_user)
    _died_while_holding(chunk_ids[0])
    with mock.patch("subsidies.tasks.process_allowance_chunk.apply_async"):
        assert resume_run(run=run, by=admin_user) == 1
        with pytest.raises(ValidationError, match="正在正常运行"):
            resume_run(run=run, by=admin_user)


def test_a_batch_whose_last_run_failed_cannot_be_approved_until_a_run_completes(
    failed_run, eager, django_capture_on_commit_callbacks
):
    run, _ = failed_run
    cashier = _staff("cashier", "finance", "330106")
    with pytest.raises(ValidationError, match=f"#{run.pk}）失败"):
        approve_batch(batch=run.batch, by=cashier)
    with django_capture_on_commit_callbacks(execute=True):
        resume_run(run=run, by=cashier)
    assert approve_batch(batch=run.batch, by=cashier).state == BatchState.APPROVED


# --- what the admin shows --------------------------------------------------------------------------


def test_the_admin_shows_a_stalled_run_its_chunks_and_heartbeat_and_resumes_it(
    planned, client, eager, django_capture_on_commit_callbacks
):
    run, chunk_ids, expected = planned
    process_chunk(chunk_id=chunk_ids[0])
    process_chunk(chunk_id=chunk_ids[2])
    _died_while_holding(chunk_ids[1])
    client.force_login(_staff("cashier", "finance", "330106"))
    url = reverse("admin:subsidies_allowancerun_changelist")
    page = client.get(url).content.decode()
    assert str(RunHealth.STALLED.label) in page and "2/3（67%）" in page and "最近心跳" in page
    assert "1 个分块的处理进程已中断" in page
    assert 'http-equiv="refresh"' not in page  # nothing moves until it is resumed
    assert 'value="resume"' in page
    assert "1 个运行中（1 个停滞）" in client.get(reverse("admin:index")).content.decode()
    detail = client.get(reverse("admin:subsidies_allowancerun_change", args=[run.pk]))
    assert "host:4242" in detail.content.decode()  # the chunk inline: who held it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "resume", "_selected_action": [run.pk]}, follow=True)
    assert f"运行 #{run.pk} 已续跑：重新排队 1 个分块" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and line_keys() == expected
    page = client.get(url).content.decode()
    assert str(RunHealth.DONE.label) in page and "3/3（100%）" in page


def test_the_admin_shows_a_failed_run_with_its_reason_and_refuses_others_a_resume(
    failed_run, client
):
    run, _ = failed_run
    client.force_login(_staff("other", "finance", "330102"))
    url = reverse("admin:subsidies_allowancerun_changelist")
    assert run.pk not in [r.pk for r in client.get(url).context["cl"].result_list]
    client.force_login(_staff("cashier", "finance", "330106"))
    page = client.get(url).content.decode()
    assert str(RunHealth.FAILED.label) in page and "已尝试 1 次仍未完成" in page
    auditor = _staff("auditor", "auditor", "330106")
    client.force_login(auditor)
    assert 'value="resume"' not in client.get(url).content.decode()


def test_health_of_a_run_that_is_moving(planned):
    run, chunk_ids, _ = planned
    run = AllowanceRun.objects.get(pk=run.pk)
    assert run_health(run) == (RunHealth.RUNNING, "")
    for chunk_id in chunk_ids:
        process_chunk(chunk_id=chunk_id)
    # All chunks just committed: the finishing worker is still at it.
    assert run_health(AllowanceRun.objects.get(pk=run.pk))[0] == RunHealth.RUNNING
    later = timezone.now() + LONG_AGO
    health, detail = run_health(AllowanceRun.objects.get(pk=run.pk), later)
    assert health == RunHealth.STALLED and "未收尾" in detail
    finish_run(run_id=run.pk)
    assert run_health(AllowanceRun.objects.get(pk=run.pk), later) == (RunHealth.DONE, "")


# --- beat -------------------------------------------------------------------------------------------


def test_the_sweep_is_scheduled_every_minute_once(db):
    migration = importlib.import_module("subsidies.migrations.0004_run_heartbeat_and_sweep")
    PeriodicTask.objects.filter(name=migration.SWEEP_NAME).delete()
    migration.schedule_sweep(apps, None)
    migration.schedule_sweep(apps, None)  # migrating again creates nothing
    task = PeriodicTask.objects.get(task="subsidies.sweep_allowance_runs")
    assert task.enabled and (task.interval.every, task.interval.period) == (1, "minutes")
    assert tasks.sweep_allowance_runs.name == task.task
