"""Payment lines: fewer and smaller indexes, and the references to batch, scheme and policy
value checked once per statement instead of once per line.

The run writes about one line per eight elders in one statement per chunk. A database foreign
key checks each line at commit (one lookup and one row lock in the referenced table per line),
although the statement has just read the batch, the scheme and the policy value it names from
those small tables. They become plain columns for the database (Django keeps the relation and
on_delete=PROTECT); the checks below keep what the foreign keys guaranteed:

- PostgreSQL: after each INSERT (or COPY) statement, every distinct batch, scheme and policy
  value its new lines name must exist, and is locked FOR KEY SHARE until the transaction ends,
  as a foreign key's check locks it, so none can be deleted meanwhile; an UPDATE that changes a
  line's reference is checked line by line (only then); deleting (or renumbering) a batch, scheme or policy
  value that a line still names fails after the row is gone, when the check sees every
  committed line. Errors are foreign_key_violation (SQLSTATE 23503), as before.
- SQLite (development): each inserted or re-pointed line is checked. Deletions are refused by
  Django (on_delete=PROTECT) only: a trigger on the referenced tables would stop Django's flush
  of a test database, which empties tables in no particular order.

Indexes: (batch, id) replaces (batch, scheme): a batch's lines come in line order without a
sort (the bank's file, the admin's list), and its totals by scheme read them as well; the
batch's own index repeated its lead, the elder's that of payment_line_elder_period_idx; the scheme and the policy value are found by
their index only when one is deleted (refused while named). Caregiver, facility and
correction lines are few: their indexes, and the caregiver's unique key, hold only the lines
that have one.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL = r"""
CREATE FUNCTION subsidies_paymentline_references_exist() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    present bigint;
BEGIN
    SELECT count(DISTINCT batch_id) INTO wanted FROM new_lines;
    PERFORM 1 FROM subsidies_paymentbatch
        WHERE id IN (SELECT batch_id FROM new_lines) FOR KEY SHARE;
    GET DIAGNOSTICS present = ROW_COUNT;
    IF present < wanted THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'payment_line_batch_exists', TABLE = 'subsidies_paymentline',
            MESSAGE = 'a payment line names a batch that does not exist';
    END IF;
    SELECT count(DISTINCT scheme_id) INTO wanted FROM new_lines;
    PERFORM 1 FROM subsidies_scheme
        WHERE id IN (SELECT scheme_id FROM new_lines) FOR KEY SHARE;
    GET DIAGNOSTICS present = ROW_COUNT;
    IF present < wanted THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'payment_line_scheme_exists', TABLE = 'subsidies_paymentline',
            MESSAGE = 'a payment line names a scheme that does not exist';
    END IF;
    SELECT count(DISTINCT policy_value_id) INTO wanted FROM new_lines;
    IF wanted > 0 THEN
        PERFORM 1 FROM regions_policyvalue
            WHERE id IN (SELECT policy_value_id FROM new_lines) FOR KEY SHARE;
        GET DIAGNOSTICS present = ROW_COUNT;
        IF present < wanted THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                CONSTRAINT = 'payment_line_policy_value_exists',
                TABLE = 'subsidies_paymentline',
                MESSAGE = 'a payment line names a policy value that does not exist';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payment_line_references_on_insert
    AFTER INSERT ON subsidies_paymentline
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION subsidies_paymentline_references_exist();

CREATE FUNCTION subsidies_paymentline_reference_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM subsidies_paymentbatch WHERE id = NEW.batch_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'payment_line_batch_exists', TABLE = 'subsidies_paymentline',
            MESSAGE = 'a payment line names a batch that does not exist';
    END IF;
    PERFORM 1 FROM subsidies_scheme WHERE id = NEW.scheme_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'payment_line_scheme_exists', TABLE = 'subsidies_paymentline',
            MESSAGE = 'a payment line names a scheme that does not exist';
    END IF;
    IF NEW.policy_value_id IS NOT NULL THEN
        PERFORM 1 FROM regions_policyvalue WHERE id = NEW.policy_value_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                CONSTRAINT = 'payment_line_policy_value_exists',
                TABLE = 'subsidies_paymentline',
                MESSAGE = 'a payment line names a policy value that does not exist';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Only when a reference changes (a status or bank update costs nothing).
CREATE TRIGGER payment_line_references_on_update
    AFTER UPDATE OF batch_id, scheme_id, policy_value_id ON subsidies_paymentline
    FOR EACH ROW
    WHEN (OLD.batch_id IS DISTINCT FROM NEW.batch_id
          OR OLD.scheme_id IS DISTINCT FROM NEW.scheme_id
          OR OLD.policy_value_id IS DISTINCT FROM NEW.policy_value_id)
    EXECUTE FUNCTION subsidies_paymentline_reference_changed();

CREATE FUNCTION subsidies_paymentline_still_named() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    named boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM subsidies_paymentline WHERE %I = $1)',
                   TG_ARGV[0])
        INTO named USING OLD.id;
    IF named THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = TG_ARGV[1], TABLE = 'subsidies_paymentline',
            MESSAGE = format('%s %s is still named by payment lines', TG_TABLE_NAME, OLD.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payment_line_batch_kept
    AFTER DELETE ON subsidies_paymentbatch FOR EACH ROW
    EXECUTE FUNCTION subsidies_paymentline_still_named('batch_id', 'payment_line_batch_exists');
CREATE TRIGGER payment_line_batch_id_kept
    AFTER UPDATE OF id ON subsidies_paymentbatch FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION subsidies_paymentline_still_named('batch_id', 'payment_line_batch_exists');
CREATE TRIGGER payment_line_scheme_kept
    AFTER DELETE ON subsidies_scheme FOR EACH ROW
    EXECUTE FUNCTION subsidies_paymentline_still_named('scheme_id', 'payment_line_scheme_exists');
CREATE TRIGGER payment_line_scheme_id_kept
    AFTER UPDATE OF id ON subsidies_scheme FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION subsidies_paymentline_still_named('scheme_id', 'payment_line_scheme_exists');
CREATE TRIGGER payment_line_policy_value_kept
    AFTER DELETE ON regions_policyvalue FOR EACH ROW
    EXECUTE FUNCTION subsidies_paymentline_still_named(
        'policy_value_id', 'payment_line_policy_value_exists');
CREATE TRIGGER payment_line_policy_value_id_kept
    AFTER UPDATE OF id ON regions_policyvalue FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION subsidies_paymentline_still_named(
        'policy_value_id', 'payment_line_policy_value_exists');
"""

POSTGRESQL_REVERSE = r"""
DROP TRIGGER payment_line_policy_value_id_kept ON regions_policyvalue;
DROP TRIGGER payment_line_policy_value_kept ON regions_policyvalue;
DROP TRIGGER payment_line_scheme_id_kept ON subsidies_scheme;
DROP TRIGGER payment_line_scheme_kept ON subsidies_scheme;
DROP TRIGGER payment_line_batch_id_kept ON subsidies_paymentbatch;
DROP TRIGGER payment_line_batch_kept ON subsidies_paymentbatch;
DROP FUNCTION subsidies_paymentline_still_named();
DROP TRIGGER payment_line_references_on_update ON subsidies_paymentline;
DROP FUNCTION subsidies_paymentline_reference_changed();
DROP TRIGGER payment_line_references_on_insert ON subsidies_paymentline;
DROP FUNCTION subsidies_paymentline_references_exist();
"""

_SQLITE_MISSING = """
    NOT EXISTS (SELECT 1 FROM subsidies_paymentbatch WHERE id = NEW.batch_id)
    OR NOT EXISTS (SELECT 1 FROM subsidies_scheme WHERE id = NEW.scheme_id)
    OR (NEW.policy_value_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM regions_policyvalue WHERE id = NEW.policy_value_id))
"""
SQLITE = [
    f"""
    CREATE TRIGGER payment_line_references_on_insert
    BEFORE INSERT ON subsidies_paymentline WHEN {_SQLITE_MISSING}
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    f"""
    CREATE TRIGGER payment_line_references_on_update
    BEFORE UPDATE OF batch_id, scheme_id, policy_value_id ON subsidies_paymentline
    WHEN {_SQLITE_MISSING}
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
]
# IF EXISTS: since subsidies.line_checks, the checks are set aside before every migrate.
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS payment_line_references_on_update",
    "DROP TRIGGER IF EXISTS payment_line_references_on_insert",
]


def install_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


def remove_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("facilities", "0003_delete_staff_member"),
        ("regions", "0006_eligibility_rules"),
        ("residents", "0004_import_job_sweep"),
        ("subsidies", "0005_line_kind_correction_plus_or_minus"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="paymentline",
            name="payment_line_one_payment_per_scheme_period_elder",
        ),
        migrations.RemoveConstraint(
            model_name="paymentline",
            name="payment_line_one_payment_per_scheme_period_caregiver",
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="subsidies.paymentbatch",
                verbose_name="批次",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="caregiver",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_lines",
                to="facilities.caregiver",
                verbose_name="养老护理员",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="corrects",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="追回或重发所针对的原发放行。",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="corrections",
                to="subsidies.paymentline",
                verbose_name="更正的原发放行",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="elder",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_lines",
                to="residents.elder",
                verbose_name="老年人",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="facility",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_lines",
                to="facilities.facility",
                verbose_name="机构",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="policy_value",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="regions.policyvalue",
                verbose_name="依据参数",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="scheme",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="subsidies.scheme",
                verbose_name="津贴项目",
            ),
        ),
        migrations.RemoveIndex(
            model_name="paymentline",
            name="payment_line_batch_scheme_idx",
        ),
        migrations.AddIndex(
            model_name="paymentline",
            index=models.Index(fields=["batch", "id"], name="payment_line_batch_id_idx"),
        ),
        migrations.AddIndex(
            model_name="paymentline",
            index=models.Index(
                condition=models.Q(("facility__isnull", False)),
                fields=["facility"],
                name="payment_line_facility_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="paymentline",
            index=models.Index(
                condition=models.Q(("caregiver__isnull", False)),
                fields=["caregiver"],
                name="payment_line_caregiver_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentline",
            constraint=models.UniqueConstraint(
                condition=models.Q(("elder__isnull", False), ("kind__in", ["normal", "arrears"])),
                fields=("scheme", "period", "elder"),
                name="payment_line_one_payment_per_scheme_period_elder",
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentline",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("caregiver__isnull", False), ("kind__in", ["normal", "arrears"])
                ),
                fields=("scheme", "period", "caregiver"),
                name="payment_line_one_payment_per_scheme_period_caregiver",
            ),
        ),
        migrations.RunPython(install_checks, remove_checks),
    ]
