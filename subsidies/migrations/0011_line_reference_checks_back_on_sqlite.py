"""The payment lines' reference checks (0006) back on SQLite.

SQLite has no ALTER COLUMN: Django rebuilds a table to alter one, and the rebuild drops the
table's triggers. 0009 rebuilt the payment-line table (its status choices and the hold
reason) without setting the checks aside, so a development database migrated past it lost
them. They are installed again here where they are missing; PostgreSQL keeps its own (its
ALTER TABLE leaves triggers alone), so nothing changes there.
"""

from importlib import import_module

from django.db import migrations

_checks = import_module("subsidies.migrations.0006_line_references_checked_per_statement")
_TRIGGERS = ("payment_line_references_on_insert", "payment_line_references_on_update")


def install_missing_checks(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {name for (name,) in cursor.fetchall()}
    for name, statement in zip(_TRIGGERS, _checks.SQLITE, strict=True):
        if name not in present:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0010_scheme_amount_as_a_share_of_another"),
    ]

    operations = [
        migrations.RunPython(install_missing_checks, migrations.RunPython.noop),
    ]
