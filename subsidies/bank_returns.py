"""The bank's return file (回盘文件), read for reconcile_batch, and its preview for the admin.

The file is a CSV (UTF-8, with or without BOM, or GB18030: one encoding for the whole file) or
an XLSX (first sheet) with a header row: ``reference`` (the line reference PL…, as exported,
or an insurer's row PI…: all its premiums in the batch) or ``id_number`` (all the person's — or
the insurer's — lines in the batch), ``status`` (``paid`` or ``failed``), ``bank_reference``
and optionally ``message``. Row numbers are the file's line numbers, the header being row 1,
as reconcile_batch reports them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import spreadsheets
from subsidies import exporting
from subsidies.choices import LineStatus
from subsidies.models import PaymentBatch, line_reference
from subsidies.selectors import live_lines, payee_id_number, payee_name

BANK_STATUSES = {"paid": LineStatus.PAID, "failed": LineStatus.FAILED}
HEADER_HELP = gettext_lazy("回盘文件表头应包含 status 以及 reference 或 id_number。")


@dataclass(frozen=True)
class BankReturnRow:
    row: int  # line number in the file, header = 1
    reference: str
    id_number: str
    status: str
    bank_reference: str
    message: str = ""


def _cell(value) -> str:
    return "" if value is None else str(value).strip()


def _records_from_csv(data: bytes) -> tuple[list[str], list[dict]]:
    # One encoding for the whole file (UTF-8, else GB18030), or refused naming the row: a
    # mixed file would match references against mojibake.
    try:
        rows = spreadsheets.read_csv(data)
    except spreadsheets.SpreadsheetError as error:
        raise ValidationError(_("回盘文件：%(error)s") % {"error": error}) from None
    header = [_cell(c) for c in rows[0]] if rows else []
    return header, [dict(zip(header, row, strict=False)) for row in rows[1:]]


def _records_from_xlsx(data: bytes) -> tuple[list[str], list[dict]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises several types for a file that is not a workbook
        raise ValidationError(_("无法读取该 XLSX 文件。")) from None
    rows = workbook.worksheets[0].iter_rows(values_only=True)
    header = [_cell(c) for c in next(rows, ())]
    records = [dict(zip(header, (_cell(c) for c in row), strict=False)) for row in rows]
    workbook.close()
    return header, records


def parse_bank_return(data: bytes, file_name: str = "") -> list[BankReturnRow]:
    """The rows of a bank return file; a bad file or header is a ValidationError saying what
    is expected. Rows are not checked against a batch here (see preview / reconcile_batch)."""
    is_xlsx = file_name.lower().endswith(".xlsx") or data[:2] == b"PK"
    header, records = (_records_from_xlsx if is_xlsx else _records_from_csv)(data)
    columns = {c.strip() for c in header if c}
    if "status" not in columns or not columns & {"reference", "id_number"}:
        raise ValidationError(HEADER_HELP)
    return [
        BankReturnRow(
            row=number,
            reference=_cell(record.get("reference")),
            id_number=_cell(record.get("id_number")),
            status=_cell(record.get("status")),
            bank_reference=_cell(record.get("bank_reference")),
            message=_cell(record.get("message")),
        )
        for number, record in enumerate(records, start=2)
        if any(_cell(v) for v in record.values())  # blank lines at the end of a sheet
    ]


@dataclass
class PreviewRow:
    row: BankReturnRow
    status: str = ""  # "paid" / "failed" once valid
    lines: list[dict] = field(default_factory=list)  # the batch's lines this row names
    errors: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.errors


@dataclass
class BankReturnPreview:
    rows: list[PreviewRow]
    pending_after: int  # lines of the batch still without an outcome if this file is applied

    @property
    def errors(self) -> list[str]:
        return [e for r in self.rows for e in r.errors]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors

    def _outcomes(self) -> dict[int, tuple[str, Decimal]]:
        # As reconcile_batch: one outcome per line, a later row naming the same line wins.
        return {
            line["pk"]: (r.status, line["amount"])
            for r in self.rows
            if r.matched
            for line in r.lines
        }

    @property
    def paid_count(self) -> int:
        return sum(1 for status, _ in self._outcomes().values() if status == "paid")

    @property
    def failed_count(self) -> int:
        return sum(1 for status, _ in self._outcomes().values() if status == "failed")

    @property
    def paid_amount(self) -> Decimal:
        return sum(
            (amount for status, amount in self._outcomes().values() if status == "paid"),
            Decimal("0.00"),
        )


def preview(batch: PaymentBatch, rows: list[BankReturnRow]) -> BankReturnPreview:
    """Each row matched against the batch's lines as reconcile_batch will match them (by line
    reference, else by the payee's ID number), with every problem named by row and field.
    Reads only; one query for the batch's lines."""
    by_reference: dict[str, list[dict]] = {}
    by_person: dict[str, list[dict]] = {}
    lines = list(
        live_lines(batch)
        .annotate(payee_id_number=payee_id_number(), payee_name=payee_name())
        .values(
            "pk",
            "payee_id_number",
            "payee_name",
            "scheme__label",
            "amount",
            "status",
            "insurer_id",
        )
    )
    for line in lines:
        line["reference"] = line_reference(line["pk"])
        by_reference[line["reference"]] = [line]
        by_person.setdefault((line["payee_id_number"] or "").upper(), []).append(line)
    # An insurer's row of the bank's file (its premiums as one transfer) is answered by its
    # reference: all its lines of the batch.
    for line in lines:
        if line["insurer_id"]:
            folded = exporting.insurer_reference(batch.pk, line["insurer_id"])
            by_reference.setdefault(folded, []).append(line)
    result, named = [], set()
    for row in rows:
        item = PreviewRow(row=row)
        status = row.status.strip().lower()
        if status not in BANK_STATUSES:
            item.errors.append(
                _("第%(row)s行 status：%(value)s 应为 paid 或 failed")
                % {"row": row.row, "value": repr(row.status)}
            )
        else:
            item.status = status
        if row.reference:
            targets = by_reference.get(row.reference.strip().upper(), [])
            field_name = "reference"
        elif row.id_number:
            targets = by_person.get(row.id_number.strip().upper(), [])
            field_name = "id_number"
        else:
            targets, field_name = [], "reference"
        if not targets:
            value = row.reference or row.id_number
            item.errors.append(
                _("第%(row)s行 %(field)s：本批次中没有该明细或该身份证号（%(value)s）")
                % {"row": row.row, "field": field_name, "value": value or _("空")}
            )
        item.lines = targets
        named.update(line["pk"] for line in targets)
        result.append(item)
    pending_after = sum(
        1 for line in lines if line["status"] == LineStatus.PENDING and line["pk"] not in named
    )
    return BankReturnPreview(rows=result, pending_after=pending_after)
