"""Export files for finance and the bank: one row per line, plus control totals.

Files are streamed (lines read in chunks, XLSX written in openpyxl's write-only mode) so a
province's batch never sits in memory; XLSX detail sheets are split before Excel's row limit.
On PostgreSQL the rows come formatted by the database through a server-side cursor (a million
lines in a few seconds); elsewhere through the ORM. Both give the same text, cell for cell.

Every cell is written through accounts.spreadsheets.safe_cell (the COPY path applies the same
rule in SQL), so a name typed as a formula is shown as text, never run. Amounts are numbers:
plain decimal text in the CSV (a recovery reads ``-60.00``), numeric cells with two places in
the XLSX, so finance can sum them.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction

from accounts.spreadsheets import safe_row, safe_text_sql, safe_xlsx_row
from subsidies.choices import LineStatus
from subsidies.models import PaymentBatch, money
from subsidies.selectors import (
    batch_totals,
    live_lines,
    payee_id_number,
    payee_name,
)

COLUMNS = ["reference", "id_number", "name", "scheme", "period", "amount", "kind"]
# Excel's limit is 1,048,576 rows per sheet; one of them is the header.
MAX_SHEET_ROWS = 1_048_576


FETCH_SIZE = 20000

# The same columns as export_rows' ORM path, formatted by PostgreSQL: the reference as
# f"PL{pk:010d}" (lpad would cut a longer id, so longer ids are left whole), the payee's
# identifier and name as selectors.payee_id_number/payee_name, the period as YYYY-MM and the
# amount as numeric(12,2) text, which is what str(Decimal) gives.
_COLUMNS_SQL = [
    "'PL' || CASE WHEN l.id < 10000000000 THEN lpad(l.id::text, 10, '0') ELSE l.id::text END",
    "COALESCE(e.id_number, c.id_number, NULLIF(f.uscc, ''), f.code)",
    "COALESCE(e.name, c.name, f.name)",
    "s.code",
    "to_char(l.period, 'YYYY-MM')",
    "l.amount::text",
    "l.kind",
]
_FROM_SQL = """
FROM subsidies_paymentline l
JOIN subsidies_scheme s ON s.id = l.scheme_id
LEFT JOIN residents_elder e ON e.id = l.elder_id
LEFT JOIN facilities_caregiver c ON c.id = l.caregiver_id
LEFT JOIN facilities_facility f ON f.id = l.facility_id
WHERE l.batch_id = %s AND l.status <> %s
ORDER BY l.id
"""
_ROWS_SQL = "SELECT " + ",\n       ".join(_COLUMNS_SQL) + _FROM_SQL

# For COPY: every cell as the csv path writes it, through safe_cell's rule in SQL, and empty
# texts as NULL (PostgreSQL quotes an empty string, the csv module does not; both leave
# NULL/None unquoted and empty).
_COPY_SQL = (
    "SELECT "
    + ",\n       ".join(f"NULLIF({safe_text_sql(column)}, '')" for column in _COLUMNS_SQL)
    + _FROM_SQL
)


def _tune_for_export(cursor) -> None:
    """For this transaction only: enough memory to hash the payees and sort a million lines
    without spilling to disk (the default 4 MB doubles the time of a million-line export),
    and no JIT compilation, which costs more than it saves on this one scan."""
    cursor.execute("SET LOCAL work_mem = '128MB'")
    cursor.execute("SET LOCAL jit = off")


def export_rows(batch: PaymentBatch) -> Iterator[list]:
    """One row per line to pay, in line order."""
    if connection.vendor == "postgresql":
        yield from _export_rows_postgresql(batch)
        return
    yield from _export_rows_orm(batch)


def _export_rows_postgresql(batch: PaymentBatch) -> Iterator[list]:
    # A named (server-side) cursor lives in a transaction and streams FETCH_SIZE rows at a
    # time, so memory stays flat whatever the batch size.
    with transaction.atomic():
        connection.ensure_connection()
        with connection.cursor() as plain:
            _tune_for_export(plain)
            # The whole result is wanted: plan for all rows, not for the first ones (the
            # default for cursors), which would walk the lines' index row by row.
            plain.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        with connection.connection.cursor(name=f"export_batch_{batch.pk}") as cursor:
            cursor.itersize = FETCH_SIZE
            cursor.execute(_ROWS_SQL, [batch.pk, LineStatus.CANCELLED.value])
            while rows := cursor.fetchmany(FETCH_SIZE):
                yield from map(list, rows)


def _export_rows_orm(batch: PaymentBatch) -> Iterator[list]:
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
    totals = batch_totals(batch)
    for total in totals:
        rows.append([total["scheme"], total["label"], total["count"], f"{total['amount']}"])
    # The grand total is the sum of the schemes' (amounts have two places: the sum is exact).
    count = sum(total["count"] for total in totals)
    amount = money(sum((total["amount"] for total in totals), Decimal("0")))
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
    control = totals_rows(batch)
    line_count = control[-1][2]
    copied = connection.vendor == "postgresql" and _write_csv_by_copy(batch, output, line_count)
    if not copied:
        with open(output, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(map(safe_row, export_rows(batch)))
    totals = totals_path_for(output)
    with open(totals, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows(map(safe_row, control))
        writer.writerow(["sha256", output.name, "", sha256_of(output)])
    return [output, totals]


def _write_csv_by_copy(batch: PaymentBatch, output: Path, expected: int) -> bool:
    """The lines file straight from PostgreSQL's ``COPY … TO STDOUT (FORMAT csv)``, written as
    Python's csv module writes it: PostgreSQL quotes exactly when csv.QUOTE_MINIMAL does (a
    comma, a quote or a line break in the field; quotes doubled), empty texts are sent as NULL
    so that they come out unquoted, and its LF record ends become CRLF. That last step is only
    right when no field holds a line break: the LFs are counted, and if there is one more than
    a record each, returns False and the caller writes the file through the csv module."""
    header = (",".join(COLUMNS) + "\r\n").encode()
    sql = f"COPY ({_COPY_SQL}) TO STDOUT (FORMAT csv)"
    newlines = 0
    with open(output, "wb") as handle, transaction.atomic(), connection.cursor() as cursor:
        _tune_for_export(cursor)
        handle.write(header)
        with cursor.cursor.copy(sql, [batch.pk, LineStatus.CANCELLED.value]) as copy:
            for block in copy:
                data = bytes(block)
                newlines += data.count(b"\n")
                handle.write(data.replace(b"\n", b"\r\n"))
    return newlines == expected


AMOUNT_FORMAT = "0.00"


def _xlsx_row(sheet, row: list, amount_index: int) -> list:
    """The row's cells for an XLSX sheet: text through safe_xlsx_row (text cells are strings:
    openpyxl only makes a formula of a string starting with "=", which safe_cell never
    leaves), the amount a number shown with two places."""
    from openpyxl.cell import WriteOnlyCell

    cells = safe_xlsx_row(row)
    amount = WriteOnlyCell(sheet, value=Decimal(row[amount_index]))
    amount.number_format = AMOUNT_FORMAT
    cells[amount_index] = amount
    return cells


def write_xlsx(batch: PaymentBatch, output: Path, *, max_rows: int | None = None) -> list[Path]:
    from openpyxl import Workbook

    max_rows = max_rows or MAX_SHEET_ROWS
    amount_index = COLUMNS.index("amount")

    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("汇总")
    title = f"{batch.region.name} {batch.period:%Y-%m} {batch.get_kind_display()}"
    summary.append(safe_xlsx_row([title]))
    header, *totals = totals_rows(batch)
    summary.append(safe_xlsx_row(header))
    for row in totals:
        summary.append(_xlsx_row(summary, row, header.index("amount")))
    sheet, used, number = None, max_rows, 0
    for row in export_rows(batch):
        if used >= max_rows:
            number += 1
            sheet = workbook.create_sheet(f"明细{number}")
            sheet.append(COLUMNS)
            used = 1
        sheet.append(_xlsx_row(sheet, row, amount_index))
        used += 1
    if sheet is None:
        workbook.create_sheet("明细1").append(COLUMNS)
    workbook.save(output)
    return [output]
