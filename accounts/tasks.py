"""Celery tasks of accounts: thin (the work is in accounts.uploads and the apps' services)."""

from celery import shared_task


@shared_task(name="accounts.purge_uploads")
def purge_uploads() -> dict:
    """Hourly from beat (migration accounts 0003), and ``python manage.py purge_uploads``:
    files uploaded for a preview and kept past UPLOAD_RETENTION_HOURS are deleted, and the
    elder imports they belonged to expire (residents.import_jobs)."""
    from django.utils import timezone

    from accounts import uploads
    from residents.import_jobs import expire_import_jobs

    now = timezone.now()
    expired = expire_import_jobs(older_than=uploads.retention_cutoff(now))
    return {"uploads_deleted": uploads.purge_uploads(now=now), "imports_expired": expired}
