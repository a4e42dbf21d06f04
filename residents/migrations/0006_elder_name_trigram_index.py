"""A trigram index of elders' names on PostgreSQL, for the admin's name search (``LIKE
'%…%'``, which no B-tree serves) at a province's million elders. A term of three characters
or more is then found through the index; a shorter one has no trigram and is still read from
the names' B-tree. Nothing on other databases (SQLite: the tests, a developer's machine)."""

from django.db import migrations

INDEX = "elder_name_trgm_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # UPPER(name): the admin's search is Django's icontains, UPPER(name) LIKE UPPER(%s).
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON residents_elder "
        "USING gin (UPPER(name) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("residents", "0005_elder_disability_certificate")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
