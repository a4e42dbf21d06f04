"""A payment line's batch, scheme and policy value have no database foreign key (the run's
statement has just read them from those small tables); triggers keep what the foreign keys
guaranteed: a line never names one that does not exist, and on PostgreSQL none that a line
names can be deleted, even by SQL that bypasses Django (subsidies migration 0006)."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from regions.models import PolicyValue, Region
from subsidies.choices import BatchKind
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.schemes import load_schemes

MAY = datetime.date(2024, 5, 1)
MISSING = 987_654_321


@pytest.fixture
def line(make_elder):
    load_schemes()
    batch = PaymentBatch.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, kind=BatchKind.REGULAR
    )
    return PaymentLine.objects.create(
        batch=batch,
        scheme=Scheme.objects.get(code="high_age_80_89"),
        period=MAY,
        elder=make_elder(datetime.date(1939, 1, 1)),
        amount=Decimal("60.00"),
        policy_value=PolicyValue.objects.first(),
    )


def _insert_copy_of(line: PaymentLine, **changes) -> None:
    """INSERT … SELECT, as the run writes: a copy of ``line`` for the month before, with
    ``changes`` (column → value; the policy value left out unless given)."""
    changes = {"period": datetime.date(2024, 4, 1), "policy_value_id": None} | changes
    columns = [f.column for f in PaymentLine._meta.concrete_fields if not f.primary_key]
    selected = ", ".join("%s" if column in changes else column for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO subsidies_paymentline ({', '.join(columns)}) "
            f"SELECT {selected} FROM subsidies_paymentline WHERE id = %s",
            [changes[column] for column in columns if column in changes] + [line.pk],
        )


@pytest.mark.parametrize(
    "column", ["batch_id", "scheme_id", "policy_value_id"], ids=["batch", "scheme", "policy"]
)
def test_a_line_naming_a_missing_reference_is_refused(line, column):
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_copy_of(line, **{column: MISSING})
    assert PaymentLine.objects.count() == 1


def test_a_line_naming_existing_references_is_written(line):
    _insert_copy_of(line, policy_value_id=line.policy_value_id)
    assert PaymentLine.objects.count() == 2


def test_the_orm_is_refused_too(line):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.create(
            batch_id=MISSING,
            scheme=line.scheme,
            period=datetime.date(2024, 4, 1),
            elder=line.elder,
            amount=Decimal("60.00"),
        )


@pytest.mark.parametrize(
    "column", ["batch_id", "scheme_id", "policy_value_id"], ids=["batch", "scheme", "policy"]
)
def test_a_line_cannot_be_pointed_at_a_missing_reference(line, column):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.filter(pk=line.pk).update(**{column: MISSING})
    line.refresh_from_db()
    assert getattr(line, column) != MISSING


def test_a_status_update_is_not_refused(line):
    PaymentLine.objects.filter(pk=line.pk).update(bank_message="ok")
    assert PaymentLine.objects.get(pk=line.pk).bank_message == "ok"


def test_django_refuses_to_delete_what_a_line_names(line):
    for record in (line.batch, line.scheme, line.policy_value):
        with pytest.raises(ProtectedError), transaction.atomic():
            record.delete()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "table, column",
    [
        ("subsidies_paymentbatch", "batch_id"),
        ("subsidies_scheme", "scheme_id"),
        ("regions_policyvalue", "policy_value_id"),
    ],
    ids=["batch", "scheme", "policy"],
)
def test_sql_cannot_delete_what_a_line_names(line, table, column):
    referenced = getattr(line, column)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [referenced])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = %s WHERE id = %s", [MISSING, referenced])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [referenced])
        assert cursor.fetchone()[0] == 1


@pytest.mark.postgres
def test_sql_deletes_a_batch_no_line_names(line):
    empty = PaymentBatch.objects.create(
        region=line.batch.region, period=datetime.date(2024, 6, 1), kind=BatchKind.REGULAR
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM subsidies_paymentbatch WHERE id = %s", [empty.pk])
    assert not PaymentBatch.objects.filter(pk=empty.pk).exists()


def _other_connection():
    import psycopg
    from django.conf import settings

    params = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"],
        autocommit=True,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_batch_named_by_new_lines_is_locked_until_commit(line):
    """As a foreign key's check does: the referenced row is locked FOR KEY SHARE until the
    writer commits, so another transaction cannot delete it meanwhile (NOWAIT: it fails at
    once instead of waiting)."""
    import psycopg

    lock = "SELECT 1 FROM subsidies_paymentbatch WHERE id = %s FOR UPDATE NOWAIT"
    with transaction.atomic():
        _insert_copy_of(line)
        with _other_connection() as other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute(lock, [line.batch_id])
    with _other_connection() as other:
        assert other.execute(lock, [line.batch_id]).fetchall() == [(1,)]


def test_the_checks_are_set_aside_while_migrating_and_put_back_after(line):
    """SQLite rebuilds a table to alter it, dropping its triggers: no migration may meet the
    checks there, and they must be in place once migrate is done, whatever the migrations
    rebuilt. PostgreSQL's checks survive ALTER TABLE and are left alone."""
    from django.db.models.signals import post_migrate, pre_migrate

    from subsidies import line_checks

    connected = {key[0] for key, *_ in pre_migrate.receivers + post_migrate.receivers}
    assert {"subsidies.line_checks.aside", "subsidies.line_checks.install"} <= connected
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        assert line_checks.installed() == set(line_checks.TRIGGERS)
    line_checks.set_aside_before_migrating(sender=None, using="default")
    if sqlite:
        assert line_checks.installed() == set()
    line_checks.install_after_migrating(sender=None, using="default")
    line_checks.install_after_migrating(sender=None, using="default")  # again: no change
    if sqlite:
        assert line_checks.installed() == set(line_checks.TRIGGERS)
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_copy_of(line, batch_id=MISSING)
