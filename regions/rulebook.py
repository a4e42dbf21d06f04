"""Loading the rulebook file (regions/data/rulebook.toml) into PolicyValue rows."""

from __future__ import annotations

import datetime
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from regions.catalog import KEYS
from regions.models import PolicyValue, Region
from regions.seed_files import (
    Difference,
    LoadReport,
    SeededRows,
    adopt,
    last_change,
    load,
    with_version_ends,
)
from regions.services import set_policy_value, validate_policy_value

__all__ = ["Difference", "LoadReport", "adopt_from_file", "last_change", "load_rulebook"]

RULEBOOK = Path(__file__).resolve().parent / "data" / "rulebook.toml"


# What the file and the database may disagree on, for one (region, key, start date).
COMPARED_FIELDS = ("value", "frequency", "is_minimum", "effective_to", "citation", "note")


def _entry_error(index: int, field: str, message: str) -> ValidationError:
    return ValidationError(f"rulebook entry {index} ({field}): {message}")


def _parse_entry(index: int, entry: dict) -> dict:
    for required in ("region", "key", "from", "citation"):
        if required not in entry:
            raise _entry_error(index, required, "is required")
    if entry["key"] not in KEYS:
        raise _entry_error(index, "key", f"unknown policy key {entry['key']!r}")
    try:
        region = Region.objects.get(code=entry["region"])
    except Region.DoesNotExist:
        raise _entry_error(index, "region", f"no region {entry['region']}; run load_regions first")
    try:
        value = Decimal(entry["value"]) if "value" in entry else None
    except InvalidOperation:
        raise _entry_error(index, "value", f"{entry['value']!r} is not a number")

    def as_date(field: str) -> datetime.date | None:
        raw = entry.get(field)
        if raw is None or isinstance(raw, datetime.date):
            return raw
        try:
            return datetime.date.fromisoformat(raw)
        except ValueError:
            raise _entry_error(index, field, f"{raw!r} is not a YYYY-MM-DD date")

    return {
        "region": region,
        "key": entry["key"],
        "value": value,
        "frequency": entry.get("frequency", ""),
        "effective_from": as_date("from"),
        "effective_to": as_date("to"),
        "is_minimum": bool(entry.get("minimum", False)),
        "citation": entry["citation"],
        "note": entry.get("note", ""),
    }


def _describe_value(fields) -> str:
    get = fields.get if isinstance(fields, dict) else lambda f: getattr(fields, f)
    value = get("value")
    shown = get("frequency") or ("not set" if value is None else f"{value.normalize():f}")
    if get("is_minimum"):
        shown += " (minimum)"
    return f"{shown}, to {get('effective_to') or 'open'}"


SEEDED = SeededRows(
    model=PolicyValue,
    series=("region", "key"),
    rule_fields=("value", "frequency", "is_minimum"),
    compared_fields=COMPARED_FIELDS,
    insert=lambda fields: set_policy_value(**fields)[0],
    name=lambda fields: fields["key"],
    summary=_describe_value,
    complete=lambda row: setattr(row, "unit", KEYS[row.key].unit),
    check=validate_policy_value,
    adopted="采用规则文件中的值（load_policies --adopt）",
)


def _parse_file(path: Path) -> list[dict]:
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("value", [])
    parsed = with_version_ends(SEEDED, [_parse_entry(i, e) for i, e in enumerate(entries, start=1)])
    # Parents before children, so that the floor check sees the level above.
    parsed.sort(key=lambda p: (p["region"].path.count("/"), p["effective_from"]))
    return parsed


@transaction.atomic
def load_rulebook(path: Path = RULEBOOK, *, command: str = "") -> LoadReport:
    """Insert what the database lacks; never overwrite. After the first load the database is
    the master (a bureau's change in the admin is a decision), so a file row that differs from
    its database row is reported with who changed it and when, and left alone. The file is
    parsed whole before anything is written: a malformed entry refuses the whole file.
    ``command`` names the management command for the audit trail."""
    return load(SEEDED, _parse_file(path), command=command)


@transaction.atomic
def adopt_from_file(
    *, key: str, region_code: str, path: Path = RULEBOOK, by=None, command: str = ""
) -> LoadReport:
    """Take the file's rows for one key and region over the database's (regions.seed_files.adopt)."""
    parsed = [f for f in _parse_file(path) if f["key"] == key and f["region"].code == region_code]
    if not parsed:
        raise ValidationError(f"the file has no rows for key {key} and region {region_code}")
    return adopt(SEEDED, parsed, by=by, command=command)
