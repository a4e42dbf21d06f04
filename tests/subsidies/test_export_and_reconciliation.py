"""Exports with control totals and a recorded checksum; bank return files; failed lines re-issued."""

import csv
import datetime
import hashlib
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from subsidies import exporting
from subsidies.batches import approve_batch
from subsidies.choices import BatchState, LineKind, LineStatus
from subsidies.exports import export_batch
from subsidies.models import BatchExport, PaymentLine
from tests.subsidies.test_allowance_amounts import run

MAY = datetime.date(2024, 5, 1)


@pytest.fixture
def approved_batch(make_elder):
    user = User.objects.create_user("finance-export")
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    user = User.objects.get(pk=user.pk)
    make_elder(datetime.date(1939, 1, 1), pension="resident")
    make_elder(datetime.date(1929, 1, 1))
    make_elder(datetime.date(1920, 1, 1))
    return approve_batch(batch=run("330106", MAY).batch, by=user)


def test_csv_export_has_one_row_per_line_and_a_totals_file_beside_it(approved_batch, tmp_path):
    output = tmp_path / "may.csv"
    call_command(
        "export_batch",
        "--region",
        "330106",
        "--period",
        "2024-05",
        "--format",
        "csv",
        "--output",
        str(output),
        stdout=io.StringIO(),
    )
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert len(rows) == 4
    assert {"id_number", "name", "scheme", "period", "amount"} <= set(rows[0])
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("1010.00")
    totals = list(csv.reader((tmp_path / "may.totals.csv").open(encoding="utf-8")))
    assert ["high_age_80_89", "高龄津贴（80–89周岁）", "1", "60.00"] in totals
    assert ["TOTAL", "合计", "4", "1010.00"] in totals
    record = BatchExport.objects.get()
    assert record.sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    approved_batch.refresh_from_db()
    assert approved_batch.state == BatchState.EXPORTED


def test_a_draft_batch_is_not_exported(make_elder, tmp_path):
    make_elder(datetime.date(1939, 1, 1))
    run("330106", MAY)
    with pytest.raises(CommandError):
        call_command(
            "export_batch",
            "--region",
            "330106",
            "--period",
            "2024-05",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "x.csv"),
        )


def test_xlsx_export_has_a_summary_sheet_and_splits_detail_sheets(
    approved_batch, tmp_path, monkeypatch
):
    output = tmp_path / "may.xlsx"
    monkeypatch.setattr(exporting, "MAX_SHEET_ROWS", 3)  # header + 2 rows per sheet
    export_batch(batch=approved_batch, fmt="xlsx", output=output)
    workbook = load_workbook(output, read_only=True)
    assert workbook.sheetnames == ["汇总", "明细1", "明细2"]
    summary = [list(r) for r in workbook["汇总"].iter_rows(values_only=True)]
    assert ["TOTAL", "合计", 4, 1010] in summary  # amounts are numeric cells
    details = [r for name in ("明细1", "明细2") for r in workbook[name].iter_rows(values_only=True)]
    assert len([r for r in details if r[0] != "reference"]) == 4


def test_xlsx_sheet_limit_is_excels_row_limit():
    assert exporting.MAX_SHEET_ROWS == 1_048_576


def test_bank_return_marks_paid_and_failed_and_reissues_failed_lines_next_month(
    approved_batch, tmp_path
):
    export_batch(batch=approved_batch, fmt="csv", output=tmp_path / "may.csv")
    lines = list(approved_batch.lines.order_by("id").select_related("elder"))
    failed = lines[0]
    content = "reference,id_number,status,bank_reference,message\n"
    content += f"PL{failed.pk:010d},,failed,B001,账户已销户\n"
    for line in lines[1:]:
        content += f"PL{line.pk:010d},,paid,B{line.pk},\n"
    return_file = tmp_path / "return.csv"
    return_file.write_text(content, encoding="utf-8")
    call_command(
        "reconcile_batch",
        "--batch",
        str(approved_batch.pk),
        "--file",
        str(return_file),
        stdout=io.StringIO(),
    )
    approved_batch.refresh_from_db()
    assert approved_batch.state == BatchState.RECONCILED
    failed.refresh_from_db()
    assert failed.status == LineStatus.FAILED and failed.bank_reference == "B001"
    reissue = PaymentLine.objects.get(kind=LineKind.REISSUE)
    assert reissue.corrects == failed and reissue.amount == failed.amount
    assert reissue.batch.period == datetime.date(2024, 6, 1) and reissue.batch.is_draft


def test_bank_return_by_id_number_and_a_bad_row_is_named_and_nothing_is_written(
    approved_batch, tmp_path
):
    export_batch(batch=approved_batch, fmt="csv", output=tmp_path / "may.csv")
    line = approved_batch.lines.select_related("elder").first()
    return_file = tmp_path / "return.csv"
    return_file.write_text(
        f"id_number,status,bank_reference\n{line.elder.id_number},paid,B1\n000,unknown,B2\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="第3行"):
        call_command(
            "reconcile_batch", "--batch", str(approved_batch.pk), "--file", str(return_file)
        )
    assert not PaymentLine.objects.filter(status=LineStatus.PAID).exists()
