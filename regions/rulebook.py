"""Loading the rulebook file (regions/data/rulebook.toml) into PolicyValue rows."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from regions.catalog import KEYS
from regions.models import Region
from regions.services import set_policy_value

RULEBOOK = Path(__file__).resolve().parent / "data" / "rulebook.toml"


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _entry_error(index: int, field: str, message: str) -> ValidationError:
    return ValidationError(f"rulebook entry {index} ({field}): {message}")


def _parse_entry(index: int, entry: dict) -> dict:
    for field in ("region", "key", "from", "citation"):
        if field not in entry:
            raise _entry_error(index, field, "is required")
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


@transaction.atomic
def load_rulebook(path: Path = RULEBOOK) -> LoadReport:
    """Upsert every value of the file; all or nothing. Parents are loaded before children so
    that the floor check sees the level above."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("value", [])
    parsed = [_parse_entry(i, e) for i, e in enumerate(entries, start=1)]
    parsed.sort(key=lambda p: (p["region"].path.count("/"), p["effective_from"]))
    report = LoadReport()
    for fields in parsed:
        _, status = set_policy_value(**fields)
        setattr(report, status, getattr(report, status) + 1)
    return report
