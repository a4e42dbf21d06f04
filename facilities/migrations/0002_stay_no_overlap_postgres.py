"""On PostgreSQL: stays of one bed, and stays of one elder, never overlap in time.

The partial unique constraints of 0001 allow one *open* stay per bed and per elder on every
backend; this exclusion constraint also covers closed stays (a back-dated admission cannot
overlap a past stay). It needs btree_gist (equality on integers inside a GiST index) and
PostgreSQL's range types, so it is created only on PostgreSQL and is not part of the model
state (SQLite has no equivalent; the services check overlaps there).
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CONSTRAINTS = {
    "stay_bed_periods_never_overlap": "bed_id",
    "stay_elder_periods_never_overlap": "elder_id",
}


def _sql(name: str, column: str) -> str:
    # Half-open [start, end): a transfer ends one stay and starts the next on the same day;
    # an open stay (end null) runs to infinity.
    return (
        f"ALTER TABLE facilities_stay ADD CONSTRAINT {name} EXCLUDE USING gist "
        f"({column} WITH =, daterange(start_date, end_date, '[)') WITH &&)"
    )


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(_sql(name, column))


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE facilities_stay DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("facilities", "0001_initial")]

    operations = [
        # CreateExtension does nothing on other backends.
        BtreeGistExtension(),
        migrations.RunPython(add_constraints, drop_constraints),
    ]
