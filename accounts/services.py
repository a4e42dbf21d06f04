"""Writes of the accounts app: role assignments and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.choices import AuditAction
from accounts.masking import mask_id_number, mask_phone
from accounts.models import AuditEntry, RoleAssignment
from accounts.scoping import scoped


def record_audit(
    *,
    user,
    action: AuditAction | str,
    object_type: str,
    object_id: str = "",
    reason: str = "",
    details: dict | None = None,
    command: str = "",
) -> AuditEntry:
    """Record a sensitive act (PIPL): who, what, when, why. With no user it is the system's
    act, and ``command`` names the management command that made it (``load_policies``)."""
    return AuditEntry.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        command=command,
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


@dataclass(frozen=True)
class Revealable:
    action: str
    mask: Callable[[str], str]


# The personal data a page shows masked and, on request with a reason, whole.
REVEALABLE = {
    "id_number": Revealable(AuditAction.VIEW_ID_NUMBER, mask_id_number),
    "phone": Revealable(AuditAction.VIEW_PHONE, mask_phone),
}


def reveal_personal_data(*, user, obj, field: str, reason: str, via: str = "") -> str:
    """The whole value of a masked field, for a role whose work needs it and with the reason
    for looking: recorded in the audit trail (PIPL) before it is returned."""
    from accounts.selectors import sees_full_personal_data

    if field not in REVEALABLE:
        raise ValueError(f"{field} is not a revealable field")
    if not sees_full_personal_data(user):
        raise PermissionDenied
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请写明查看事由。")})
    if not scoped(type(obj)._default_manager.filter(pk=obj.pk), user).exists():
        raise PermissionDenied
    record_audit(
        user=user,
        action=REVEALABLE[field].action,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        reason=reason[:200],
        details={"via": via, "field": field} if via else {"field": field},
    )
    return getattr(obj, field)
