"""The contract of a data file that seeds versioned rows (the rulebook's values, the rules of who
each policy is for), stated once for both loaders.

A file seeds an empty database; after that the database is the master. A load inserts the
versions the database lacks and never overwrites: a file row that differs from its database
row is reported (who changed the database's and when) and left alone. A later file row of the
same series ends the one before it the day before, so a change from a date is one new row; such
a new version end-dates the version in force only when that version is the file's own (same
start, same rule), never one a bureau set.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models, transaction

from regions.models import Region
from regions.selectors import overlapping
from regions.services import record_rule_change


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


def last_change(row) -> tuple[str, datetime.datetime | None]:
    """Who last changed a row with history, and when."""
    record = row.history.select_related("history_user").order_by("-history_date").first()
    if record is None:
        return "", None
    user = record.history_user.get_username() if record.history_user else "system"
    return user, record.history_date


def _get(fields_or_row, name):
    return fields_or_row[name] if isinstance(fields_or_row, dict) else getattr(fields_or_row, name)


@dataclass(frozen=True)
class SeededRows:
    """How one kind of versioned row is seeded from its file.

    ``series``: the fields naming one series of versions (a region is compared by its key);
    ``rule_fields``: what a version decides (two versions equal in these are the same rule);
    ``compared_fields``: what a file row and its database row may disagree on;
    ``insert``: writes one checked version from parsed fields and returns it (raises
    ValidationError);
    ``name``: how a difference names the series; ``summary``: a version in a few words;
    ``kept``: how a difference says the database's version was kept;
    ``complete``: fills what a version takes from elsewhere than the file (a key's unit);
    ``check``: the checks every change of a version passes beyond ``full_clean`` (the floor,
    overlaps), raising ValidationError;
    ``adopted``: the change reason a version taken from the file carries in its history;
    ``loaded``: the reason the audit trail gives for a version a load adds.

    Every version a load or an adoption writes is in the audit trail too, made by the system
    and the command named by the caller (``load_policies``), or by the user who adopts."""

    model: type[models.Model]
    series: tuple[str, ...]
    rule_fields: tuple[str, ...]
    compared_fields: tuple[str, ...]
    insert: Callable[[dict], object]
    name: Callable[[dict], str]
    summary: Callable[[object], str]
    kept: str = "kept the database's value"  # what a difference says was done
    complete: Callable[[models.Model], None] = lambda row: None
    check: Callable[[models.Model], None] = lambda row: None
    adopted: str = "采用规则文件中的版本"
    loaded: str = "规则文件载入"

    def series_of(self, fields_or_row) -> tuple:
        return tuple(
            _get(fields_or_row, f).pk if f == "region" else _get(fields_or_row, f)
            for f in self.series
        )

    def identity(self, fields_or_row) -> tuple:
        return (*self.series_of(fields_or_row), _get(fields_or_row, "effective_from"))

    def versions(self, fields: dict) -> models.QuerySet:
        return self.model.objects.filter(**{f: fields[f] for f in self.series})

    def same(self, row, fields: dict | None, names: tuple[str, ...] | None = None) -> bool:
        names = self.rule_fields if names is None else names
        return fields is not None and all(getattr(row, f) == fields[f] for f in names)

    def difference(self, fields: dict, row, reason: str) -> Difference:
        changed_by, changed_at = last_change(row)
        return Difference(
            key=self.name(fields),
            region=fields["region"],
            effective_from=fields["effective_from"],
            file_value=self.summary(fields),
            database_value=self.summary(row),
            changed_by=changed_by,
            changed_at=changed_at,
            reason=reason,
        )


def with_version_ends(spec: SeededRows, parsed: list[dict]) -> list[dict]:
    """A later row of the same series ends the one before it the day before (an explicit end
    date that comes earlier still wins)."""
    by_series: dict[tuple, list[dict]] = {}
    for fields in parsed:
        by_series.setdefault(spec.series_of(fields), []).append(fields)
    for series in by_series.values():
        series.sort(key=lambda f: f["effective_from"])
        for earlier, later in zip(series, series[1:], strict=False):
            implied_end = later["effective_from"] - datetime.timedelta(days=1)
            if earlier["effective_to"] is None or earlier["effective_to"] > implied_end:
                earlier["effective_to"] = implied_end
    return parsed


def _insert_missing(
    spec: SeededRows, fields: dict, report: LoadReport, in_file: dict, command: str
) -> None:
    start = fields["effective_from"]
    covering = (
        spec.versions(fields)
        .filter(effective_from__lt=start)
        .filter(overlapping(start, fields["effective_to"]))
        .order_by("-effective_from")
        .first()
    )
    if covering is not None and not spec.same(
        covering, in_file.get((*spec.series_of(fields), covering.effective_from))
    ):
        reason = "not inserted: a version set in the database is in force on that date"
        report.differences.append(spec.difference(fields, covering, reason))
        return
    try:
        with transaction.atomic():
            if covering is not None:
                covering.effective_to = start - datetime.timedelta(days=1)
                covering._change_reason = f"规则文件新增 {start} 起的版本"
                covering.full_clean()
                covering.save()
                record_rule_change(
                    covering, by=None, reason=covering._change_reason, command=command
                )
            row = spec.insert(fields)
            record_rule_change(row, by=None, reason=spec.loaded, command=command)
    except ValidationError as error:
        blocking = (
            covering
            or spec.versions(fields)
            .filter(effective_from__gt=start)
            .order_by("effective_from")
            .first()
        )
        if blocking is None:
            raise
        reason = "not inserted: " + "; ".join(error.messages)
        report.differences.append(spec.difference(fields, blocking, reason))
    else:
        report.created += 1


def load(spec: SeededRows, parsed: list[dict], *, command: str = "") -> LoadReport:
    """Insert what the database lacks, then compare what it has (in the caller's
    transaction). Inserts come first: a new version in the file end-dates the one before
    it, which must not then be reported as differing from the file. ``command`` names the
    management command loading the file, for the audit trail."""
    report = LoadReport()
    in_file = {spec.identity(f): f for f in parsed}
    existing = {
        spec.identity(row): row.pk
        for row in spec.model.objects.select_related("region").filter(
            region__in={f["region"] for f in parsed}
        )
    }
    for fields in parsed:
        if spec.identity(fields) not in existing:
            _insert_missing(spec, fields, report, in_file, command)
    for fields in parsed:
        pk = existing.get(spec.identity(fields))
        if pk is None:
            continue
        row = spec.model.objects.get(pk=pk)
        if spec.same(row, fields, spec.compared_fields):
            report.unchanged += 1
        else:
            report.differences.append(spec.difference(fields, row, spec.kept))
    return report


def adopt(spec: SeededRows, parsed: list[dict], *, by=None, command: str = "") -> LoadReport:
    """Take the file's versions of one series over the database's: a deliberate act, recorded
    in each version's history and checked like every change. Versions equal to the file's are
    left untouched (counted as unchanged)."""
    report = LoadReport()
    # Latest first: end-dating a later version before an earlier one is extended never
    # overlaps on the way.
    for fields in sorted(parsed, key=lambda f: f["effective_from"], reverse=True):
        row = spec.versions(fields).filter(effective_from=fields["effective_from"]).first()
        if row is not None and spec.same(row, fields, spec.compared_fields):
            report.unchanged += 1
            continue
        if row is None:
            row = spec.model(
                **{name: fields[name] for name in spec.series},
                effective_from=fields["effective_from"],
            )
        for name in spec.compared_fields:
            setattr(row, name, fields[name])
        spec.complete(row)
        row.full_clean(validate_unique=False)
        spec.check(row)
        if by is not None:
            row._history_user = by
        row._change_reason = spec.adopted
        row.save()
        record_rule_change(row, by=by, reason=spec.adopted, command=command)
        report.adopted += 1
    return report
