"""Uploaded files held between a preview and its confirmation: private, bounded, short-lived.

An elder roll or a bank return holds full ID numbers. They used to be saved under MEDIA_ROOT
(``var/media/elder_imports/``, mode 0644, a path a web server may serve) and stayed there when
the preview was never confirmed. Now the file is a ``HeldUpload`` row: in the database, read
back only by its owner for the purpose it was uploaded for, deleted once used, and deleted by
``purge_uploads`` (the management command, run hourly by beat as ``accounts.purge_uploads``)
once older than ``UPLOAD_RETENTION_HOURS``. Uploads larger than ``UPLOAD_MAX_MB`` are refused
with a message saying so (the front proxy's body limit must be above it).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import HeldUpload


def max_upload_bytes() -> int:
    return settings.UPLOAD_MAX_MB * 1024 * 1024


def check_upload_size(upload) -> None:
    """ValidationError (for a form's file field) when the file is over the limit."""
    if upload.size > max_upload_bytes():
        raise ValidationError(
            _("文件过大（%(size)s MB），上限为 %(limit)s MB：请拆分为多个文件分别上传。")
            % {"size": f"{upload.size / 1024 / 1024:.1f}", "limit": settings.UPLOAD_MAX_MB}
        )


def hold_upload(*, purpose: str, owner, file_name: str, content: bytes) -> HeldUpload:
    return HeldUpload.objects.create(
        purpose=purpose, owner=owner, file_name=file_name[:255], size=len(content), content=content
    )


def held_upload(*, pk, purpose: str, owner) -> HeldUpload | None:
    """The owner's upload for this purpose, or None (unknown, someone else's, expired)."""
    try:
        return HeldUpload.objects.filter(
            pk=pk, purpose=purpose, owner=owner, created_at__gte=retention_cutoff()
        ).first()
    except ValidationError:  # not a UUID
        return None


def release_upload(upload: HeldUpload | None) -> None:
    """Delete a held upload once it has been used (or abandoned)."""
    if upload is not None:
        HeldUpload.objects.filter(pk=upload.pk).delete()


def retention_cutoff(now: datetime.datetime | None = None) -> datetime.datetime:
    """Uploads created before this moment have expired."""
    return (now or timezone.now()) - datetime.timedelta(hours=settings.UPLOAD_RETENTION_HOURS)


def purge_uploads(*, now: datetime.datetime | None = None) -> int:
    """Delete every held upload older than UPLOAD_RETENTION_HOURS; returns how many."""
    deleted, _counts = HeldUpload.objects.filter(created_at__lt=retention_cutoff(now)).delete()
    return deleted
