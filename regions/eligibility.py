"""Loading the rules of "who it is for" (regions/data/eligibility.toml) into EligibilityRule rows.

The same contract as the rulebook's loader (regions/rulebook.py): the file seeds an empty
database; after that the database is the master. The loader inserts what is missing, never
overwrites, and lists each rule where the file and the database disagree with who changed the
database's and when; taking the file's rule is a deliberate act (``adopt_rules``), recorded in
the history.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from regions.models import EligibilityRule, Region
from regions.seed_files import LoadReport, SeededRows, adopt, load, with_version_ends
from regions.services import add_eligibility_rule, check_rule_overlap

RULES_FILE = Path(__file__).resolve().parent / "data" / "eligibility.toml"

# What the file and the database may disagree on, for one (subject, region, code, start date).
COMPARED_FIELDS = ("label", "condition", "rank", "params", "effective_to", "citation", "note")
# What a rule decides: two versions equal in these are the same rule.
RULE_FIELDS = ("label", "condition", "rank", "params")
ENTRY_FIELDS = {
    "subject",
    "code",
    "label",
    "region",
    "from",
    "to",
    "condition",
    "rank",
    "params",
    "citation",
    "note",
}
# The file's names for the model's fields, where they differ (for error messages).
_FILE_NAME = {"effective_from": "from", "effective_to": "to"}


def _entry_error(index: int, entry: dict, field: str, message: str) -> ValidationError:
    which = "/".join(str(entry.get(k, "?")) for k in ("subject", "code", "region"))
    return ValidationError(
        _("规则文件第 %(index)s 条 [[rule]]（%(which)s）%(field)s：%(message)s")
        % {"index": index, "which": which, "field": field, "message": message}
    )


def _parse_entry(index: int, entry: dict) -> dict:
    unknown = sorted(set(entry) - ENTRY_FIELDS)
    if unknown:
        raise _entry_error(index, entry, unknown[0], _("未知的字段"))
    for required in ("subject", "code", "label", "region", "from", "condition", "citation"):
        if required not in entry:
            raise _entry_error(index, entry, required, _("必填"))
    try:
        region = Region.objects.get(code=entry["region"])
    except Region.DoesNotExist:
        raise _entry_error(
            index,
            entry,
            "region",
            _("区划 %(code)s 不存在；请先运行 load_regions") % {"code": entry["region"]},
        ) from None

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

    fields = {
        "subject": entry["subject"],
        "code": entry["code"],
        "label": entry["label"],
        "region": region,
        "effective_from": as_date("from"),
        "effective_to": as_date("to"),
        "condition": entry["condition"],
        "rank": entry.get("rank"),
        "params": entry.get("params", {}),
        "citation": entry["citation"],
        "note": entry.get("note", ""),
    }
    try:
        row = EligibilityRule(**fields)
        row.clean_fields()
        row.clean()  # the subject's catalogue entry and the condition language
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise _entry_error(index, entry, _FILE_NAME.get(name, name), "；".join(messages)) from None
    if fields["effective_to"] is not None and fields["effective_to"] < fields["effective_from"]:
        raise _entry_error(index, entry, "to", _("失效日期不能早于生效日期"))
    return fields


def parse_file(path: Path = RULES_FILE) -> list[dict]:
    """Every [[rule]] of the file, checked; a bad entry refuses the whole file."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("rule", [])
    parsed = [_parse_entry(i, e) for i, e in enumerate(entries, start=1)]
    seen = {}
    for index, fields in enumerate(parsed, start=1):
        identity = SEEDED.identity(fields)
        if identity in seen:
            raise _entry_error(
                index,
                {**fields, "region": fields["region"].code},
                "from",
                _("与第 %(n)s 条重复") % {"n": seen[identity]},
            )
        seen[identity] = index
    parsed = with_version_ends(SEEDED, parsed)
    parsed.sort(key=lambda p: (p["region"].path.count("/"), p["effective_from"]))
    return parsed


def _summary(fields) -> str:
    get = fields.get if isinstance(fields, dict) else lambda f: getattr(fields, f)
    shown = {name: get(name) for name in RULE_FIELDS}
    return f"{json.dumps(shown, ensure_ascii=False, sort_keys=True)}, to {get('effective_to') or 'open'}"


SEEDED = SeededRows(
    model=EligibilityRule,
    series=("subject", "region", "code"),
    rule_fields=RULE_FIELDS,
    compared_fields=COMPARED_FIELDS,
    insert=lambda fields: add_eligibility_rule(reason="规则文件载入（load_eligibility）", **fields),
    name=lambda fields: f"{fields['subject']}:{fields['code']}",
    summary=_summary,
    kept="kept the database's rule",
    check=check_rule_overlap,
    adopted="采用规则文件中的规则（load_eligibility --adopt）",
)


@transaction.atomic
def load_rules(path: Path = RULES_FILE, *, command: str = "") -> LoadReport:
    """Insert the file's rules that the database lacks; never overwrite. A file row that
    differs from its database row is reported (who changed it, when) and left alone.
    ``command`` names the management command for the audit trail."""
    return load(SEEDED, parse_file(path), command=command)


@transaction.atomic
def adopt_rules(
    *,
    subject: str,
    code: str,
    region_code: str,
    path: Path = RULES_FILE,
    by=None,
    command: str = "",
) -> LoadReport:
    """Take the file's versions of one rule (subject, code, region) over the database's: a
    deliberate act, recorded in each row's history, checked like every change."""
    parsed = [
        f
        for f in parse_file(path)
        if (f["subject"], f["code"], f["region"].code) == (subject, code, region_code)
    ]
    if not parsed:
        raise ValidationError(
            _("规则文件中没有 %(rule)s（区划 %(region)s）的规则。")
            % {"rule": f"{subject}:{code}", "region": region_code}
        )
    return adopt(SEEDED, parsed, by=by, command=command)
