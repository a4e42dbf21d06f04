"""Export files for finance and the bank: one row per line, plus control totals.

Files are streamed (lines read with ``iterator()``, XLSX written in openpyxl's write-only mode)
so a province's batch never sits in memory; XLSX detail sheets are split before Excel's row
limit.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

from subsidies.models import PaymentBatch
from subsidies.selectors import (
    batch_grand_total,
    batch_totals,
    live_lines,
    payee_id_number,
    payee_name,
)

COLUMNS = ["reference", "id_number", "name", "scheme", "period", "amount", "kind"]
# Excel's limit is 1,048,576 rows per sheet; one of them is the header.
MAX_SHEET_ROWS = 1_048_576


def export_rows(batch: PaymentBatch) -> Iterator[list]:
    rows = (
        live_lines(batch)
        .order_by("id")
        .annotate(payee_id_number=payee_id_number(), payee_name=payee_name())
        .values_list(
            "id", "payee_id_number", "payee_name", "scheme__code", "period", "amount", "kind"
        )
    )
    for pk, id_number, name, scheme, period, amount, kind in rows.iterator(chunk_size=5000):
        yield [f"PL{pk:010d}", id_number, name, scheme, f"{period:%Y-%m}", f"{amount}", kind]


def totals_rows(batch: PaymentBatch) -> list[list]:
    rows = [["scheme", "label", "count", "amount"]]
    for total in batch_totals(batch):
        rows.append([total["scheme"], total["label"], total["count"], f"{total['amount']}"])
    count, amount = batch_grand_total(batch)
    rows.append(["TOTAL", "合计", count, f"{amount}"])
    return rows


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def totals_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".totals.csv")


def write_csv(batch: PaymentBatch, output: Path) -> list[Path]:
    """The lines CSV and, beside it, ``<name>.totals.csv`` with per-scheme control totals and
    the checksum of the lines file."""
    with open(output, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(export_rows(batch))
    totals = totals_path_for(output)
    with open(totals, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows(totals_rows(batch))
        writer.writerow(["sha256", output.name, "", sha256_of(output)])
    return [output, totals]


def write_xlsx(batch: PaymentBatch, output: Path, *, max_rows: int | None = None) -> list[Path]:
    from openpyxl import Workbook

    max_rows = max_rows or MAX_SHEET_ROWS

    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("汇总")
    summary.append([f"{batch.region.name} {batch.period:%Y-%m} {batch.get_kind_display()}"])
    for row in totals_rows(batch):
        summary.append(row)
    sheet, used, number = None, max_rows, 0
    for row in export_rows(batch):
        if used >= max_rows:
            number += 1
            sheet = workbook.create_sheet(f"明细{number}")
            sheet.append(COLUMNS)
            used = 1
        sheet.append(row)
        used += 1
    if sheet is None:
        workbook.create_sheet("明细1").append(COLUMNS)
    workbook.save(output)
    return [output]
