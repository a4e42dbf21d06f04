"""The admin's elder import as a job: the upload is held privately (never under MEDIA_ROOT),
checked and written by Celery tasks with their progress on the job's page, in chunks that a
redelivered task completes after a worker died; files over the size limit are refused with a
message; bad files fail the job with a message naming the row, never a 500; what is never
confirmed expires with its file."""

import datetime
import io
import time

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.choices import AuditAction
from accounts.models import AuditEntry, HeldUpload
from residents import import_jobs, importing
from residents.choices import ImportJobState
from residents.id_numbers import with_check_character
from residents.importing import COLUMNS
from residents.models import Elder, ImportJob

IMPORT = "/admin/residents/elder/import/"


def number(serial: int) -> str:
    born = datetime.date(1948, 1, 1) + datetime.timedelta(days=serial // 1000)
    return with_check_character(f"330106{born:%Y%m%d}{serial % 1000:03d}")


def roll(*names, bad=0, encoding="utf-8") -> bytes:
    lines = [",".join(COLUMNS)]
    lines += [f"{number(n)},{name},330106,,,,," for n, name in enumerate(names, start=1)]
    lines += [f"bad{n},坏行{n},330106,,,,," for n in range(bad)]
    return ("\n".join(lines) + "\n").encode(encoding)


@pytest.fixture
def importer(client, zhejiang, settings, tmp_path, tasks_in_process):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(User.objects.create_superuser("root", "", "x"))
    return client


def upload(client, content, capture, name="elders.csv"):
    """POST the file; the upload's tasks run as the request's transaction commits."""
    with capture(execute=True):
        response = client.post(IMPORT, {"file": SimpleUploadedFile(name, content, "text/csv")})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportJob.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[1])


def test_the_upload_is_checked_held_privately_and_written_on_confirm(
    importer, django_capture_on_commit_callbacks, settings
):
    job = upload(importer, roll("张三", "李四", bad=1), django_capture_on_commit_callbacks)
    assert job.state == ImportJobState.CHECKED and job.rows_total == 3
    assert job.preview == {"create": 2, "update": 0, "unchanged": 0, "rejected": 1}
    assert not Elder.objects.exists()
    held = HeldUpload.objects.get(pk=job.upload_id)
    assert held.owner.username == "root" and bytes(held.content).startswith(b"id_number")
    assert not (settings.MEDIA_ROOT).exists()  # nothing under a served path

    page = importer.get(f"{IMPORT}{job.pk}/").content.decode()
    assert "created 2, updated 0, rejected 1" in page and "确认导入" in page
    assert 'http-equiv="refresh"' not in page
    errors = importer.get(f"{IMPORT}{job.pk}/errors.csv")
    assert errors["Content-Type"].startswith("text/csv")
    assert errors.content.decode("utf-8-sig").splitlines()[0] == "row,field,message"

    with django_capture_on_commit_callbacks(execute=True):
        importer.post(f"{IMPORT}{job.pk}/", {"confirm": "1"})
    job.refresh_from_db()
    assert job.state == ImportJobState.DONE and job.result["create"] == 2
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert set(Elder.objects.values_list("name", flat=True)) == {"张三", "李四"}
    assert not HeldUpload.objects.exists()  # deleted once used
    audit = AuditEntry.objects.get(action=AuditAction.IMPORT)
    assert audit.details["create"] == 2 and audit.object_id == str(job.pk)
    assert "已新增" in importer.get(f"{IMPORT}{job.pk}/").content.decode()


def test_a_job_still_working_shows_its_progress_and_refreshes(importer):
    user = User.objects.get(username="root")
    job = import_jobs.start_import_job(content=roll("张三"), file_name="a.csv", by=user)
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJobState.APPLYING, progress_total=4000, progress_done=1000
    )
    page = importer.get(f"{IMPORT}{job.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page and "导入中" in page and "1000/4000（25%）" in page
    assert "确认导入" not in page


def test_writing_goes_in_chunks_with_the_progress_recorded_after_each(
    importer, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
    seen = []
    apply = importing.apply_import

    def spy(plan, **kwargs):
        seen.append(ImportJob.objects.values_list("progress_done", flat=True).get())
        return apply(plan, **kwargs)

    monkeypatch.setattr(importing, "apply_import", spy)
    job = upload(importer, roll("甲", "乙", "丙", "丁", "戊"), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        importer.post(f"{IMPORT}{job.pk}/", {"confirm": "1"})
    assert seen == [0, 2, 4]
    job.refresh_from_db()
    assert job.state == ImportJobState.DONE and job.progress_done == job.progress_total == 5


def test_a_worker_lost_midway_is_completed_by_the_redelivered_task(
    importer, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
    job = upload(importer, roll("甲", "乙", "丙", "丁", "戊"), django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJobState.CONFIRMED)
    apply, calls = importing.apply_import, []

    def dies_on_the_second_chunk(plan, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return apply(plan, **kwargs)

    monkeypatch.setattr(importing, "apply_import", dies_on_the_second_chunk)
    with pytest.raises(SystemExit):
        import_jobs.apply_import_job(job_id=job.pk)
    assert Elder.objects.count() == 2
    job.refresh_from_db()
    assert job.state == ImportJobState.APPLYING and job.progress_done == 2

    monkeypatch.setattr(importing, "apply_import", apply)
    import_jobs.apply_import_job(job_id=job.pk)  # the message delivered again
    job.refresh_from_db()
    assert job.state == ImportJobState.DONE and job.result["create"] == 3
    assert sorted(Elder.objects.values_list("name", flat=True)) == sorted("甲乙丙丁戊")
    import_jobs.apply_import_job(job_id=job.pk)  # once more: nothing left to do
    assert Elder.objects.count() == 5


def test_an_upload_over_the_limit_is_refused_with_a_message(importer, settings):
    settings.UPLOAD_MAX_MB = 1
    big = roll("张三") + b"#" * (1024 * 1024)
    page = importer.post(IMPORT, {"file": SimpleUploadedFile("big.csv", big, "text/csv")})
    assert page.status_code == 200
    assert "文件过大（1.0 MB），上限为 1 MB" in page.content.decode()
    assert not ImportJob.objects.exists() and not HeldUpload.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (roll("张三", "李四") + "王五,".encode("gbk"), "第4行不是 UTF-8 编码"),
        (roll("张三") + b'x,"' + b"y" * 140_000, "第3行起有字段超过 128 KiB"),
        (b"name\n1\n", "第1行表头缺少列"),
    ],
)
def test_a_file_that_cannot_be_read_fails_the_job_naming_the_row(
    importer, django_capture_on_commit_callbacks, content, message
):
    job = upload(importer, content, django_capture_on_commit_callbacks)
    assert job.state == ImportJobState.FAILED and message in job.error
    assert job.upload_id is None and not HeldUpload.objects.exists()
    page = importer.get(f"{IMPORT}{job.pk}/")
    assert page.status_code == 200 and message in page.content.decode()


def test_only_the_importer_sees_and_confirms_the_job(
    importer, django_capture_on_commit_callbacks, client
):
    job = upload(importer, roll("张三"), django_capture_on_commit_callbacks)
    client.force_login(User.objects.create_superuser("other", "", "x"))
    assert client.get(f"{IMPORT}{job.pk}/").status_code == 404
    assert client.post(f"{IMPORT}{job.pk}/", {"confirm": "1"}).status_code == 404
    assert client.get(f"{IMPORT}{job.pk}/errors.csv").status_code == 404
    job.refresh_from_db()
    assert job.state == ImportJobState.CHECKED


def test_cancelling_deletes_the_file(importer, django_capture_on_commit_callbacks):
    job = upload(importer, roll("张三"), django_capture_on_commit_callbacks)
    importer.post(f"{IMPORT}{job.pk}/", {"cancel": "1"})
    job.refresh_from_db()
    assert job.state == ImportJobState.CANCELLED and not HeldUpload.objects.exists()
    assert not Elder.objects.exists()


def test_what_is_never_confirmed_expires_with_its_file(
    importer, django_capture_on_commit_callbacks, settings
):
    old = upload(importer, roll("张三", bad=1), django_capture_on_commit_callbacks)
    fresh = upload(importer, roll("李四", bad=1), django_capture_on_commit_callbacks)
    long_ago = timezone.now() - datetime.timedelta(hours=settings.UPLOAD_RETENTION_HOURS + 1)
    ImportJob.objects.filter(pk=old.pk).update(created_at=long_ago)
    HeldUpload.objects.filter(pk=old.upload_id).update(created_at=long_ago)

    out = io.StringIO()
    call_command("purge_uploads", stdout=out)
    assert "deleted 1 upload(s)" in out.getvalue() and "1 import(s) expired" in out.getvalue()
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.state == ImportJobState.EXPIRED and old.upload_id is None and old.errors == []
    assert old.preview["rejected"] == 1  # the counts stay
    assert fresh.state == ImportJobState.CHECKED and fresh.upload_id and fresh.errors

    confirm = importer.post(f"{IMPORT}{old.pk}/", {"confirm": "1"}, follow=True)
    assert "不能确认" in confirm.content.decode()
    assert not Elder.objects.exists()


def test_the_purge_is_scheduled_hourly_for_beat(zhejiang):
    task = PeriodicTask.objects.get(task="accounts.purge_uploads")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "hours", True)


@pytest.mark.celery_worker
def test_a_large_roll_is_checked_and_written_by_the_worker(celery_worker, zhejiang):
    user = User.objects.create_superuser("root", "", "x")
    names = [f"老人{n}" for n in range(1, 2501)]
    content = roll(*names, bad=25)
    job = import_jobs.start_import_job(content=content, file_name="big.csv", by=user)
    job = wait_for(job.pk, ImportJobState.CHECKED)
    assert job.preview == {"create": 2500, "update": 0, "unchanged": 0, "rejected": 25}
    import_jobs.confirm_import_job(job=job, by=user)
    job = wait_for(job.pk, ImportJobState.DONE)
    assert job.progress_done == job.progress_total == 2500
    assert Elder.objects.count() == 2500 and not HeldUpload.objects.exists()
    assert connection.vendor == "postgresql"


def wait_for(job_id: int, state: str, timeout: float = 120) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.state == state:
            return job
        assert job.state != ImportJobState.FAILED, job.error
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} is {ImportJob.objects.get(pk=job_id).state}")


def test_a_job_whose_task_never_came_is_queued_again_by_the_sweep(
    importer, django_capture_on_commit_callbacks, settings
):
    """The process that committed the upload died before sending the check: nothing else
    would ever pick the job up. The sweep sends it again, and only once per stall period."""
    with django_capture_on_commit_callbacks(execute=False):  # the message is lost
        response = importer.post(
            IMPORT, {"file": SimpleUploadedFile("elders.csv", roll("张三"), "text/csv")}
        )
    job = ImportJob.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[1])
    assert job.state == ImportJobState.QUEUED
    later = timezone.now() + datetime.timedelta(seconds=settings.IMPORT_JOB_STALL_SECONDS + 1)
    assert import_jobs.requeue_stalled_import_jobs(now=timezone.now()) == 0  # not stalled yet
    assert import_jobs.requeue_stalled_import_jobs(now=later) == 1
    job.refresh_from_db()
    assert job.state == ImportJobState.CHECKED and job.preview["create"] == 1
    assert import_jobs.requeue_stalled_import_jobs(now=later) == 0  # checked: nothing waits


def test_the_import_sweep_is_scheduled_every_minute_for_beat(zhejiang):
    task = PeriodicTask.objects.get(task="residents.requeue_stalled_import_jobs")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)
