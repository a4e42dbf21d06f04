"""Who may pay: one rule for the admin and the API.

Approval, export and reconciliation are finance's work (or a superuser's). A bureau reads
batches but does not pay them, even where a group grants it the model permission, and an
auditor's read-only finance role never writes."""

from accounts.choices import Role
from accounts.scoping import scope_of


def is_finance(user) -> bool:
    scope = scope_of(user)
    return scope.everything or (Role.FINANCE in scope.roles and not scope.read_only)


def can_approve(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.approve_paymentbatch")


def can_export(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.view_paymentbatch")


def can_reconcile(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.add_bankreturnimport")
