"""Reads of the accounts app: who may see personal data in full."""

from __future__ import annotations

from accounts.choices import Role
from accounts.scoping import scope_of

# PIPL: the full ID number and phone only for roles whose work needs them — the bureau and
# street offices (applications, visits) and institutions (admission contracts). Finance pays
# from batches and auditors review processes: both see masked values.
FULL_PERSONAL_DATA_ROLES = frozenset({Role.BUREAU, Role.STREET_WORKER, Role.INSTITUTION_STAFF})


def sees_full_personal_data(user) -> bool:
    scope = scope_of(user)
    return scope.everything or bool(scope.roles & FULL_PERSONAL_DATA_ROLES)


def user_label(user) -> str:
    """A user as people know them: the full name (Chinese order, family name first) with the
    login name beside it, or the login name alone when no name is recorded."""
    name = f"{user.last_name}{user.first_name}".strip()
    return f"{name}（{user.username}）" if name else user.username


def users_with_role_in_scope(by, role: str, *, also=None):
    """Active users holding ``role`` over a region inside ``by``'s areas, and those whose keys
    ``also`` gives (a subquery: the workers already assigned in the writer's areas): whom a
    writer may choose for a job of that role. Someone with every scope (a superuser) may choose
    any of them; superusers themselves are never offered to anyone else."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from accounts.models import RoleAssignment

    scope = scope_of(by)
    assignments = RoleAssignment.objects.filter(role=role, region__isnull=False)
    if not scope.everything:
        within = Q(pk__in=[])
        for path in scope.region_paths:
            within |= Q(region__path__startswith=path)
        assignments = assignments.filter(within)
    chosen = Q(pk__in=assignments.values("user_id"))
    if also is not None:
        chosen |= Q(pk__in=also)
    users = get_user_model().objects.filter(chosen, is_active=True)
    if not getattr(by, "is_superuser", False):
        users = users.filter(is_superuser=False)
    return users.order_by("last_name", "first_name", "username")


def audit_reason(request) -> str:
    """The why of a look at personal data or an export: the ``reason`` query parameter (API and
    admin links), at most the field's length."""
    return (request.GET.get("reason") or "").strip()[:200]
