"""Spreadsheets of the service list (CSV or XLSX): providers' monthly deliveries in kind and
satisfaction survey sheets. Every row is checked and every bad row reported naming its line
and field; good rows are recorded through ``record_delivery`` or ``record_survey`` (the same
row again changes nothing)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
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
from servicelist.choices import DeliverySource, SurveySource
from servicelist.services import (
    find_item,
    find_provider,
    record_delivery,
    record_survey,
)

# Other systems script against these names: append, never rename.
COLUMNS = ["item", "id_number", "date", "provider", "quantity", "amount"]
# Read when the file has them: a respite stay's last day (its first is ``date``).
OPTIONAL_COLUMNS = ["end_date"]
SURVEY_COLUMNS = ["item", "provider", "id_number", "date", "score", "comment"]


@dataclass
class ImportResult:
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


def read_rows(
    content: bytes, filename: str, columns: list[str] = COLUMNS
) -> list[tuple[int, dict[str, str]]]:
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
        raise ImportFileError(
            _("不支持的文件类型 %(type)s：请上传 .csv 或 .xlsx 文件。")
            % {"type": suffix or filename}
        )
    if not table:
        raise ImportFileError(_("文件为空：第1行应为表头。"))
    header = [_cell_text(c).lower() for c in table[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ImportFileError(
            _("第1行表头缺少列：%(missing)s（应为 %(columns)s）。")
            % {"missing": ", ".join(missing), "columns": ",".join(columns)}
        )
    index = {name: header.index(name) for name in columns}
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
        raise ValidationError({name: _("“%(text)s”不是数字。") % {"text": text}}) from None
    if not value.is_finite() or value < 0:
        raise ValidationError({name: _("“%(text)s”应为不小于 0 的数字。") % {"text": text}})
    return value.quantize(Decimal("0.01"))


def _date(text: str) -> datetime.date:
    if not text:
        raise ValidationError({"date": _("请填写日期（YYYY-MM-DD）。")})
    try:
        return _parse_date(text)
    except ValueError:
        raise ValidationError(
            {"date": _("“%(text)s”不是日期（YYYY-MM-DD）。") % {"text": text}}
        ) from None


def _first_error(error: ValidationError) -> tuple[str, str]:
    if hasattr(error, "error_dict"):
        name, messages = next(iter(error.message_dict.items()))
        return name, "；".join(messages)
    return "item", "；".join(error.messages)


def _elder(row: dict[str, str], elders: dict[str, Elder]) -> Elder:
    number = row["id_number"].upper()
    try:
        validate_id_number(number)
    except ValidationError as error:
        raise ValidationError({"id_number": error.messages}) from None
    elder = elders.get(number)
    if elder is None:
        raise ValidationError({"id_number": _("名册中没有此身份证号的老年人。")})
    return elder


def _import(
    content: bytes,
    filename: str,
    columns: list[str],
    record_row: Callable,
    *,
    dry_run: bool,
    by,
) -> ImportResult:
    """Check every row; record the good ones unless ``dry_run`` (each row in its own
    savepoint, so a bad row never undoes a good one). ``record_row(row, elder)`` records one
    row and returns the service's result (created, updated)."""
    rows = read_rows(content, filename, columns)
    numbers = {r["id_number"].upper() for _line, r in rows}
    elders = {
        e.id_number: e
        for e in Elder.objects.filter(id_number__in=numbers).select_related(
            "residence_region", "hukou_region"
        )
    }
    result = ImportResult()
    for line, row in rows:
        try:
            with transaction.atomic():
                outcome = record_row(row, _elder(row, elders), by)
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


def _delivery_row(row: dict[str, str], elder: Elder, by):
    if not row["item"]:
        raise ValidationError({"item": _("请填写服务项目代码（区划代码:序号，如 330106:10）。")})
    on = _date(row["date"])
    item = find_item(row["item"], on)
    quantity = _decimal(row["quantity"], "quantity")
    amount = _decimal(row["amount"], "amount")
    return record_delivery(
        item=item,
        elder=elder,
        delivered_on=on,
        end_on=_end_date(row.get("end_date", "")),
        provider=find_provider(row["provider"]),
        quantity=quantity,
        amount=amount,
        source=DeliverySource.IMPORT,
        by=by,
    )


def import_deliveries(
    content: bytes, filename: str, *, dry_run: bool = False, by=None
) -> ImportResult:
    """Providers' deliveries in kind, columns ``COLUMNS``. ``by`` must cover each row's elder."""
    return _import(content, filename, COLUMNS, _delivery_row, dry_run=dry_run, by=by)


def _score(text: str) -> int:
    if not text:
        raise ValidationError({"score": _("请填写满意度（1 很不满意 至 5 很满意）。")})
    if not text.isdigit():
        raise ValidationError(
            {
                "score": _("满意度“%(score)s”应为 1（很不满意）至 5（很满意）的整数。")
                % {"score": text}
            }
        )
    return int(text)


def _survey_row(row: dict[str, str], elder: Elder, by):
    on = _date(row["date"])
    item = find_item(row["item"], on, delivered=False) if row["item"] else None
    return record_survey(
        elder=elder,
        surveyed_on=on,
        score=_score(row["score"]),
        item=item,
        provider=find_provider(row["provider"], required=False),
        comment=row["comment"],
        source=SurveySource.IMPORT,
        by=by,
    )


def import_surveys(
    content: bytes, filename: str, *, dry_run: bool = False, by=None
) -> ImportResult:
    """Satisfaction survey sheets, columns ``SURVEY_COLUMNS`` (item or provider, or both; the
    comment may be empty). ``by`` must cover each row's elder."""
    return _import(content, filename, SURVEY_COLUMNS, _survey_row, dry_run=dry_run, by=by)


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
