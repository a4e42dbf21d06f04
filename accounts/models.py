import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.choices import AuditAction, Role, UploadPurpose
from regions.models import Region


class RoleAssignment(models.Model):
    """What a user may see: a role over a region (bureau, street, finance, auditor) or, for
    institution staff, over a facility."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="role_assignments",
        verbose_name=_("用户"),
    )
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责区域"),
    )
    facility = models.ForeignKey(
        "facilities.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("所在机构"),
        help_text=_("养老机构工作人员：只能看到本机构的数据。"),
    )

    class Meta:
        verbose_name = _("角色分配")
        verbose_name_plural = _("角色分配")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region"],
                condition=Q(facility__isnull=True),
                name="role_assignment_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "facility"],
                condition=Q(facility__isnull=False),
                name="role_assignment_facility_unique",
            ),
            # Every role but institution staff covers an area; institution staff cover their
            # facility (and nothing else through this row).
            models.CheckConstraint(
                condition=Q(role=Role.INSTITUTION_STAFF) | Q(region__isnull=False),
                name="role_assignment_region_required",
            ),
            models.CheckConstraint(
                condition=~Q(role=Role.INSTITUTION_STAFF)
                | Q(facility__isnull=False, region__isnull=True),
                name="role_assignment_institution_has_facility",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.region or self.facility or ''}"


class AuditEntry(models.Model):
    """A sensitive act — a look at personal data, an export, an approval, a change of a rule or
    of a record others relied on: who, what, when, why (PIPL). Never edited. An act of the
    system (no user) names the management command that made it, when one did."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("用户"),
    )
    command = models.CharField(_("命令"), max_length=64, blank=True)
    action = models.CharField(_("操作"), max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象"), max_length=64, blank=True)
    reason = models.CharField(_("事由"), max_length=200, blank=True)
    details = models.JSONField(_("详情"), default=dict, blank=True)
    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.get_action_display()} {self.object_type}"
        )


class HeldUpload(models.Model):
    """A file uploaded for a preview, held until it is confirmed (an elder roll, a bank return:
    full ID numbers). Kept in the database, never under MEDIA_ROOT, so nothing serves it;
    deleted once used, and by ``purge_uploads`` (hourly, from beat) when older than
    UPLOAD_RETENTION_HOURS (accounts/uploads.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(_("用途"), max_length=32, choices=UploadPurpose.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("上传人"),
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    content = models.BinaryField(_("内容"))
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("待确认的上传文件")
        verbose_name_plural = _("待确认的上传文件")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.file_name}"
