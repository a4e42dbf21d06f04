"""The schemes the system pays: seeded from subsidies/data/schemes.toml.

The file seeds an empty database; after that the database is the master (a bureau may change
a scheme in the admin): a load inserts the schemes the database lacks and lists every scheme
whose definition differs from the file's, and ``load_schemes --adopt CODE`` takes the file's
definition of one, recorded in its history (the contract of regions/seed_files.py)."""

from __future__ import annotations

import datetime
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from regions.models import Region
from regions.seed_files import LoadReport, last_change
from subsidies.models import Scheme

SCHEMES_FILE = Path(__file__).resolve().parent / "data" / "schemes.toml"
SCHEME_FIELDS = (
    "label",
    "policy_key",
    "period_kind",
    "payee",
    "condition",
    "until_set_paid_as",
    "amount_share_key",
    "citation",
    "channel",
    "paid_to",
)


@dataclass(frozen=True)
class SchemeDifference:
    """A scheme whose database definition differs from the file's, left as the database has
    it (a bureau may have changed it in the admin, or the file changed since the load)."""

    code: str
    fields: tuple[str, ...]
    file_values: dict
    database_values: dict
    changed_by: str
    changed_at: datetime.datetime | None

    def describe(self) -> str:
        who = self.changed_by or "-"
        when = self.changed_at.astimezone().strftime("%Y-%m-%d %H:%M") if self.changed_at else "-"
        shown = "; ".join(
            f"{field}: file {_shown(self.file_values[field])}, "
            f"database {_shown(self.database_values[field])}"
            for field in self.fields
        )
        return (
            f"{self.code}\t{shown}\tchanged by {who} at {when}"
            f"\tkept the database's scheme (take the file's: load_schemes --adopt {self.code})"
        )


def _shown(value) -> str:
    if isinstance(value, Region):
        return value.code
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _file_entries(path: Path) -> list[tuple[str, dict]]:
    """(code, the scheme's fields) of each entry of the data file, jurisdictions resolved."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("scheme", [])
    parsed = []
    for index, entry in enumerate(entries, start=1):
        try:
            jurisdiction = Region.objects.get(code=entry["jurisdiction"])
        except Region.DoesNotExist:
            raise ValidationError(
                _("津贴项目文件第 %(index)s 个项目（jurisdiction）：没有区划 %(code)s")
                % {"index": index, "code": entry["jurisdiction"]}
            ) from None
        values = {field: entry.get(field) for field in SCHEME_FIELDS}
        values["condition"] = values["condition"] or {}
        values["until_set_paid_as"] = values["until_set_paid_as"] or []
        values["amount_share_key"] = values["amount_share_key"] or ""
        values["channel"] = values["channel"] or ""
        values["paid_to"] = values["paid_to"] or ""
        values["jurisdiction"] = jurisdiction
        parsed.append((entry["code"], values))
    return parsed


def _differing(scheme: Scheme, values: dict) -> tuple[str, ...]:
    return tuple(field for field, value in values.items() if getattr(scheme, field) != value)


@transaction.atomic
def load_schemes(path: Path = SCHEMES_FILE) -> LoadReport:
    """Insert the schemes of the data file that the database lacks, and list those whose
    database definition differs from the file's (never overwritten: after the first load the
    database is the master, as for the rulebook — regions/seed_files.py). ``adopt_scheme``
    takes the file's definition of one scheme deliberately."""
    report = LoadReport()
    for code, values in _file_entries(path):
        scheme = Scheme.objects.filter(code=code).first()
        if scheme is None:
            scheme = Scheme(code=code, **values)
            scheme.full_clean()
            scheme._change_reason = "规则文件载入"
            scheme.save()
            report.created += 1
            continue
        fields = _differing(scheme, values)
        if not fields:
            report.unchanged += 1
            continue
        changed_by, changed_at = last_change(scheme)
        report.differences.append(
            SchemeDifference(
                code=code,
                fields=fields,
                file_values={f: values[f] for f in fields},
                database_values={f: getattr(scheme, f) for f in fields},
                changed_by=changed_by,
                changed_at=changed_at,
            )
        )
    return report


@transaction.atomic
def adopt_scheme(*, code: str, path: Path = SCHEMES_FILE, by=None) -> LoadReport:
    """Take the file's definition of the scheme ``code`` over the database's: a deliberate
    act, recorded in the scheme's history."""
    entries = dict(_file_entries(path))
    if code not in entries:
        raise ValidationError({"code": _("津贴项目文件中没有项目 %(code)s") % {"code": code}})
    report = LoadReport()
    values = entries[code]
    scheme = Scheme.objects.select_for_update().filter(code=code).first()
    if scheme is None:
        scheme = Scheme(code=code, **values)
    elif not _differing(scheme, values):
        report.unchanged += 1
        return report
    for field, value in values.items():
        setattr(scheme, field, value)
    scheme.full_clean()
    if by is not None:
        scheme._history_user = by
    scheme._change_reason = "采用规则文件中的版本"
    scheme.save()
    report.adopted += 1
    return report


def active_schemes() -> list[Scheme]:
    """The schemes in use, loaded from the data file the first time (a fresh database)."""
    if not Scheme.objects.exists():
        load_schemes()
    return list(Scheme.objects.filter(is_active=True).select_related("jurisdiction"))


def scheme_by_code(code: str) -> Scheme:
    scheme = Scheme.objects.filter(code=code).first()
    if scheme is None:
        load_schemes()
        scheme = Scheme.objects.get(code=code)
    return scheme
