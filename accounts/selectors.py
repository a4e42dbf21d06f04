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


def audit_reason(request) -> str:
    """The why of a look at personal data or an export: the ``reason`` query parameter (API and
    admin links), at most the field's length."""
    return (request.GET.get("reason") or "").strip()[:200]
