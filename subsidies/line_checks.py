"""The payment lines' reference checks on SQLite, kept outside the migrations.

Payment lines name their batch, scheme and policy value without database foreign keys (see
migration 0006): PostgreSQL checks them once per statement with triggers that its ALTER TABLE
leaves alone. SQLite has no ALTER COLUMN: Django rebuilds a table to change it, and a rebuild
drops the rebuilt table's triggers or, for a table a trigger names, is refused. Every
migration touching these tables would have to set the checks aside and put them back, and one
that forgot (0009) lost them on every development database.

So on SQLite the checks are never present while migrations run: ``pre_migrate`` drops them and
``post_migrate`` (also sent after a test database is flushed) creates them again once the
tables are there. Both are connected in ``SubsidiesConfig.ready``.
"""

from __future__ import annotations

from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

# The migration that replaced the foreign keys by these checks: before it the foreign keys
# themselves hold, and installing the checks there would only duplicate them.
INTRODUCED_BY = ("subsidies", "0006_line_references_checked_per_statement")
TRIGGERS = ("payment_line_references_on_insert", "payment_line_references_on_update")
TABLES = ("subsidies_paymentline", "subsidies_paymentbatch", "subsidies_scheme")

_MISSING_REFERENCE = """
    NOT EXISTS (SELECT 1 FROM subsidies_paymentbatch WHERE id = NEW.batch_id)
    OR NOT EXISTS (SELECT 1 FROM subsidies_scheme WHERE id = NEW.scheme_id)
    OR (NEW.policy_value_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM regions_policyvalue WHERE id = NEW.policy_value_id))
"""
# The message SQLite gives for a foreign key, so that callers see the same IntegrityError.
_CREATE = {
    "payment_line_references_on_insert": f"""
        CREATE TRIGGER IF NOT EXISTS payment_line_references_on_insert
        BEFORE INSERT ON subsidies_paymentline WHEN {_MISSING_REFERENCE}
        BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    "payment_line_references_on_update": f"""
        CREATE TRIGGER IF NOT EXISTS payment_line_references_on_update
        BEFORE UPDATE OF batch_id, scheme_id, policy_value_id ON subsidies_paymentline
        WHEN {_MISSING_REFERENCE}
        BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
}


def installed(using: str = "default") -> set[str]:
    """The names of the checks present in the SQLite database ``using``."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
            TRIGGERS,
        )
        return {name for (name,) in cursor.fetchall()}


def set_aside_before_migrating(sender, using="default", **kwargs) -> None:
    """``pre_migrate``: no migration meets the checks on SQLite."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def install_after_migrating(sender, using="default", **kwargs) -> None:
    """``post_migrate``: the checks are (back) in place wherever the tables have reached the
    migration that relies on them. Creating one that exists changes nothing."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if not set(TABLES) <= set(connection.introspection.table_names()):
        return
    if INTRODUCED_BY not in MigrationRecorder(connection).applied_migrations():
        return
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(_CREATE[name])
