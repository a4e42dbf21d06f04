"""Who may pay, and who sets the star-subsidy table: one rule for the admin, the API and the
services.

Approval, export and reconciliation are finance's work (or a superuser's). A bureau reads
batches but does not pay them, even where a group grants it the model permission, and an
auditor's read-only finance role never writes. The table of operating subsidies by star level
is the civil-affairs bureau's: finance reads it and pays by it, but never sets it, whatever
its group grants."""

from accounts.choices import Role
from accounts.scoping import is_bureau_over, scope_of


def is_finance(user) -> bool:
    scope = scope_of(user)
    return scope.everything or (Role.FINANCE in scope.roles and not scope.read_only)


def can_approve(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.approve_paymentbatch")


def can_export(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.view_paymentbatch")


def can_reconcile(user) -> bool:
    return is_finance(user) and user.has_perm("subsidies.add_bankreturnimport")


STAR_RATES_ARE_THE_BUREAUS = "星级运营补助标准由该地民政部门设定；财务人员只能查看。"


def can_set_star_rates(user, jurisdiction=None) -> bool:
    """A bureau (or a superuser); with ``jurisdiction``, a bureau whose own area holds it
    (another role's area, such as finance's, does not count). The admin asks for the model
    permissions as well."""
    return is_bureau_over(user, jurisdiction)
