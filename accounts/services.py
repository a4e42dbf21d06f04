"""Writes of the accounts app: role assignments and the audit trail."""

from __future__ import annotations

from django.db import transaction

from accounts.choices import AuditAction
from accounts.models import AuditEntry, RoleAssignment


def record_audit(
    *,
    user,
    action: AuditAction | str,
    object_type: str,
    object_id: str = "",
    reason: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Record a look at personal data or an export (PIPL): who, what, when, why."""
    return AuditEntry.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        details=details or {},
    )


@transaction.atomic
def assign_role(*, user, role: str, region=None) -> RoleAssignment:
    assignment, _ = RoleAssignment.objects.get_or_create(user=user, role=role, region=region)
    return assignment
