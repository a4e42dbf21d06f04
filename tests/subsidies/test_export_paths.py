"""On PostgreSQL the export's rows are formatted by the database (subsidies/exporting.py):
the files must be the ORM path's, byte for byte — elders, a caregiver and a facility as
payees, a recovery (negative amount), a cancelled line left out, names that need quoting."""

import datetime
from decimal import Decimal

import pytest

from facilities.models import Caregiver, Facility
from regions.models import Region
from residents.models import Elder
from subsidies import exporting
from subsidies.choices import BatchKind, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.schemes import load_schemes

pytestmark = pytest.mark.postgres

MAY = datetime.date(2024, 5, 1)


@pytest.fixture
def mixed_batch(make_elder):
    load_schemes()
    xihu = Region.objects.get(code="330106")
    scheme = Scheme.objects.get(code="high_age_80_89")
    batch = PaymentBatch.objects.create(region=xihu, period=MAY, kind=BatchKind.ADJUSTMENT)
    first = make_elder(datetime.date(1939, 1, 1))
    second = make_elder(datetime.date(1938, 2, 1))
    Elder.objects.filter(pk=second.pk).update(name='王"小,二"')
    caregiver = Caregiver.objects.create(
        name="护理员甲", id_number=first.id_number[:6] + "19800101" + "0014"
    )
    facility = Facility.objects.create(
        name="测试养老院, 西湖", kind="institution", ownership="public", region=xihu
    )
    lines = [
        PaymentLine(batch=batch, scheme=scheme, period=MAY, elder=first, amount=Decimal("60.00")),
        PaymentLine(batch=batch, scheme=scheme, period=MAY, elder=second, amount=Decimal("60.00")),
        PaymentLine(
            batch=batch, scheme=scheme, period=MAY, caregiver=caregiver, amount=Decimal("400.00")
        ),
        PaymentLine(
            batch=batch, scheme=scheme, period=MAY, facility=facility, amount=Decimal("1234.50")
        ),
    ]
    PaymentLine.objects.bulk_create(lines)
    PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=datetime.date(2024, 4, 1),
        elder=first,
        amount=Decimal("-60.00"),
        kind=LineKind.RECOVERY,
        corrects=lines[0],
    )
    PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=datetime.date(2024, 3, 1),
        elder=second,
        amount=Decimal("60.00"),
        status=LineStatus.CANCELLED,
    )
    return batch


def test_the_database_formats_the_rows_exactly_as_the_orm_path(mixed_batch):
    from_database = list(exporting.export_rows(mixed_batch))
    from_orm = list(exporting._export_rows_orm(mixed_batch))
    assert from_database == from_orm
    assert len(from_orm) == 5
    assert {row[6] for row in from_orm} == {"normal", "recovery"}
    assert "-60.00" in {row[5] for row in from_orm}


def test_the_csv_file_is_byte_for_byte_the_orm_paths(mixed_batch, tmp_path, monkeypatch):
    digest, totals = exporting._write_csv_by_copy(mixed_batch, tmp_path / "copy.csv")
    assert digest and totals.count == 5
    exporting.write_csv(mixed_batch, tmp_path / "database.csv")
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)
    monkeypatch.setattr(exporting, "_write_csv_by_copy", lambda *args: ("", None))
    exporting.write_csv(mixed_batch, tmp_path / "orm.csv")
    assert (tmp_path / "database.csv").read_bytes() == (tmp_path / "orm.csv").read_bytes()
    assert '"王""小,二"""' in (tmp_path / "orm.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["", "两行\n姓名", "回车\r姓名", " 空格 "])
def test_unusual_names_give_the_same_file_too(mixed_batch, tmp_path, monkeypatch, name):
    elder_id = mixed_batch.lines.filter(elder__isnull=False).values_list("elder_id", flat=True)[0]
    Elder.objects.filter(pk=elder_id).update(name=name)
    # COPY is used unless a field holds a line feed; then the csv module writes the file.
    copied, _totals = exporting._write_csv_by_copy(mixed_batch, tmp_path / "copy.csv")
    assert bool(copied) == ("\n" not in name)  # the checksum, or "" when not copied
    exporting.write_csv(mixed_batch, tmp_path / "database.csv")
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)
    monkeypatch.setattr(exporting, "_write_csv_by_copy", lambda *args: ("", None))
    exporting.write_csv(mixed_batch, tmp_path / "orm.csv")
    assert (tmp_path / "database.csv").read_bytes() == (tmp_path / "orm.csv").read_bytes()


def _unzipped(path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _slow_xlsx(monkeypatch):
    """The XLSX through export_rows' ORM path, the database's COPY path refused."""

    def refused(*args):
        raise exporting._CopyUnfit
        yield  # a generator, like the path it stands for

    monkeypatch.setattr(exporting, "_xlsx_copy_rows", refused)
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)


@pytest.mark.parametrize("layout", ["bank", "finance"])
@pytest.mark.parametrize("max_rows", [None, 3])
def test_the_xlsx_sheets_are_the_orm_paths_byte_for_byte(
    mixed_batch, tmp_path, monkeypatch, layout, max_rows
):
    pieces = list(exporting._xlsx_copy_rows(mixed_batch, None, layout == "finance", 1000))
    assert sum(piece.count for piece in pieces) == 5  # the COPY path wrote these rows
    exporting.write_xlsx(mixed_batch, tmp_path / "copy.xlsx", layout=layout, max_rows=max_rows)
    _slow_xlsx(monkeypatch)
    exporting.write_xlsx(mixed_batch, tmp_path / "orm.xlsx", layout=layout, max_rows=max_rows)
    copied, orm = _unzipped(tmp_path / "copy.xlsx"), _unzipped(tmp_path / "orm.xlsx")
    assert copied == orm
    assert len([n for n in orm if n.startswith("xl/worksheets/")]) == (4 if max_rows else 2)


@pytest.mark.parametrize(
    "name",
    ["a & b <c>", "铃\x07声", "反\\斜杠", "制表\t符", "两行\n姓名", "=SUM(1,2)", " 空格 ", ""],
)
def test_names_needing_care_give_the_same_xlsx(mixed_batch, tmp_path, monkeypatch, name):
    elder_id = mixed_batch.lines.filter(elder__isnull=False).values_list("elder_id", flat=True)[0]
    Elder.objects.filter(pk=elder_id).update(name=name)
    assert sum(p.count for p in exporting._xlsx_copy_rows(mixed_batch, None, False, 1000)) == 5
    exporting.write_xlsx(mixed_batch, tmp_path / "copy.xlsx")
    _slow_xlsx(monkeypatch)
    exporting.write_xlsx(mixed_batch, tmp_path / "orm.xlsx")
    assert _unzipped(tmp_path / "copy.xlsx") == _unzipped(tmp_path / "orm.xlsx")


def test_a_name_holding_a_separator_is_written_through_the_orm_path(
    mixed_batch, tmp_path, monkeypatch
):
    elder_id = mixed_batch.lines.filter(elder__isnull=False).values_list("elder_id", flat=True)[0]
    Elder.objects.filter(pk=elder_id).update(name="分\x02隔")
    with pytest.raises(exporting._CopyUnfit):
        list(exporting._xlsx_copy_rows(mixed_batch, None, False, 1000))
    exporting.write_xlsx(mixed_batch, tmp_path / "database.xlsx")
    _slow_xlsx(monkeypatch)
    exporting.write_xlsx(mixed_batch, tmp_path / "orm.xlsx")
    assert _unzipped(tmp_path / "database.xlsx") == _unzipped(tmp_path / "orm.xlsx")


@pytest.mark.django_db(transaction=True)
def test_the_totals_read_beside_the_copy_count_the_files_lines(mixed_batch, tmp_path):
    # Outside a transaction the export opens its own, and reads the totals on a second
    # connection in the same snapshot while the lines stream.
    from django.db import connection

    assert not connection.in_atomic_block
    digest, totals = exporting._write_csv_by_copy(mixed_batch, tmp_path / "copy.csv")
    assert digest
    assert totals.rows() == exporting.Totals(mixed_batch).rows()
    assert (totals.count, totals.amount) == (5, Decimal("1694.50"))


@pytest.mark.parametrize(
    "name",
    [
        "分\x01隔",  # one delimiter: the pieces no longer pair
        "\x01elder:1:00ff\x01",  # shaped like a token: two delimiters more, a ciphertext none
        "\x01elder:1:00FF\x01",
        "\x01bank:1:00ff\x01",
        "\x01elder:x:00ff\x01",
    ],
)
def test_a_name_holding_the_token_delimiter_is_written_through_the_csv_module(
    mixed_batch, tmp_path, monkeypatch, name
):
    elder_id = mixed_batch.lines.filter(elder__isnull=False).values_list("elder_id", flat=True)[0]
    Elder.objects.filter(pk=elder_id).update(name=name)
    with pytest.raises(exporting._TokenMismatch):
        exporting._write_csv_by_copy(mixed_batch, tmp_path / "copy.csv")
    exporting.write_csv(mixed_batch, tmp_path / "database.csv")
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)
    monkeypatch.setattr(exporting, "_write_csv_by_copy", lambda *args: ("", None))
    exporting.write_csv(mixed_batch, tmp_path / "orm.csv")
    assert (tmp_path / "database.csv").read_bytes() == (tmp_path / "orm.csv").read_bytes()


def _account_numbers(path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return [row[exporting.ACCOUNT_INDEX] for row in list(csv.reader(handle))[1:]]


def test_accounts_under_an_older_key_are_opened_in_the_copy_path(mixed_batch, tmp_path, settings):
    from subsidies import account_crypto

    before = tmp_path / "before.csv"
    assert exporting._write_csv_by_copy(mixed_batch, before)[0]
    settings.PAYEE_ACCOUNT_KEYS = ["bmV3LWtleS1mb3ItdGhlLXJvdGF0aW9uLXRlc3QtMzI="] + list(
        settings.PAYEE_ACCOUNT_KEYS
    )
    assert len(account_crypto.ciphers()) == 2
    after = tmp_path / "after.csv"
    assert exporting._write_csv_by_copy(mixed_batch, after)[0]
    numbers = _account_numbers(after)
    assert numbers == _account_numbers(before) and any(numbers)


def test_a_ciphertext_copied_onto_another_payee_stops_the_export(mixed_batch, tmp_path):
    from subsidies import account_crypto
    from subsidies.models import PayeeAccount

    first, second = (
        mixed_batch.lines.filter(elder__isnull=False)
        .order_by("id")
        .values_list("elder_id", flat=True)[:2]
    )
    stolen = PayeeAccount.objects.get(elder_id=first).account_number_encrypted
    PayeeAccount.objects.filter(elder_id=second).update(account_number_encrypted=stolen)
    # Not trusted as a token: the csv module's path takes over, and says it cannot open it.
    with pytest.raises(exporting._TokenMismatch):
        exporting._write_csv_by_copy(mixed_batch, tmp_path / "copy.csv")
    with pytest.raises(account_crypto.UndecryptableAccount):
        exporting.write_csv(mixed_batch, tmp_path / "file.csv")
    with pytest.raises(account_crypto.UndecryptableAccount):
        exporting.write_xlsx(mixed_batch, tmp_path / "file.xlsx")
