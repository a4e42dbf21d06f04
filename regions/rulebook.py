"""Loading the rulebook file (regions/data/rulebook.toml) into PolicyValue rows."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from regions.catalog import KEYS
from regions.models import PolicyValue, Region
from regions.selectors import overlapping
from regions.services import set_policy_value, validate_policy_value

RULEBOOK = Path(__file__).resolve().parent / "data" / "rulebook.toml"


# What the file and the database may disagree on, for one (region, key, start date).
COMPARED_FIELDS = ("value", "frequency", "is_minimum", "effective_to", "citation", "note")


@dataclass(frozen=True)
class Difference:
    """A file row that differs from the database, left as the database has it."""

    key: str
    region: Region
    effective_from: datetime.date
    file_value: str
    database_value: str
    changed_by: str
    changed_at: datetime.datetime | None
    reason: str

    def describe(self) -> str:
        who = self.changed_by or "-"
        when = self.changed_at.astimezone().strftime("%Y-%m-%d %H:%M") if self.changed_at else "-"
        return (
            f"{self.key}\t{self.region.code} {self.region.name}\tfrom {self.effective_from}"
            f"\tfile: {self.file_value}\tdatabase: {self.database_value}"
            f"\tchanged by {who} at {when}\t{self.reason}"
        )


@dataclass
class LoadReport:
    created: int = 0
    unchanged: int = 0
    adopted: int = 0
    differences: list[Difference] = field(default_factory=list)


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


def _with_version_ends(parsed: list[dict]) -> list[dict]:
    """A later row of the same key and region ends the one before it the day before, so that
    raising a rate from a date is one new row in the file (an explicit ``to`` still wins)."""
    by_series: dict[tuple[int, str], list[dict]] = {}
    for fields in parsed:
        by_series.setdefault((fields["region"].pk, fields["key"]), []).append(fields)
    for series in by_series.values():
        series.sort(key=lambda f: f["effective_from"])
        for earlier, later in zip(series, series[1:], strict=False):
            implied_end = later["effective_from"] - datetime.timedelta(days=1)
            if earlier["effective_to"] is None or earlier["effective_to"] > implied_end:
                earlier["effective_to"] = implied_end
    return parsed


def _describe_value(fields) -> str:
    get = fields.get if isinstance(fields, dict) else lambda f: getattr(fields, f)
    value = get("value")
    shown = get("frequency") or ("not set" if value is None else f"{value.normalize():f}")
    if get("is_minimum"):
        shown += " (minimum)"
    return f"{shown}, to {get('effective_to') or 'open'}"


def last_change(row) -> tuple[str, datetime.datetime | None]:
    """Who last changed a row with history (a rulebook value, a rule), and when."""
    record = row.history.select_related("history_user").order_by("-history_date").first()
    if record is None:
        return "", None
    user = record.history_user.get_username() if record.history_user else "system"
    return user, record.history_date


def _difference(fields: dict, row: PolicyValue, reason: str) -> Difference:
    changed_by, changed_at = last_change(row)
    return Difference(
        key=fields["key"],
        region=fields["region"],
        effective_from=fields["effective_from"],
        file_value=_describe_value(fields),
        database_value=_describe_value(row),
        changed_by=changed_by,
        changed_at=changed_at,
        reason=reason,
    )


def _same_rule(row: PolicyValue, fields: dict | None) -> bool:
    return fields is not None and all(
        getattr(row, f) == fields[f] for f in ("value", "frequency", "is_minimum")
    )


def _insert_missing(fields: dict, report: LoadReport, in_file: dict) -> None:
    """Insert a version the database lacks. If it starts inside a version the file also has
    (the same start date and value), that version is end-dated the day before, as a change in
    the admin would; anything else in the way is left and reported."""
    region, key, start = fields["region"], fields["key"], fields["effective_from"]
    covering = (
        PolicyValue.objects.filter(region=region, key=key, effective_from__lt=start)
        .filter(overlapping(start, fields["effective_to"]))
        .order_by("-effective_from")
        .first()
    )
    if covering is not None and not _same_rule(
        covering, in_file.get((region.pk, key, covering.effective_from))
    ):
        reason = "not inserted: a version set in the database is in force on that date"
        report.differences.append(_difference(fields, covering, reason))
        return
    try:
        with transaction.atomic():
            if covering is not None:
                covering.effective_to = start - datetime.timedelta(days=1)
                covering._change_reason = f"规则文件新增 {start} 起的版本"
                covering.full_clean()
                covering.save()
            set_policy_value(**fields)
    except ValidationError as error:
        blocking = (
            covering
            or PolicyValue.objects.filter(region=region, key=key, effective_from__gt=start)
            .order_by("effective_from")
            .first()
        )
        reason = "not inserted: " + "; ".join(error.messages)
        if blocking is None:
            raise
        report.differences.append(_difference(fields, blocking, reason))
    else:
        report.created += 1


def _parse_file(path: Path) -> list[dict]:
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("value", [])
    parsed = _with_version_ends([_parse_entry(i, e) for i, e in enumerate(entries, start=1)])
    # Parents before children, so that the floor check sees the level above.
    parsed.sort(key=lambda p: (p["region"].path.count("/"), p["effective_from"]))
    return parsed


@transaction.atomic
def load_rulebook(path: Path = RULEBOOK) -> LoadReport:
    """Insert what the database lacks; never overwrite. After the first load the database is
    the master (a bureau's change in the admin is a decision), so a file row that differs from
    its database row is reported with who changed it and when, and left alone. The file is
    parsed whole before anything is written: a malformed entry refuses the whole file."""
    report = LoadReport()
    parsed = _parse_file(path)
    in_file = {(f["region"].pk, f["key"], f["effective_from"]): f for f in parsed}
    existing = set(
        PolicyValue.objects.filter(key__in={f["key"] for f in parsed}).values_list(
            "region_id", "key", "effective_from"
        )
    )
    # Inserts first: a new version in the file end-dates the one before it, which must not
    # then be reported as differing from the file.
    for fields in parsed:
        if (fields["region"].pk, fields["key"], fields["effective_from"]) not in existing:
            _insert_missing(fields, report, in_file)
    for fields in parsed:
        if (fields["region"].pk, fields["key"], fields["effective_from"]) not in existing:
            continue
        row = PolicyValue.objects.get(
            region=fields["region"], key=fields["key"], effective_from=fields["effective_from"]
        )
        if all(getattr(row, f) == fields[f] for f in COMPARED_FIELDS):
            report.unchanged += 1
        else:
            report.differences.append(_difference(fields, row, "kept the database's value"))
    return report


@transaction.atomic
def adopt_from_file(*, key: str, region_code: str, path: Path = RULEBOOK, by=None) -> LoadReport:
    """Take the file's rows for one key and region over the database's: a deliberate act,
    recorded in each row's history. Checked like every change (floor, overlaps)."""
    parsed = [f for f in _parse_file(path) if f["key"] == key and f["region"].code == region_code]
    if not parsed:
        raise ValidationError(f"the file has no rows for key {key} and region {region_code}")
    report = LoadReport()
    # Latest first: end-dating a later version before an earlier one is extended never
    # overlaps on the way.
    for fields in sorted(parsed, key=lambda f: f["effective_from"], reverse=True):
        row = PolicyValue.objects.filter(
            region=fields["region"], key=key, effective_from=fields["effective_from"]
        ).first()
        if row is not None and all(getattr(row, f) == fields[f] for f in COMPARED_FIELDS):
            report.unchanged += 1
            continue
        if row is None:
            row = PolicyValue(
                region=fields["region"], key=key, effective_from=fields["effective_from"]
            )
        for name in COMPARED_FIELDS:
            setattr(row, name, fields[name])
        row.unit = KEYS[key].unit
        row.full_clean(validate_unique=False)
        validate_policy_value(row)
        if by is not None:
            row._history_user = by
        row._change_reason = "采用规则文件中的值（load_policies --adopt）"
        row.save()
        report.adopted += 1
    return report
