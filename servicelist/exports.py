"""Coverage as files (CSV or XLSX): every cell through safe_cell, so a name typed as a formula
stays text. Column names are an interface others script against: append, never rename."""

from __future__ import annotations

import io

from accounts.spreadsheets import csv_text, safe_xlsx_row

COVERAGE_COLUMNS = ["item", "name", "kind", "entitled", "reached", "rate"]
NOT_REACHED_COLUMNS = ["item", "id_number", "name", "residence_region", "reason"]


def coverage_table(rows) -> list[list]:
    return [
        COVERAGE_COLUMNS,
        *(
            [
                row.item.code,
                row.item.name,
                row.item.kind,
                "" if row.entitled is None else row.entitled,
                "" if row.reached is None else row.reached,
                row.rate_text,
            ]
            for row in rows
        ),
    ]


def not_reached_table(rows) -> list[list]:
    return [
        NOT_REACHED_COLUMNS,
        *(
            [n.item, n.id_number, n.name, n.residence_region, n.reason]
            for row in rows
            for n in row.not_reached
        ),
    ]


def as_bytes(table: list[list], file_format: str) -> bytes:
    if file_format == "csv":
        return csv_text(table, lineterminator="\n").encode("utf-8")
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in table:
        sheet.append(safe_xlsx_row(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
