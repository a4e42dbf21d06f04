"""Writes to the rulebook. Every change goes through ``set_policy_value``, which refuses a value
that would break the floor rule of docs/policy.md §0 in either direction (a child below its parent, or
a parent raised above an existing child) for an overlapping period."""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regions.catalog import get_key
from regions.choices import FREQUENCY_ORDER, FloorDirection
from regions.models import EligibilityRule, PolicyValue, Region
from regions.selectors import overlapping


def _stricter_or_equal(direction: str, child: PolicyValue, parent: PolicyValue) -> bool:
    """Whether the child's value respects the parent's as a floor."""
    if child.frequency or parent.frequency:
        # More frequent is stricter: "daily" satisfies a "monthly" floor, not the reverse.
        return FREQUENCY_ORDER.index(child.frequency) <= FREQUENCY_ORDER.index(parent.frequency)
    if direction == FloorDirection.MINIMUM:
        return child.value >= parent.value
    return child.value <= parent.value


def _describe(row: PolicyValue) -> str:
    return _("%(region)s（%(code)s）%(value)s，%(period)s，依据 %(citation)s") % {
        "region": row.region.name,
        "code": row.region.code,
        "value": row.display_value,
        "period": f"{row.effective_from}–{row.effective_to or '…'}",
        "citation": row.citation,
    }


def check_floor(candidate: PolicyValue) -> None:
    """Raise ValidationError naming both values when the candidate breaks an inheritance floor."""
    catalog_key = get_key(candidate.key)
    if catalog_key.direction == FloorDirection.NONE or not candidate.is_set:
        return
    region = candidate.region
    ancestors = region.ancestors_and_self()[1:]
    period = overlapping(candidate.effective_from, candidate.effective_to)
    others = PolicyValue.objects.filter(key=candidate.key).filter(period).select_related("region")
    errors = []
    for parent in others.filter(region__in=ancestors):
        if parent.is_set and not _stricter_or_equal(catalog_key.direction, candidate, parent):
            errors.append(
                _("%(key)s：%(value)s 低于上级标准 %(parent)s。")
                % {
                    "key": catalog_key.label,
                    "value": _describe(candidate),
                    "parent": _describe(parent),
                }
            )
    descendants = Region.objects.within(region).exclude(pk=region.pk)
    for child in others.filter(region__in=descendants):
        if child.is_set and not _stricter_or_equal(catalog_key.direction, child, candidate):
            errors.append(
                _("%(key)s：%(value)s 将使下级 %(child)s 低于上级标准。")
                % {
                    "key": catalog_key.label,
                    "value": _describe(candidate),
                    "child": _describe(child),
                }
            )
    if errors:
        raise ValidationError({"value": errors})


def check_no_overlap(candidate: PolicyValue, *, ignore: tuple[int, ...] = ()) -> None:
    """Refuse a period that overlaps another version of the same key and region (``ignore``:
    rows that the same change end-dates first)."""
    clash = (
        PolicyValue.objects.filter(region=candidate.region, key=candidate.key)
        .filter(overlapping(candidate.effective_from, candidate.effective_to))
        .exclude(pk__in=[pk for pk in (candidate.pk, *ignore) if pk is not None])
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "effective_from": _("与已有参数 %(other)s 的有效期重叠；请先为其设定失效日期。")
                % {"other": _describe(clash)}
            }
        )


def validate_policy_value(candidate: PolicyValue, *, ignore: tuple[int, ...] = ()) -> None:
    """Every rule a policy value must obey; the admin form and ``set_policy_value`` call it."""
    catalog_key = get_key(candidate.key)
    if candidate.unit != catalog_key.unit:
        raise ValidationError(
            {
                "unit": _("%(key)s 的单位应为 %(unit)s。")
                % {"key": catalog_key.key, "unit": catalog_key.unit.label}
            }
        )
    if catalog_key.is_frequency and candidate.value is not None:
        raise ValidationError({"value": _("频次类参数请填写“频次”，不填数值。")})
    if not catalog_key.is_frequency and candidate.frequency:
        raise ValidationError({"frequency": _("该参数为数值，不能填写频次。")})
    check_no_overlap(candidate, ignore=ignore)
    check_floor(candidate)


@transaction.atomic
def set_policy_value(
    *,
    region: Region,
    key: str,
    effective_from: datetime.date,
    value: Decimal | None = None,
    frequency: str = "",
    effective_to: datetime.date | None = None,
    is_minimum: bool = False,
    citation: str,
    note: str = "",
) -> tuple[PolicyValue, str]:
    """Create or update the row for (region, key, effective_from).

    Returns (row, status) with status "created", "updated" or "unchanged": the same arguments
    a second time change nothing.
    """
    catalog_key = get_key(key)
    row = (
        PolicyValue.objects.select_for_update()
        .filter(region=region, key=key, effective_from=effective_from)
        .first()
    )
    fields = {
        "value": value,
        "frequency": frequency,
        "unit": catalog_key.unit,
        "effective_to": effective_to,
        "is_minimum": is_minimum,
        "citation": citation,
        "note": note,
    }
    if row is not None and all(getattr(row, f) == v for f, v in fields.items()):
        return row, "unchanged"
    status = "updated" if row is not None else "created"
    if row is None:
        row = PolicyValue(region=region, key=key, effective_from=effective_from)
    for field, field_value in fields.items():
        setattr(row, field, field_value)
    row.full_clean()
    validate_policy_value(row)
    row.save()
    return row, status


# --- versions: a change to a rule in force starts a new version --------------------------------

# What a bureau may change on a version; region, key and start date identify it and stay.
REVISABLE_FIELDS = ("value", "frequency", "is_minimum", "effective_to", "citation", "note")
# Changing one of these changes what is paid or required: it starts a new version from a date.
VERSIONED_FIELDS = ("value", "frequency", "is_minimum")
# How far ahead a change may be scheduled; further is almost always a mistyped year.
MAX_YEARS_AHEAD = 5


class PolicyChangeRefused(PermissionError):
    """The user may not change the rulebook of this region."""


@dataclass(frozen=True)
class PolicyRevision:
    """What saving a change does. ``ended`` is the version in force with its new end date (None
    when the change corrects the version in place); ``new`` is the row saved with the change."""

    current: PolicyValue
    ended: PolicyValue | None
    new: PolicyValue
    # What the app reading the key did once the change was saved (register_revision_follow_up).
    follow_up: dict = dataclasses.field(default_factory=dict)

    @property
    def starts_new_version(self) -> bool:
        return self.ended is not None


def require_rulebook_writer(user, region: Region) -> None:
    """Only a bureau covering ``region`` (or a superuser) writes its rulebook; ``None`` is the
    system itself (the loader, data migrations)."""
    if user is None:
        return
    from accounts.scoping import scope_of

    scope = scope_of(user)
    if scope.read_only or not scope.covers_region(region, app="regions"):
        raise PolicyChangeRefused(
            _("您无权修改 %(region)s（%(code)s）的政策参数。")
            % {"region": region.name, "code": region.code}
        )


def _check_change_date(applies_from: datetime.date | None, today: datetime.date) -> None:
    if applies_from is None:
        raise ValidationError({"applies_from": _("修改数值须填写“自何日起执行”。")})
    latest = today.replace(year=today.year + MAX_YEARS_AHEAD)
    if applies_from > latest:
        raise ValidationError(
            {
                "applies_from": _("执行日期 %(date)s 晚于 %(latest)s，请核对年份。")
                % {"date": applies_from, "latest": latest}
            }
        )


def plan_policy_revision(
    *,
    row: PolicyValue,
    applies_from: datetime.date | None,
    changes: dict,
    today: datetime.date | None = None,
) -> PolicyRevision:
    """Check a change to ``row`` and say what saving it would do, without writing.

    A changed value, frequency or minimum flag starts a new version from ``applies_from`` (the
    version in force ends the day before); from the version's own start date it corrects the
    version in place (a backdated correction). Citation, note and end date are corrected in
    place. Every rule of ``validate_policy_value`` applies to the result, and messages name the
    field and both values."""
    unknown = set(changes) - set(REVISABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), _("该字段不可修改。")))
    current = PolicyValue.objects.select_related("region").get(pk=row.pk)
    changed = {f: v for f, v in changes.items() if getattr(current, f) != v}
    versioned = any(f in changed for f in VERSIONED_FIELDS)
    today = today or timezone.localdate()
    ended = None
    if versioned:
        _check_change_date(applies_from, today)
        if applies_from < current.effective_from or (
            current.effective_to is not None and applies_from > current.effective_to
        ):
            period = f"{current.effective_from}–{current.effective_to or '…'}"
            raise ValidationError(
                {
                    "applies_from": _("执行日期 %(date)s 不在本版本的有效期 %(period)s 内。")
                    % {"date": applies_from, "period": period}
                }
            )
    if versioned and applies_from > current.effective_from:
        ended = copy.copy(current)
        ended.effective_to = applies_from - datetime.timedelta(days=1)
        new = PolicyValue(
            region=current.region,
            key=current.key,
            unit=current.unit,
            effective_from=applies_from,
            **{f: changes.get(f, getattr(current, f)) for f in REVISABLE_FIELDS},
        )
    else:
        new = copy.copy(current)
        for field, value in changes.items():
            setattr(new, field, value)
    new.full_clean(validate_unique=False)
    validate_policy_value(new, ignore=(current.pk,) if ended is not None else ())
    return PolicyRevision(current=current, ended=ended, new=new)


def record_rule_change(row, *, by, reason: str, command: str = "") -> None:
    """A change of a rule — a rulebook value, a rule of who a policy is for, an item of a
    service list — in the audit trail (a change of policy is one of the sensitive acts the
    trail lists): by a person (``by``), or by the system and the management command that made
    it (``command``, e.g. ``load_policies`` seeding or adopting the file's rows)."""
    from accounts.choices import AuditAction
    from accounts.services import record_audit

    details = {"region": row.region.name}
    for name in ("key", "subject", "code"):
        if getattr(row, name, ""):
            details[name] = getattr(row, name)
    record_audit(
        user=by,
        command="" if by is not None else command,
        action=AuditAction.POLICY_CHANGE,
        object_type=row._meta.label_lower,
        object_id=row.pk,
        reason=reason[:200],
        details=details,
    )


def _save_with_history(row: PolicyValue | EligibilityRule, *, by, reason: str) -> None:
    """Save a rulebook row with its reason in its history and, when a person makes the change,
    in the audit trail (the seed files loaded by commands record theirs in
    ``regions.seed_files``, naming the command)."""
    if by is not None:
        row._history_user = by
    row._change_reason = reason
    row.save()
    if by is not None:
        record_rule_change(row, by=by, reason=reason)


@transaction.atomic
def revise_policy_value(
    *,
    row: PolicyValue,
    applies_from: datetime.date | None,
    reason: str,
    by=None,
    today: datetime.date | None = None,
    **changes,
) -> PolicyRevision:
    """Change a rulebook value as ``plan_policy_revision`` describes, with the reason and the
    user in the history of every row it touches."""
    require_rulebook_writer(by, row.region)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写修改原因。")})
    # The key's versions in this region are locked while one is ended and the next begun.
    list(
        PolicyValue.objects.select_for_update()
        .filter(region=row.region, key=row.key)
        .values_list("pk", flat=True)
    )
    revision = plan_policy_revision(
        row=row, applies_from=applies_from, changes=changes, today=today
    )
    if revision.ended is not None:
        _save_with_history(
            revision.ended,
            by=by,
            reason=f"{reason}（{revision.new.effective_from} 起由新版本替代）",
        )
    _save_with_history(revision.new, by=by, reason=reason)
    current, new = revision.current, revision.new
    if any(getattr(current, f) != getattr(new, f) for f in VERSIONED_FIELDS):
        changed = (new.effective_from, new.effective_to)
    elif current.effective_to != new.effective_to:
        # An end date moved: the days after the earlier end now read another value.
        ends = [d for d in (current.effective_to, new.effective_to) if d is not None]
        changed = (min(ends) + datetime.timedelta(days=1), None)
    else:
        return revision
    rows = [row for row in (revision.ended, new) if row is not None]
    done = _follow_up(rows, *changed, reason=reason, today=today, by=by)
    return dataclasses.replace(revision, follow_up=done)


# What a saved change does to the work already done with the value, by the catalogue's
# ``used_by``: registered like the previews below (subsidies recomputes the months the
# allowance run has already paid), so the rulebook never imports the apps above it.
_REVISION_FOLLOW_UPS: dict[str, Callable] = {}


def register_revision_follow_up(used_by: str, follow_up: Callable) -> None:
    """``follow_up(rows=, start=, end=, reason=, today=, by=)`` runs in the transaction of a
    saved change to keys ``used_by``: ``rows`` (the old and the new version, or the new row)
    read differently from ``start`` (to ``end``); ``by`` made the change; what it returns is
    the change's ``follow_up``."""
    _REVISION_FOLLOW_UPS[used_by] = follow_up


def _follow_up(rows, start, end, *, reason: str, today, by=None) -> dict:
    follow_up = _REVISION_FOLLOW_UPS.get(get_key(rows[-1].key).used_by)
    if follow_up is None:
        return {}
    return follow_up(rows=rows, start=start, end=end, reason=reason, today=today, by=by)


# How a change to a key shows in the work of the app that reads it, by the catalogue's
# ``used_by``. The apps that read the rulebook live above it: they register their preview in
# their AppConfig.ready (subsidies registers the allowance run's), so the rulebook never
# imports them.
_CHANGE_PREVIEWS: dict[str, Callable] = {}


def register_change_preview(used_by: str, preview: Callable) -> None:
    """``preview(row=, applies_from=, changes=, reason=, by=)`` answers for keys ``used_by``."""
    _CHANGE_PREVIEWS[used_by] = preview


def preview_change(*, row: PolicyValue, applies_from, changes: dict, reason: str, by=None):
    """Who a change to ``row`` affects and the money difference, from the registered preview
    of the app that reads the key; None for a key no app previews. Saves nothing."""
    preview = _CHANGE_PREVIEWS.get(get_key(row.key).used_by)
    if preview is None:
        require_rulebook_writer(by, row.region)
        plan_policy_revision(row=row, applies_from=applies_from, changes=changes)
        return None
    return preview(row=row, applies_from=applies_from, changes=changes, reason=reason, by=by)


@transaction.atomic
def add_policy_value(*, by=None, reason: str, **fields) -> PolicyValue:
    """A new rulebook row (a key a region did not set before, or a later version entered as a
    row of its own), checked like every other change and recorded with its reason."""
    region = fields["region"]
    require_rulebook_writer(by, region)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写新增原因。")})
    row = PolicyValue(**fields)
    row.unit = get_key(row.key).unit
    row.full_clean()
    validate_policy_value(row)
    _save_with_history(row, by=by, reason=reason)
    _follow_up([row], row.effective_from, row.effective_to, reason=reason, today=None, by=by)
    return row


# --- rules of "who it is for" (EligibilityRule) -------------------------------------------


def describe_rule(row: EligibilityRule) -> str:
    return _("%(region)s（%(code)s）“%(label)s”，%(period)s，依据 %(citation)s") % {
        "region": row.region.name,
        "code": row.region.code,
        "label": row.label,
        "period": f"{row.effective_from}–{row.effective_to or '…'}",
        "citation": row.citation,
    }


def check_rule_overlap(candidate: EligibilityRule, *, ignore: tuple[int, ...] = ()) -> None:
    """Refuse a period that overlaps another version of the same rule (subject, region, code)."""
    clash = (
        EligibilityRule.objects.filter(
            subject=candidate.subject, region=candidate.region, code=candidate.code
        )
        .filter(overlapping(candidate.effective_from, candidate.effective_to))
        .exclude(pk__in=[pk for pk in (candidate.pk, *ignore) if pk is not None])
        .select_related("region")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "effective_from": _("与已有规则 %(other)s 的有效期重叠；请先为其设定失效日期。")
                % {"other": describe_rule(clash)}
            }
        )


@transaction.atomic
def add_eligibility_rule(*, by=None, reason: str, **fields) -> EligibilityRule:
    """A new rule, or a later version of one entered as a row of its own: checked against the
    subject's catalogue, the condition language and the other versions, and recorded with
    its reason."""
    require_rulebook_writer(by, fields["region"])
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写新增原因。")})
    row = EligibilityRule(**fields)
    row.full_clean()
    check_rule_overlap(row)
    _save_with_history(row, by=by, reason=reason)
    return row


@transaction.atomic
def end_eligibility_rule(
    *, row: EligibilityRule, effective_to: datetime.date, reason: str, by=None
) -> EligibilityRule:
    """End a rule on a day (the version that replaces it starts the day after)."""
    require_rulebook_writer(by, row.region)
    row.effective_to = effective_to
    row.full_clean()
    check_rule_overlap(row)
    _save_with_history(row, by=by, reason=reason)
    return row


@transaction.atomic
def upsert_divisions(divisions) -> tuple[int, int]:
    """Create or update regions from Division records (parents first). Returns (created, updated).

    Idempotent; a division whose parent is unknown is refused with its code named.
    """
    known = {r.code: r for r in Region.objects.all()}
    created = updated = 0
    for division in divisions:
        parent = None
        if division.parent_code:
            parent = known.get(division.parent_code)
            if parent is None:
                raise ValidationError(
                    _("区划 %(code)s（%(name)s）的上级 %(parent)s 不存在。")
                    % {"code": division.code, "name": division.name, "parent": division.parent_code}
                )
        wanted = {
            "name": division.name,
            "level": division.level,
            "parent": parent,
            "is_active": division.is_active,
            "valid_from_year": division.valid_from_year,
            "valid_to_year": division.valid_to_year,
            "source": division.source,
        }
        region = known.get(division.code)
        if region is None:
            region = Region(code=division.code, **wanted)
            region.full_clean(exclude=["path"])
            region.save()
            known[region.code] = region
            created += 1
        elif any(getattr(region, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(region, field, value)
            region.full_clean(exclude=["path"])
            region.save()
            updated += 1
    return created, updated
