"""Providers' monthly spreadsheets of deliveries in kind (CSV or XLSX): every row checked and
every bad row reported naming its line and field; good rows recorded through
``record_delivery`` (the same row again changes nothing)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import spreadsheets
from accounts.scoping import OutOfScopeWrite
from residents.id_numbers import validate_id_number
from residents.importing import ImportFileError, RowError, _cell_text, _parse_date, _read_xlsx
from residents.models import Elder
from servicelist.choices import DeliverySource
from servicelist.item_services import record_item_delivery
from servicelist.services import find_item, find_provider

# Other systems script against these names: append, never rename.
COLUMNS = ["item", "id_number", "date", "provider", "quantity", "amount"]
# Read when the file has them: a respite stay's last day (its first is ``date``).
OPTIONAL_COLUMNS = ["end_date"]


@dataclass
class DeliveryImport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, rejected {self.rejected}"


def read_rows(content: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """[(line, {column: text})]; the header is line 1 and must name every column."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        table = _read_xlsx(content)
    elif suffix in (".csv", ".txt"):
        try:
            table = spreadsheets.read_csv(content)
        except spreadsheets.SpreadsheetError as error:
            raise ImportFileError(str(error)) from None
    else:
        raise ImportFileError(f"不支持的文件类型 {suffix or filename}：请上传 .csv 或 .xlsx 文件。")
    if not table:
        raise ImportFileError("文件为空：第1行应为表头。")
    header = [_cell_text(c).lower() for c in table[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            f"第1行表头缺少列：{', '.join(missing)}（应为 {','.join(COLUMNS)}）。"
        )
    index = {name: header.index(name) for name in COLUMNS}
    index.update({name: header.index(name) for name in OPTIONAL_COLUMNS if name in header})
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        texts = [_cell_text(c) for c in cells]
        if any(texts):
            rows.append((line, {n: texts[i] if i < len(texts) else "" for n, i in index.items()}))
    return rows


def _decimal(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError({name: f"“{text}”不是数字。"}) from None
    if not value.is_finite() or value < 0:
        raise ValidationError({name: f"“{text}”应为不小于 0 的数字。"})
    return value.quantize(Decimal("0.01"))


def _date(text: str) -> datetime.date:
    try:
        return _parse_date(text)
    except ValueError:
        raise ValidationError({"date": f"“{text}”不是日期（YYYY-MM-DD）。"}) from None


def _first_error(error: ValidationError) -> tuple[str, str]:
    if hasattr(error, "error_dict"):
        name, messages = next(iter(error.message_dict.items()))
        return name, "；".join(messages)
    return "item", "；".join(error.messages)


def import_deliveries(
    content: bytes, filename: str, *, dry_run: bool = False, by=None
) -> DeliveryImport:
    """Check every row; record the good ones unless ``dry_run`` (each row in its own
    savepoint, so a bad row never undoes a good one). ``by`` must cover each row's elder."""
    rows = read_rows(content, filename)
    numbers = {r["id_number"].upper() for _line, r in rows}
    elders = {e.id_number: e for e in Elder.objects.filter(id_number__in=numbers)}
    result = DeliveryImport()
    for line, row in rows:
        try:
            with transaction.atomic():
                outcome = _import_row(row, elders, by=by)
                if dry_run:
                    transaction.set_rollback(True)
        except (ValidationError, OutOfScopeWrite) as error:
            if isinstance(error, OutOfScopeWrite):
                name, message = "id_number", error.message
            else:
                name, message = _first_error(error)
            result.errors.append(RowError(row=line, field=name, message=message))
            continue
        if outcome.created:
            result.created += 1
        elif outcome.updated:
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def _import_row(row: dict[str, str], elders: dict[str, Elder], *, by):
    if not row["item"]:
        raise ValidationError({"item": "请填写服务项目代码（区划代码:序号，如 330106:10）。"})
    number = row["id_number"].upper()
    try:
        validate_id_number(number)
    except ValidationError as error:
        raise ValidationError({"id_number": error.messages}) from None
    elder = elders.get(number)
    if elder is None:
        raise ValidationError({"id_number": "名册中没有此身份证号的老年人。"})
    if not row["date"]:
        raise ValidationError({"date": "请填写服务日期。"})
    on = _date(row["date"])
    item = find_item(row["item"], on)
    quantity = _decimal(row["quantity"], "quantity")
    amount = _decimal(row["amount"], "amount")
    provider = find_provider(row["provider"])
    return record_item_delivery(
        item=item,
        elder=elder,
        delivered_on=on,
        end_on=_end_date(row.get("end_date", "")),
        provider=provider,
        quantity=quantity,
        amount=amount,
        source=DeliverySource.IMPORT,
        by=by,
    )


def _end_date(text: str) -> datetime.date | None:
    """A respite stay's last day (the optional column ``end_date``)."""
    if not text:
        return None
    try:
        return _parse_date(text)
    except ValueError:
        raise ValidationError(
            {"end_date": _("“%(text)s”不是日期（YYYY-MM-DD）。") % {"text": text}}
        ) from None


def errors_csv(errors: list[RowError]) -> str:
    return spreadsheets.csv_text(
        [["row", "field", "message"], *([e.row, e.field, e.message] for e in errors)]
    )
