"""Import of elders from the street offices' spreadsheets (CSV or XLSX).

Columns: ``id_number,name,hukou_region,residence_region,phone,categories,pension,death_date``.
Rows are upserted by ID number. Every bad row is rejected on its own with its line number
(header = line 1), the field and a message; bad rows never block good ones, and the second
occurrence of an ID number within one file is rejected. Importing the same file again creates
nothing.

Set-based: the file is parsed and checked in memory, the existing elders, regions and open
categories are each fetched in one query, and the writes are bulk inserts/updates (with their
history rows) in one transaction. Listed categories are opened from the import date when the
elder does not already hold them; the import never ends a category (that is a deliberate act:
``end_category`` or ``record_death``).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts import spreadsheets
from accounts.scoping import OutOfScopeWrite, in_write_scope, scoped_for_write
from regions.models import Region
from residents import services
from residents.choices import Category, PensionType
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
BATCH_SIZE = 1000


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, header)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


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
        raise ImportFileError(f"无法读取 XLSX 文件：{error}") from None
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
    return f"第 {line} 行：该老年人不在您的管辖范围内，本行不导入。"


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
    open_categories: dict[int, set[str]] = {}
    for elder_id, category in ElderCategory.objects.filter(
        elder__in=existing.values(), end_date__isnull=True
    ).values_list("elder_id", "category"):
        open_categories.setdefault(elder_id, set()).add(category)

    first_line: dict[str, int] = {}
    for line, raw in rows:
        errors: list[RowError] = []

        def fail(column: str, message: str, line=line, errors=errors) -> None:
            errors.append(RowError(line, column, message))

        number = normalize_id_number(raw["id_number"])
        for column in REQUIRED:
            if not raw[column]:
                fail(column, "必填项为空。")
        birth_date = None
        if number:
            try:
                birth_date = parse_id_number(number, today=today).birth_date
            except ValidationError as error:
                fail("id_number", " ".join(error.messages))
            if number in first_line:
                fail("id_number", f"身份证号与第{first_line[number]}行重复，本行不导入。")
            else:
                first_line[number] = line
        name = raw["name"]
        if len(name) > 50:
            fail("name", "姓名不能超过50个字符。")
        hukou = regions.get(raw["hukou_region"])
        if raw["hukou_region"] and hukou is None:
            fail("hukou_region", f"区划代码 {raw['hukou_region']} 不存在。")
        residence = regions.get(raw["residence_region"]) if raw["residence_region"] else None
        if raw["residence_region"] and residence is None:
            fail("residence_region", f"区划代码 {raw['residence_region']} 不存在。")
        phone = normalize_phone(raw["phone"])
        try:
            validate_phone(phone)
        except ValidationError as error:
            fail("phone", " ".join(error.messages))
        categories = []
        for code in (c.strip() for c in raw["categories"].split(CATEGORY_SEPARATOR)):
            if not code:
                continue
            if code not in Category.values:
                fail("categories", f"未知的类别代码 {code}。")
            elif code not in categories:
                categories.append(code)
        pension = PENSION_ALIASES.get(raw["pension"])
        if pension is None:
            fail(
                "pension", f"养老保险类型 {raw['pension']} 无效：应为 employee、resident 或 none。"
            )
        death_date = None
        if raw["death_date"]:
            try:
                death_date = _parse_date(raw["death_date"])
            except ValueError:
                fail("death_date", f"日期 {raw['death_date']} 无效：应为 YYYY-MM-DD。")
            else:
                if death_date > today:
                    fail("death_date", f"死亡日期 {death_date} 晚于今天。")
                elif birth_date and death_date < birth_date:
                    fail("death_date", f"死亡日期 {death_date} 早于出生日期 {birth_date}。")
        elder = existing.get(number)
        if by is not None and (
            (elder is not None and elder.pk not in writable)
            or (hukou is not None and not _places_writable(by, elder, hukou, residence))
        ):
            fail(_scope_field(residence), _outside_message(line))
            plan.errors.extend(errors)
            continue
        if elder is not None and death_date and elder.death_date not in (None, death_date):
            fail("death_date", f"已登记死亡日期 {elder.death_date}，与本行不一致。")
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
        )
        if elder is None:
            plan.to_create.append(parsed)
        elif _changes(parsed, elder, open_categories.get(elder.pk, set())):
            plan.to_update.append((parsed, elder))
        else:
            plan.unchanged.append(parsed)
    return plan


def _changes(row: ParsedRow, elder: Elder, held: set[str]) -> bool:
    new_categories = set(row.categories) - held if elder.death_date is None else set()
    return bool(
        row.name != elder.name
        or row.hukou_region.pk != elder.hukou_region_id
        or (row.residence_region.pk if row.residence_region else None) != elder.residence_region_id
        or row.phone != elder.phone
        or row.pension_type != elder.pension_type
        or (row.death_date and elder.death_date is None)
        or new_categories
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
        elder.updated_at = timezone.now()  # bulk_update does not apply auto_now
        elder.clean_fields(exclude=["hukou_region", "residence_region"])
        changed.append(elder)
        if row.death_date and elder.death_date is None:
            deaths.append((elder, row.death_date))
    if changed:
        bulk_update_with_history(
            changed,
            Elder,
            ["name", "hukou_region", "residence_region", "phone", "pension_type", "updated_at"],
            batch_size=BATCH_SIZE,
            default_user=by,
        )

    held: dict[int, set[str]] = {}
    for elder_id, category in ElderCategory.objects.filter(
        elder__in=[e for _, e in plan.to_update], end_date__isnull=True
    ).values_list("elder_id", "category"):
        held.setdefault(elder_id, set()).add(category)
    periods = []
    rows_and_elders = [
        (row, elder, True) for row, elder in zip(plan.to_create, created, strict=True)
    ]
    rows_and_elders += [
        (row, elder, False) for row, elder in plan.to_update if elder.death_date is None
    ]
    for row, elder, is_new in rows_and_elders:
        for category in row.categories:
            if category in held.get(elder.pk, set()):
                continue
            # A new elder already dead at import held the category until the death date; a
            # death of a registered elder is handled below by record_death, which ends it.
            end = row.death_date if is_new and row.death_date else None
            start = min(today, end) if end else today
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
