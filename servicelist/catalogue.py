"""Loading the service lists (servicelist/data/service_items.toml) into ServiceItem rows.

The contract of every seeded file (regions/seed_files.py): the file seeds an empty database;
after that the database is the master. A load inserts what is missing, never overwrites, and
lists each item where the file and the database differ with who changed the database's and
when.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from regions.models import Region
from regions.seed_files import LoadReport, SeededRows, adopt, load, with_version_ends
from servicelist.choices import ItemKind, ReachedThrough
from servicelist.models import ServiceItem, item_code
from servicelist.services import add_service_item, validate_item

ITEMS_FILE = Path(__file__).resolve().parent / "data" / "service_items.toml"

# What an item decides: two versions equal in these are the same item.
RULE_FIELDS = (
    "name",
    "kind",
    "reached_through",
    "condition",
    "standard_key",
    "schemes",
    "corresponds_to",
)
# What the file and the database may disagree on, for one (region, number, start date).
COMPARED_FIELDS = (
    *RULE_FIELDS,
    "name_en",
    "target_group",
    "content",
    "department",
    "legal_basis",
    "citation",
    "record_kind",
    "is_addition",
    "effective_to",
    "note",
)
REQUIRED = (
    "region",
    "number",
    "name",
    "name_en",
    "target_group",
    "content",
    "kind",
    "reached_through",
    "from",
    "citation",
)
OPTIONAL = {
    "condition": None,
    "standard_key": "",
    "schemes": [],
    "department": "",
    "legal_basis": "",
    "corresponds_to": "",
    "is_addition": False,
    "record_kind": "",
    "to": None,
    "note": "",
}
_FILE_NAME = {"effective_from": "from", "effective_to": "to"}


def _entry_error(index: int, entry: dict, field: str, message: str) -> ValidationError:
    which = item_code(str(entry.get("region", "?")), entry.get("number", "?"))
    return ValidationError(
        _("清单文件第 %(index)s 条 [[item]]（%(item)s）%(field)s：%(message)s")
        % {"index": index, "item": which, "field": field, "message": message}
    )


def _parse_entry(index: int, entry: dict) -> dict:
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise _entry_error(index, entry, unknown[0], _("未知的字段"))
    for name in REQUIRED:
        if name not in entry:
            raise _entry_error(index, entry, name, _("必填"))
    try:
        region = Region.objects.get(code=entry["region"])
    except Region.DoesNotExist:
        raise _entry_error(
            index,
            entry,
            "region",
            _("区划 %(code)s 不存在；请先运行 load_regions") % {"code": entry["region"]},
        ) from None
    for name, choices in (("kind", ItemKind), ("reached_through", ReachedThrough)):
        if entry[name] not in choices.values:
            raise _entry_error(
                index,
                entry,
                name,
                _("应为 %(values)s 之一") % {"values": "、".join(choices.values)},
            )

    def as_date(name: str) -> datetime.date | None:
        raw = entry.get(name)
        if raw is None or isinstance(raw, datetime.date):
            return raw
        try:
            return datetime.date.fromisoformat(raw)
        except (TypeError, ValueError):
            raise _entry_error(
                index, entry, name, _("%(raw)s 不是 YYYY-MM-DD 日期") % {"raw": repr(raw)}
            ) from None

    fields = {name: entry.get(name, default) for name, default in OPTIONAL.items()}
    fields.update({name: entry[name] for name in REQUIRED})
    fields["region"] = region
    fields["effective_from"] = as_date("from")
    fields["effective_to"] = as_date("to")
    del fields["from"], fields["to"]
    row = ServiceItem(**fields)
    try:
        row.clean_fields(exclude=["code"])
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise _entry_error(index, entry, _FILE_NAME.get(name, name), "；".join(messages)) from None
    return fields


def parse_file(path: Path = ITEMS_FILE) -> list[dict]:
    """Every [[item]] of the file, checked field by field; a bad entry refuses the whole file.
    Upper lists come first: an item raising one above needs it loaded."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("item", [])
    parsed = [_parse_entry(i, e) for i, e in enumerate(entries, start=1)]
    seen: dict[tuple, int] = {}
    for index, fields in enumerate(parsed, start=1):
        identity = SEEDED.identity(fields)
        if identity in seen:
            entry = {"region": fields["region"].code, "number": fields["number"]}
            raise _entry_error(
                index, entry, "from", _("与第 %(index)s 条重复") % {"index": seen[identity]}
            )
        seen[identity] = index
    parsed = with_version_ends(SEEDED, parsed)
    parsed.sort(key=lambda p: (p["region"].path.count("/"), p["effective_from"], p["region"].code))
    return parsed


def _summary(fields) -> str:
    get = fields.get if isinstance(fields, dict) else lambda f: getattr(fields, f)
    shown = {name: get(name) for name in RULE_FIELDS}
    text = json.dumps(shown, ensure_ascii=False, sort_keys=True)
    return f"{text}, to {get('effective_to') or 'open'}"


def _complete(row: ServiceItem) -> None:
    row.code = item_code(row.region.code, row.number)


SEEDED = SeededRows(
    model=ServiceItem,
    series=("region", "number"),
    rule_fields=RULE_FIELDS,
    compared_fields=COMPARED_FIELDS,
    insert=lambda fields: add_service_item(reason="清单文件载入（load_service_items）", **fields),
    name=lambda fields: item_code(fields["region"].code, fields["number"]),
    summary=_summary,
    kept="kept the database's item (take the file's: load_service_items --adopt CODE)",
    complete=_complete,
    check=validate_item,
    adopted="采用清单文件中的项目（load_service_items --adopt）",
    loaded="清单文件载入",
)


@transaction.atomic
def load_items(path: Path = ITEMS_FILE, *, command: str = "") -> LoadReport:
    """Insert the file's items the database lacks; never overwrite. An item that differs from
    its database row is reported (who changed it, when) and left alone. ``command`` names the
    management command for the audit trail."""
    return load(SEEDED, parse_file(path), command=command)


@transaction.atomic
def adopt_items(code: str, path: Path = ITEMS_FILE, *, by=None, command: str = "") -> LoadReport:
    """Take the file's versions of the item ``code`` (``330200:21``) over the database's: a
    deliberate act (the database is the master once loaded), checked like every change of an
    item (its fields, its restated item, "not lower") and recorded in its history and the
    audit trail. Versions equal to the file's are left alone."""
    parsed = [f for f in parse_file(path) if item_code(f["region"].code, f["number"]) == code]
    if not parsed:
        raise ValidationError(_("清单文件中没有代码为 %(code)s 的项目。") % {"code": code})
    return adopt(SEEDED, parsed, by=by, command=command)
