"""Import of elders from the street offices' spreadsheets (CSV or XLSX).

Columns: ``id_number,name,hukou_region,residence_region,phone,categories,pension,death_date``,
and optionally the elder's payee account: ``account_channel,bank,account_number,account_holder``
(a column left out changes nothing; a row with all four empty keeps the account on record; an
empty holder is the elder's own name; a bad account number rejects the row naming the field).
Rows are upserted by ID number. Every bad row is rejected on its own with its line number
(header = line 1), the field and a message; bad rows never block good ones, and the second
occurrence of an ID number within one file is rejected. Importing the same file again creates
nothing.

Set-based: the file is parsed and checked in memory, the existing elders, regions and open
categories are each fetched in one query, and the writes are bulk inserts/updates (with their
history rows) in one transaction.

Categories keep their history: each entry of the ``categories`` column (separated by ``|``) is
``code`` (held from the day of the import, unless already held), ``code:YYYY-MM-DD`` (held since
that day) or ``code:YYYY-MM-DD:YYYY-MM-DD`` (held over that period), so that runs for earlier
months (arrears, corrections) see what an elder held then. A start earlier than that of a
period still open moves its start back; an entry that contradicts a period on record is
rejected naming the row, and the import never ends a category still held (that is a
deliberate act: ``end_category`` or ``record_death``).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts import spreadsheets
from accounts.scoping import OutOfScopeWrite, in_write_scope, scoped_for_write
from regions.models import Region
from residents import services
from residents.choices import Category, DisabilityCategory, DisabilityGrade, PensionType
from residents.id_numbers import normalize_id_number, parse_id_number
from residents.models import Elder, ElderCategory
from residents.validators import normalize_phone, validate_phone

COLUMNS = [
    "id_number",
    "name",
    "hukou_region",
    "residence_region",
    "phone",
    "categories",
    "pension",
    "death_date",
]
REQUIRED = ["id_number", "name", "hukou_region"]
# Optional: the disability certificate (残疾人证), both or neither; the columns left out change
# nothing, both cells empty means no certificate (docs/policy.md §1).
DISABILITY_COLUMNS = ["disability_category", "disability_grade"]
DISABILITY_CATEGORY_ALIASES = {
    **{c.value: c.value for c in DisabilityCategory},
    **{str(c.label): c.value for c in DisabilityCategory},
    **{str(c.label).removesuffix("残疾"): c.value for c in DisabilityCategory},
}
DISABILITY_GRADE_ALIASES = {
    **{str(g.value): g.value for g in DisabilityGrade},
    **{f"{g.value}级": g.value for g in DisabilityGrade},
    **{str(g.label): g.value for g in DisabilityGrade},
}
# Optional: where the elder's cash goes (subsidies.payees).
ACCOUNT_COLUMNS = ["account_channel", "bank", "account_number", "account_holder"]
# Street offices type the labels as often as the codes.
PENSION_ALIASES = {
    **{p.value: p.value for p in PensionType},
    **{str(p.label): p.value for p in PensionType},
    "职工": PensionType.EMPLOYEE,
    "城乡居民": PensionType.RESIDENT,
    "居民": PensionType.RESIDENT,
    "": PensionType.NONE,
}
CATEGORY_SEPARATOR = "|"
CATEGORY_DATE_SEPARATOR = ":"
BATCH_SIZE = 1000


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, header)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass(frozen=True)
class CategoryEntry:
    """An entry of the ``categories`` column: a category and, when given, its period."""

    code: str
    start: datetime.date | None = None  # None: from the day of the import
    end: datetime.date | None = None


@dataclass
class ParsedRow:
    line: int
    id_number: str
    name: str
    hukou_region: Region
    residence_region: Region | None
    phone: str
    categories: list[str]
    pension_type: str
    death_date: datetime.date | None
    # What the categories column writes (see _category_writes), decided when checked.
    category_writes: tuple[tuple, ...] = ()
    # (channel, bank, digits, holder) when the row gives an account; None leaves it alone.
    account: tuple[str, str, str, str] | None = None
    # (category, grade) when the file has the columns ("", None: no certificate); None leaves
    # the elder's certificate alone.
    disability: tuple[str, int | None] | None = None
    # False when only the account differs from the registry: the elder's row is not written.
    registry_changes: bool = True


@dataclass
class ImportPlan:
    to_create: list[ParsedRow] = field(default_factory=list)
    to_update: list[tuple[ParsedRow, Elder]] = field(default_factory=list)
    unchanged: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def summary(self) -> str:
        return (
            f"created {len(self.to_create)}, updated {len(self.to_update)}, "
            f"rejected {self.rejected_rows}"
        )


# --- reading ----------------------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_rows(content: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """[(line number, {column: text})] for a CSV or XLSX file; the header is line 1."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        table = _read_xlsx(content)
    elif suffix in (".csv", ".txt"):
        table = _read_csv(content)
    else:
        raise ImportFileError(
            _("不支持的文件类型 %(type)s：请上传 .csv 或 .xlsx 文件。")
            % {"type": suffix or filename}
        )
    if not table:
        raise ImportFileError(_("文件为空：第1行应为表头。"))
    header = [_cell_text(c).lower() for c in table[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            _("第1行表头缺少列：%(missing)s（应为 %(columns)s）。")
            % {"missing": ", ".join(missing), "columns": ",".join(COLUMNS)}
        )
    optional = ACCOUNT_COLUMNS + DISABILITY_COLUMNS
    index = {name: header.index(name) for name in COLUMNS + optional if name in header}
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        texts = [_cell_text(c) for c in cells]
        if not any(texts):
            continue  # blank lines between blocks are common in hand-kept sheets
        rows.append((line, {name: texts[i] if i < len(texts) else "" for name, i in index.items()}))
    return rows


def _read_csv(content: bytes) -> list[list[str]]:
    # Excel on Chinese Windows saves CSV as GB18030, everything else as UTF-8 (maybe with a
    # BOM): one of them for the whole file, or the file is refused naming the row
    # (spreadsheets.read_csv, which also names a row whose field runs past 128 KiB).
    try:
        return spreadsheets.read_csv(content)
    except spreadsheets.SpreadsheetError as error:
        raise ImportFileError(str(error)) from None


def _read_xlsx(content: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(_("无法读取 XLSX 文件：%(error)s") % {"error": error}) from None
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


# --- checking ---------------------------------------------------------------------------------


def _parse_date(text: str) -> datetime.date:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _outside_message(line: int) -> str:
    return _("第 %(line)s 行：该老年人不在您的管辖范围内，本行不导入。") % {"line": line}


def _scope_field(residence: Region | None) -> str:
    # The place that decides, named from the row alone (never from a registered record).
    return "residence_region" if residence is not None else "hukou_region"


def _writable_elders(numbers, by) -> set[int] | None:
    """The primary keys of the registered elders among ``numbers`` that ``by`` may change
    (one query); None: the system, who may change them all."""
    if by is None:
        return None
    elders = scoped_for_write(Elder.objects.filter(id_number__in=numbers), by)
    return set(elders.values_list("pk", flat=True))


def _places_writable(by, elder: Elder | None, hukou: Region, residence: Region | None) -> bool:
    """Whether ``by`` may place an elder (``elder``, or a new one) at these places: the scope
    rule read in memory, on the regions the plan already holds."""
    placed = Elder(hukou_region=hukou, residence_region=residence)
    if elder is not None:
        placed.pk = elder.pk
        placed._state.adding = False
    return in_write_scope(by, placed, as_stored=False)


def plan_import(
    rows: list[tuple[int, dict[str, str]]],
    *,
    today: datetime.date | None = None,
    by=None,
) -> ImportPlan:
    """Check every row and decide what to create and update; writes nothing.

    With ``by`` (the importer), a row is refused when the elder it names is registered outside
    the importer's scope or when its places are: one message for both, so the preview does not
    tell which ID numbers are registered elsewhere, and nothing of such a record is compared or
    shown. ``by`` None is the system (commands), unrestricted."""
    today = today or datetime.date.today()
    plan = ImportPlan()
    region_codes = {r[c] for _, r in rows for c in ("hukou_region", "residence_region") if r[c]}
    regions = {r.code: r for r in Region.objects.filter(code__in=region_codes)}
    numbers = {normalize_id_number(r["id_number"]) for _, r in rows if r["id_number"]}
    existing = {e.id_number: e for e in Elder.objects.filter(id_number__in=numbers)}
    writable = _writable_elders(numbers, by)
    accounts = _accounts_on_record(existing.values(), rows)
    open_categories: dict[int, set[str]] = {}
    periods = _periods_held(existing.values())
    for elder_id, held in periods.items():
        open_categories[elder_id] = {code for _pk, code, _start, end in held if end is None}

    first_line: dict[str, int] = {}
    for line, raw in rows:
        errors: list[RowError] = []

        def fail(column: str, message: str, line=line, errors=errors) -> None:
            errors.append(RowError(line, column, message))

        number = normalize_id_number(raw["id_number"])
        for column in REQUIRED:
            if not raw[column]:
                fail(column, _("必填项为空。"))
        birth_date = None
        if number:
            try:
                birth_date = parse_id_number(number, today=today).birth_date
            except ValidationError as error:
                fail("id_number", " ".join(error.messages))
            if number in first_line:
                fail(
                    "id_number",
                    _("身份证号与第%(line)s行重复，本行不导入。") % {"line": first_line[number]},
                )
            else:
                first_line[number] = line
        name = raw["name"]
        if len(name) > 50:
            fail("name", _("姓名不能超过50个字符。"))
        hukou = regions.get(raw["hukou_region"])
        if raw["hukou_region"] and hukou is None:
            fail("hukou_region", _("区划代码 %(code)s 不存在。") % {"code": raw["hukou_region"]})
        residence = regions.get(raw["residence_region"]) if raw["residence_region"] else None
        if raw["residence_region"] and residence is None:
            fail(
                "residence_region",
                _("区划代码 %(code)s 不存在。") % {"code": raw["residence_region"]},
            )
        phone = normalize_phone(raw["phone"])
        try:
            validate_phone(phone)
        except ValidationError as error:
            fail("phone", " ".join(error.messages))
        entries = _parse_categories(raw["categories"], fail, today=today, birth_date=birth_date)
        categories = list(dict.fromkeys(entry.code for entry in entries))
        pension = PENSION_ALIASES.get(raw["pension"])
        if pension is None:
            fail(
                "pension",
                _("养老保险类型 %(value)s 无效：应为 employee、resident 或 none。")
                % {"value": raw["pension"]},
            )
        account = _parse_account(raw, fail)
        disability = _parse_disability(raw, fail)
        death_date = None
        if raw["death_date"]:
            try:
                death_date = _parse_date(raw["death_date"])
            except ValueError:
                fail(
                    "death_date",
                    _("日期 %(value)s 无效：应为 YYYY-MM-DD。") % {"value": raw["death_date"]},
                )
            else:
                if death_date > today:
                    fail("death_date", _("死亡日期 %(date)s 晚于今天。") % {"date": death_date})
                elif birth_date and death_date < birth_date:
                    fail(
                        "death_date",
                        _("死亡日期 %(date)s 早于出生日期 %(birth)s。")
                        % {"date": death_date, "birth": birth_date},
                    )
        elder = existing.get(number)
        if by is not None and (
            (elder is not None and elder.pk not in writable)
            or (hukou is not None and not _places_writable(by, elder, hukou, residence))
        ):
            fail(_scope_field(residence), _outside_message(line))
            plan.errors.extend(errors)
            continue
        if account is not None and by is not None and not _account_writable(by, hukou, residence):
            fail(
                "account_number",
                _("第 %(line)s 行：您无权登记该老年人的领取账户，本行不导入。") % {"line": line},
            )
        if elder is not None and death_date and elder.death_date not in (None, death_date):
            fail(
                "death_date",
                _("已登记死亡日期 %(date)s，与本行不一致。") % {"date": elder.death_date},
            )
        writes: list[tuple] = []
        if not errors and (elder is None or elder.death_date is None):
            held = periods.get(elder.pk, []) if elder is not None else []
            writes, messages = _category_writes(entries, held, today=today, death_date=death_date)
            for message in messages:
                fail("categories", message)
        if errors:
            plan.errors.extend(errors)
            continue

        parsed = ParsedRow(
            line=line,
            id_number=number,
            name=name,
            hukou_region=hukou,
            residence_region=residence,
            phone=phone,
            categories=categories,
            pension_type=pension,
            death_date=death_date,
            category_writes=tuple(writes),
            account=account,
            disability=disability,
        )
        if elder is None:
            plan.to_create.append(parsed)
        elif (registry := _changes(parsed, elder, open_categories.get(elder.pk, set()))) or (
            account is not None and _account_changes(account, elder, accounts.get(elder.pk))
        ):
            parsed.registry_changes = registry
            plan.to_update.append((parsed, elder))
        else:
            plan.unchanged.append(parsed)
    return plan


def _parse_categories(text: str, fail, *, today, birth_date) -> list[CategoryEntry]:
    """The entries of the ``categories`` column, each checked: a known code, dates as
    YYYY-MM-DD, not after today, not before the birth date, the end not before the start."""
    entries: list[CategoryEntry] = []
    for item in (c.strip() for c in text.split(CATEGORY_SEPARATOR)):
        if not item:
            continue
        code, *dates = (part.strip() for part in item.split(CATEGORY_DATE_SEPARATOR))
        if code not in Category.values:
            fail("categories", _("未知的类别代码 %(code)s。") % {"code": code})
            continue
        if len(dates) > 2:
            fail(
                "categories",
                _("类别 %(item)s 格式无效：应为 代码、代码:起始日期 或 代码:起始日期:终止日期。")
                % {"item": item},
            )
            continue
        parsed = []
        for name, value in zip((_("起始日期"), _("终止日期")), dates, strict=False):
            named = {"code": code, "name": name, "value": value}
            try:
                day = _parse_date(value)
            except ValueError:
                fail(
                    "categories",
                    _("类别 %(code)s 的%(name)s %(value)s 无效：应为 YYYY-MM-DD。") % named,
                )
                break
            named["value"] = day
            if day > today:
                fail("categories", _("类别 %(code)s 的%(name)s %(value)s 晚于今天。") % named)
                break
            if birth_date and day < birth_date:
                fail(
                    "categories",
                    _("类别 %(code)s 的%(name)s %(value)s 早于出生日期 %(birth)s。")
                    % {**named, "birth": birth_date},
                )
                break
            parsed.append(day)
        else:
            start, end = (parsed + [None, None])[:2]
            if start and end and end < start:
                fail(
                    "categories",
                    _("类别 %(code)s 的终止日期 %(end)s 早于起始日期 %(start)s。")
                    % {"code": code, "end": end, "start": start},
                )
                continue
            entry = CategoryEntry(code, start, end)
            if entry not in entries:
                entries.append(entry)
    return entries


def _periods_held(elders) -> dict[int, list[tuple]]:
    """{elder id: [(period id, code, start, end)]} of ``elders``, one query."""
    periods: dict[int, list[tuple]] = {}
    for pk, elder_id, code, start, end in ElderCategory.objects.filter(
        elder__in=list(elders)
    ).values_list("pk", "elder_id", "category", "start_date", "end_date"):
        periods.setdefault(elder_id, []).append((pk, code, start, end))
    return periods


def _overlap(start, end, other_start, other_end) -> bool:
    return (other_end is None or start <= other_end) and (end is None or other_start <= end)


def _category_writes(
    entries, held: list[tuple], *, today: datetime.date, death_date: datetime.date | None
) -> tuple[list[tuple], list[str]]:
    """What the row's entries write beside the periods ``held`` (period id, code, start, end):
    ``("new", code, start, end)`` and ``("start", period id, start)`` (an open period started
    earlier); and the messages of the entries that contradict the record or one another. An
    elder dead at the import (a new one) held each category at most until the death date."""
    writes, messages = [], []
    periods = list(held)
    for entry in entries:
        label = Category(entry.code).label
        start, end = entry.start, entry.end
        if death_date is not None:
            if start and start > death_date:
                messages.append(
                    _("类别 %(code)s 的起始日期 %(date)s 晚于死亡日期 %(death)s。")
                    % {"code": entry.code, "date": start, "death": death_date}
                )
                continue
            if end and end > death_date:
                messages.append(
                    _("类别 %(code)s 的终止日期 %(date)s 晚于死亡日期 %(death)s。")
                    % {"code": entry.code, "date": end, "death": death_date}
                )
                continue
            end = end or death_date
        same = [p for p in periods if p[1] == entry.code]
        opened = next((p for p in same if p[3] is None), None)
        if start is None:
            # A plain code keeps its meaning: held from the day of the import unless held now.
            if opened is None and not any(p[3] is not None and p[3] >= today for p in same):
                start = min(today, end) if end else today
                writes.append(("new", entry.code, start, end))
                periods.append((None, entry.code, start, end))
            continue
        if (entry.code, start, end) in {(p[1], p[2], p[3]) for p in same}:
            continue
        if end is None and opened is not None:
            if start < opened[2]:
                clash = [p for p in same if p is not opened and _overlap(start, opened[2], *p[2:])]
                if not clash:
                    if opened[0] is None:
                        writes = [w for w in writes if w[1:] != (entry.code, opened[2], None)]
                        writes.append(("new", entry.code, start, None))
                    else:
                        writes.append(("start", opened[0], start))
                    periods[periods.index(opened)] = (opened[0], entry.code, start, None)
                    continue
            else:
                continue  # held since earlier already
        clash = next((p for p in same if _overlap(start, end, *p[2:])), None)
        if clash is not None:
            messages.append(
                _(
                    "类别 %(code)s（%(label)s）%(start)s–%(end)s 与已登记的 %(held_start)s–"
                    "%(held_end)s 重叠；导入不结束仍在享受的类别，请先在名册中终止。"
                )
                % {
                    "code": entry.code,
                    "label": label,
                    "start": start,
                    "end": end or _("至今"),
                    "held_start": clash[2],
                    "held_end": clash[3] or _("至今"),
                }
            )
            continue
        writes.append(("new", entry.code, start, end))
        periods.append((None, entry.code, start, end))
    return writes, messages


def _parse_account(raw: dict[str, str], fail) -> tuple[str, str, str, str] | None:
    """The row's account, checked (subsidies.payees.clean_account_number), or None when the
    row gives none."""
    from subsidies.payees import clean_account_number

    given = {column: raw.get(column, "") for column in ACCOUNT_COLUMNS}
    if not any(given.values()):
        return None
    failed = False
    for column in ("account_channel", "bank", "account_number"):
        if not given[column]:
            fail(column, _("填写领取账户时此项必填。"))
            failed = True
    if failed:
        return None
    try:
        digits = clean_account_number(given["account_channel"], given["account_number"])
    except ValidationError as error:
        for column, messages in error.message_dict.items():
            fail(column, " ".join(messages))
        return None
    if len(given["bank"]) > 100 or len(given["account_holder"]) > 100:
        fail("bank" if len(given["bank"]) > 100 else "account_holder", _("不能超过100个字符。"))
        return None
    return given["account_channel"], given["bank"], digits, given["account_holder"]


def _account_writable(by, hukou: Region | None, residence: Region | None) -> bool:
    from accounts.scoping import in_write_scope
    from subsidies.models import PayeeAccount

    if hukou is None:
        return True  # the row is already refused for its place
    return in_write_scope(
        by,
        PayeeAccount(elder=Elder(hukou_region=hukou, residence_region=residence)),
        as_stored=False,
    )


def _accounts_on_record(elders, rows) -> dict:
    """{elder id: their account} for the registered elders of a file that gives accounts (one
    query); empty when the file has no account columns."""
    from subsidies.models import PayeeAccount

    if not any(row.get("account_number") for _line, row in rows):
        return {}
    return {a.elder_id: a for a in PayeeAccount.objects.filter(elder__in=list(elders))}


def _account_changes(account: tuple[str, str, str, str], elder: Elder, current) -> bool:
    """Whether the row's account differs from ``current`` (the elder's account on record, or
    None); the stored number is decrypted only when everything else is equal."""
    from subsidies.payees import account_number

    channel, bank, digits, holder = account
    return (
        current is None
        or (current.channel, current.bank, current.holder_name)
        != (channel, bank, holder or elder.name)
        or current.account_last4 != digits[-4:]
        or account_number(current) != digits
    )


def _parse_disability(raw: dict[str, str], fail) -> tuple[str, int | None] | None:
    """The certificate of the row: None without the columns; codes or labels (精神, 精神残疾,
    mental; 3, 3级, 三级); both or neither."""
    if not any(column in raw for column in DISABILITY_COLUMNS):
        return None
    category_text = raw.get("disability_category", "")
    grade_text = raw.get("disability_grade", "")
    category = DISABILITY_CATEGORY_ALIASES.get(category_text) if category_text else ""
    grade = DISABILITY_GRADE_ALIASES.get(grade_text) if grade_text else None
    if category is None:
        fail(
            "disability_category",
            _("残疾类别 %(value)s 无效：应为 %(codes)s 或其中文名称。")
            % {"value": category_text, "codes": "、".join(DisabilityCategory.values)},
        )
    if grade_text and grade is None:
        fail(
            "disability_grade",
            _("残疾等级 %(value)s 无效：应为 1–4（一级至四级）。") % {"value": grade_text},
        )
    if category is None or (grade_text and grade is None):
        return None
    if bool(category) != (grade is not None):
        missing = "disability_grade" if category else "disability_category"
        fail(missing, _("残疾类别和残疾等级须同时填写或同时留空。"))
        return None
    return category, grade


def _changes(row: ParsedRow, elder: Elder, held: set[str]) -> bool:
    new_categories = bool(row.category_writes) if elder.death_date is None else False
    return bool(
        row.name != elder.name
        or row.hukou_region.pk != elder.hukou_region_id
        or (row.residence_region.pk if row.residence_region else None) != elder.residence_region_id
        or row.phone != elder.phone
        or row.pension_type != elder.pension_type
        or (row.death_date and elder.death_date is None)
        or new_categories
        or (
            row.disability is not None
            and row.disability != (elder.disability_category, elder.disability_grade)
        )
    )


# --- writing ----------------------------------------------------------------------------------


def _require_plan_in_scope(plan: ImportPlan, by) -> None:
    """A plan is applied only by a writer it lies within (plan_import refuses the rows outside
    ``by``'s scope; a plan checked for another writer is refused here, naming the row)."""
    if by is None:
        return
    updated = [elder for _, elder in plan.to_update]
    writable = _writable_elders([e.id_number for e in updated], by)
    for row, elder in [(row, None) for row in plan.to_create] + plan.to_update:
        inside = elder is None or elder.pk in writable
        if not inside or not _places_writable(by, elder, row.hukou_region, row.residence_region):
            raise OutOfScopeWrite(
                _outside_message(row.line), field=_scope_field(row.residence_region)
            )


@transaction.atomic
def apply_import(plan: ImportPlan, *, today: datetime.date | None = None, by=None) -> None:
    """Write a checked plan: bulk inserts and updates with history, in one transaction."""
    today = today or datetime.date.today()
    _require_plan_in_scope(plan, by)
    new_elders = []
    for row in plan.to_create:
        elder = Elder(
            id_number=row.id_number,
            name=row.name,
            hukou_region=row.hukou_region,
            residence_region=row.residence_region,
            phone=row.phone,
            pension_type=row.pension_type,
            disability_category=row.disability[0] if row.disability else "",
            disability_grade=row.disability[1] if row.disability else None,
            death_date=row.death_date,
        )
        services.apply_id_number_facts(elder)
        # Regions are already resolved and the ID number checked for duplicates in one query:
        # skip the per-row database look-ups of full_clean.
        elder.clean_fields(exclude=["hukou_region", "residence_region"])
        new_elders.append(elder)
    created = bulk_create_with_history(new_elders, Elder, batch_size=BATCH_SIZE, default_user=by)
    # SQLite and PostgreSQL return primary keys from bulk_create; fetch them if a backend did not.
    if created and created[0].pk is None:
        ids = dict(
            Elder.objects.filter(id_number__in=[e.id_number for e in created]).values_list(
                "id_number", "pk"
            )
        )
        for elder in created:
            elder.pk = ids[elder.id_number]

    deaths: list[tuple[Elder, datetime.date]] = []
    changed = []
    for row, elder in plan.to_update:
        elder.name = row.name
        elder.hukou_region = row.hukou_region
        elder.residence_region = row.residence_region
        elder.phone = row.phone
        elder.pension_type = row.pension_type
        if row.disability is not None:
            elder.disability_category, elder.disability_grade = row.disability
        if not row.registry_changes:
            continue  # only the account is new: no registry row or history to write
        elder.updated_at = timezone.now()  # bulk_update does not apply auto_now
        elder.clean_fields(exclude=["hukou_region", "residence_region"])
        changed.append(elder)
        if row.death_date and elder.death_date is None:
            deaths.append((elder, row.death_date))
    if changed:
        bulk_update_with_history(
            changed,
            Elder,
            [
                "name",
                "hukou_region",
                "residence_region",
                "phone",
                "pension_type",
                "disability_category",
                "disability_grade",
                "updated_at",
            ],
            batch_size=BATCH_SIZE,
            default_user=by,
        )

    periods, moved = [], {}
    rows_and_elders = [
        (row, elder, True) for row, elder in zip(plan.to_create, created, strict=True)
    ]
    rows_and_elders += [
        (row, elder, False) for row, elder in plan.to_update if elder.death_date is None
    ]
    for row, elder, _is_new in rows_and_elders:
        for write in row.category_writes:
            if write[0] == "start":
                moved[write[1]] = write[2]
                continue
            _new, category, start, end = write
            periods.append(
                ElderCategory(
                    elder=elder,
                    category=category,
                    start_date=start,
                    end_date=end,
                    note="批量导入",
                )
            )
    bulk_create_with_history(periods, ElderCategory, batch_size=BATCH_SIZE, default_user=by)
    # Open periods the file says began earlier: their start moved back, with history.
    earlier = list(ElderCategory.objects.filter(pk__in=moved, end_date__isnull=True))
    for period in earlier:
        period.start_date = moved[period.pk]
    if earlier:
        bulk_update_with_history(
            earlier, ElderCategory, ["start_date"], batch_size=BATCH_SIZE, default_user=by
        )

    # Accounts go through the one service that checks, encrypts and writes them, keeps their
    # history and releases the lines held for want of them: all the file's accounts at once.
    from subsidies.payees import AccountEntry, set_payee_accounts

    set_payee_accounts(
        [
            AccountEntry(elder, *row.account, row=row.line)
            for row, elder, _is_new in rows_and_elders
            + [(row, elder, False) for row, elder in plan.to_update if elder.death_date is not None]
            if row.account is not None
        ],
        by=by,
    )

    # Deaths of registered elders reach other apps (bed, visits, allowances): rare, one by one.
    for elder, death_date in deaths:
        services.record_death(elder=elder, death_date=death_date, by=by)


def import_elders(
    content: bytes,
    filename: str,
    *,
    dry_run: bool = False,
    today: datetime.date | None = None,
    by=None,
) -> ImportPlan:
    plan = plan_import(read_rows(content, filename), today=today, by=by)
    if not dry_run:
        apply_import(plan, today=today, by=by)
    return plan


def errors_csv(errors: list[RowError]) -> str:
    """The rejected rows as CSV (row, field, message), every cell through safe_cell: messages
    quote what the row held."""
    return spreadsheets.csv_text(
        [["row", "field", "message"], *([e.row, e.field, e.message] for e in errors)]
    )
