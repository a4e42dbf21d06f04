"""Reads for the dashboard: one area (a region within the user's scope) and one period of months.

Each section composes the selectors and rules of the app that owns the figures — visit
compliance (visits), payment lines (subsidies), staffing, beds, waiting lists and workforce
targets (facilities), free ability assessments due (residents), the rulebook's gaps (regions) —
and decides no policy rule itself. Every section reads with a handful of set-based queries,
never one per elder or facility; visit compliance runs once per month of the period (at most
``MAX_MONTHS``).

Who sees what goes through accounts.scoping only: the area must be covered by one of the
user's assignments, each section is shown only to roles that reach its app
(``Scope.covers_region(area, app)``), and the records read are narrowed by ``scoped``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.scoping import scope_of, scoped
from facilities.choices import OPEN_APPLICATION_STATUSES, ApplicationStatus, BedType
from facilities.models import Application, Bed, Facility, Stay
from facilities.selectors import (
    TARGET_KEYS,
    stays_on,
    workforce_figures,
)
from regions.catalog import get_key
from regions.choices import RegionLevel
from regions.models import Region
from regions.selectors import (
    PolicyBook,
    PolicyValueNotSet,
    in_force_on,
    policy_gaps,
    resolve_policies,
)
from residents.models import Elder
from residents.selectors import free_assessments_due
from subsidies.choices import LineStatus
from subsidies.models import PaymentLine, money
from subsidies.selectors import payable_and_held
from visits import rules as visit_rules
from visits import schedule_store
from visits.selectors import (
    ComplianceLine,
    ComplianceReport,
    GroupBy,
    compliance,
    local_tz,
    month_bounds,
)

MAX_MONTHS = 12
DEFAULT_MONTHS = 3
# The picker offers the user's own areas and, below them, the levels a dashboard is read at.
PICKER_LEVELS = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.STREET)
SHARE_PLACES = Decimal("0.0001")
# How many of the most overdue assessments are listed by name (the counts cover them all).
OVERDUE_LISTED = 20


class Section:
    COMPLIANCE = "compliance"
    ALLOWANCES = "allowances"
    STAFFING = "staffing"
    BEDS = "beds"
    WORKFORCE = "workforce"
    ASSESSMENTS = "assessments"
    COVERAGE = "coverage"
    POLICY_GAPS = "policy_gaps"


# The app whose data each section shows: a role sees a section only if it reaches that app in
# accounts/rules.py (a finance officer sees the allowances, a street office no payments).
# The rulebook is public: every user with an area sees its gaps.
SECTION_APPS: dict[str, str | None] = {
    Section.COMPLIANCE: "visits",
    Section.ALLOWANCES: "subsidies",
    Section.STAFFING: "facilities",
    Section.BEDS: "facilities",
    Section.WORKFORCE: "facilities",
    Section.ASSESSMENTS: "residents",
    Section.COVERAGE: "servicelist",
    Section.POLICY_GAPS: None,
}


def today() -> datetime.date:
    return datetime.datetime.now(local_tz()).date()


def add_months(first: datetime.date, months: int) -> datetime.date:
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_between(start: datetime.date, end: datetime.date) -> int:
    """Months from the month of ``start`` to the month of ``end``, both included."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class Period:
    """Whole calendar months [first month, last month]; point-in-time figures are read on
    ``on``: the last day of the period, or today while the period is still running."""

    start: datetime.date  # first day of the first month
    end: datetime.date  # last day of the last month
    today: datetime.date

    @classmethod
    def of_months(cls, first: datetime.date, last: datetime.date, today: datetime.date) -> Period:
        return cls(first.replace(day=1), month_bounds(last)[1], today)

    @classmethod
    def default(cls, today: datetime.date) -> Period:
        """The current month and the ones before it, ``DEFAULT_MONTHS`` in all."""
        first = add_months(today.replace(day=1), -(DEFAULT_MONTHS - 1))
        return cls.of_months(first, today, today)

    @property
    def on(self) -> datetime.date:
        return min(self.end, self.today)

    @property
    def months(self) -> list[datetime.date]:
        return [add_months(self.start, n) for n in range(months_between(self.start, self.end))]


@contextmanager
def reading():
    """The dashboard's reads in one transaction tuned for the visit lists' first cut of elders
    (visits.schedule_store.tuned_reads: at a million elders the difference between seconds
    and a quarter of an hour)."""
    with schedule_store.tuned_reads():
        yield


# --- who sees which area ------------------------------------------------------------------------


def area_choices(user) -> list[Region]:
    """The regions the user may open a dashboard for, for the picker: each of the user's own
    areas, and the active regions below them down to street level. Institution staff, who
    cover a facility and no area, have none."""
    scope = scope_of(user)
    if scope.everything:
        return list(Region.objects.filter(is_active=True, level__in=PICKER_LEVELS))
    if not scope.region_paths:
        return []
    below = Q(pk__in=[])
    for path in scope.region_paths:
        below |= Q(path__startswith=path)
    return list(
        Region.objects.filter(
            Q(path__in=scope.region_paths) | (below & Q(is_active=True, level__in=PICKER_LEVELS))
        ).order_by("path")
    )


def may_open(user, area: Region) -> bool:
    return scope_of(user).covers_region(area)


def sections_for(user, area: Region) -> list[str]:
    """The sections of ``area`` the user's roles reach, in page order."""
    scope = scope_of(user)
    return [section for section, app in SECTION_APPS.items() if scope.covers_region(area, app)]


# --- visit compliance by street and month ------------------------------------------------------


def compliance_grouping(area: Region) -> str:
    """By street for a county or larger area; by community within a street (or below)."""
    if area.level in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY):
        return GroupBy.STREET
    return GroupBy.COMMUNITY


@dataclass
class ComplianceMonth:
    month: datetime.date
    start: datetime.date | None = None
    end: datetime.date | None = None
    report: ComplianceReport | None = None
    note: str = ""

    @property
    def target_percent(self) -> str | None:
        return None if self.report is None else f"{self.report.target * 100:.2f}"


@dataclass(frozen=True)
class ComplianceCell:
    done: int
    owed: int
    rate: Decimal | None
    meets_target: bool | None

    @property
    def percent(self) -> str | None:
        return None if self.rate is None else f"{self.rate * 100:.2f}"


@dataclass
class ComplianceRow:
    key: str
    label: str
    cells: list[ComplianceCell | None] = field(default_factory=list)


@dataclass
class ComplianceTable:
    group_by: str
    months: list[ComplianceMonth]
    rows: list[ComplianceRow]
    total: ComplianceRow

    def chart(self) -> dict:
        """For Chart.js: one bar per street (or community) and month, rates in percent."""
        return {
            "labels": [row.label for row in self.rows],
            "text": {"target": str(_("目标")), "axis": str(_("完成率（%）"))},
            "datasets": [
                {
                    "label": f"{month.month:%Y-%m}",
                    "data": [
                        None if row.cells[i] is None else row.cells[i].percent for row in self.rows
                    ],
                    "target": month.target_percent,
                }
                for i, month in enumerate(self.months)
            ],
        }


def _cell(report: ComplianceReport, line) -> ComplianceCell:
    return ComplianceCell(line.done, line.owed, line.rate, report.meets_target(line))


def compliance_by_month(area: Region, period: Period) -> ComplianceTable:
    """visits.selectors.compliance for each month of the period (a running month up to today),
    grouped by street (or community); months not begun are noted, as are months whose rules are
    not set in the rulebook.

    The months are read together (``_months_at_once``): one schedule book, one read of the
    elders and their visits for the whole period, each elder's runs of days split at the month
    ends; a month's figures are those ``compliance`` gives for that month alone. When the
    rulebook cannot be applied somewhere in the period, each month is read alone, so that only
    the months concerned carry the note."""
    group_by = compliance_grouping(area)
    months: list[ComplianceMonth] = []
    for first in period.months:
        if first > period.today:
            months.append(ComplianceMonth(first, note=str(_("尚未开始"))))
            continue
        start, end = month_bounds(first)
        months.append(ComplianceMonth(first, start, min(end, period.today)))
    begun = [month for month in months if month.start is not None]
    together = _months_at_once(area, begun, group_by) if begun else None
    for month in begun:
        try:
            if together is not None:
                month.report = together[month.month]
                if isinstance(month.report, PolicyValueNotSet):
                    raise month.report
            else:
                month.report = compliance(
                    area=area, start=month.start, end=month.end, group_by=group_by
                )
        except PolicyValueNotSet as missing:
            month.report = None
            month.note = str(_("所需规则未设定：%(reason)s") % {"reason": missing})

    rows: dict[str, ComplianceRow] = {}
    total = ComplianceRow(key=area.code, label=str(_("合计")))
    for i, month in enumerate(months):
        report = month.report
        total.cells.append(None if report is None else _cell(report, report.total))
        for line in report.lines if report else ():
            row = rows.setdefault(line.key, ComplianceRow(line.key, line.label))
            row.cells.extend([None] * (i - len(row.cells)))
            row.cells.append(_cell(report, line))
    for row in rows.values():
        row.cells.extend([None] * (len(months) - len(row.cells)))
    ordered = sorted(rows.values(), key=lambda r: (r.key == "", r.key))
    return ComplianceTable(group_by=group_by, months=months, rows=ordered, total=total)


def _months_at_once(
    area: Region, months: list[ComplianceMonth], group_by: str
) -> dict[datetime.date, ComplianceReport | PolicyValueNotSet] | None:
    """What ``compliance(area=area, start=m.start, end=m.end, group_by=group_by)`` gives for
    each month ``m`` (consecutive months, the last possibly cut at today), counted by the same
    rules in one pass (visits.schedule_store.month_figures: from the stored schedules when
    they are stored, else worked out): a day owed daily is one elder-day, done when a counted
    visit falls on it; a month with a day owed monthly is one elder-month, done when a counted
    visit falls in it on or before the month's end; the lines of a street or community are
    those of the elder's place. The overdue lists are not built (the dashboard shows none). A
    month whose coverage target is not set gets the error ``compliance`` raises. None when
    the schedules cannot be worked out over the whole period: the caller then reads month by
    month."""
    start, end = months[0].start, months[-1].end
    read = schedule_store.month_figures(
        area, [(month.start, month.end) for month in months], group_by
    )
    if read is None:
        return None
    figures, labels = read

    reports: dict[datetime.date, ComplianceReport | PolicyValueNotSet] = {}
    targets = PolicyBook([visit_rules.COVERAGE_TARGET_KEY], start, end)
    for i, month in enumerate(months):
        target = targets.resolve(visit_rules.COVERAGE_TARGET_KEY, area, month.end)
        try:
            value = Decimal(target.require())
        except PolicyValueNotSet as missing:
            reports[month.month] = missing
            continue
        total = ComplianceLine(key=area.code, label=area.name)
        lines = {}
        for key, (daily_owed, daily_done, monthly_owed, monthly_done) in figures.items():
            if not (daily_owed[i] or monthly_owed[i]):
                continue  # no elder of the line owed a visit this month
            lines[key] = ComplianceLine(
                key=key,
                label=labels.get(key, "（未分配）"),
                daily_owed=daily_owed[i],
                daily_done=daily_done[i],
                monthly_owed=monthly_owed[i],
                monthly_done=monthly_done[i],
            )
            total.daily_owed += daily_owed[i]
            total.daily_done += daily_done[i]
            total.monthly_owed += monthly_owed[i]
            total.monthly_done += monthly_done[i]
        reports[month.month] = ComplianceReport(
            area=area,
            start=month.start,
            end=month.end,
            group_by=group_by,
            target=value,
            target_citation=target.citation,
            total=total,
            lines=[lines[key] for key in sorted(lines, key=lambda key: (key == "", key))],
            overdue=[],
        )
    return reports


# --- allowance totals by month and scheme -------------------------------------------------------


@dataclass(frozen=True)
class AllowanceCell:
    count: int
    amount: Decimal

    @property
    def amount_display(self) -> str:
        """Yuan with thousands separators, exactly (Decimal formatting, no float)."""
        return f"{self.amount:,.2f}"


@dataclass
class AllowanceTable:
    months: list[datetime.date]
    schemes: list[tuple[str, str]]  # (code, label)
    cells: dict[tuple[datetime.date, str], AllowanceCell]
    month_totals: dict[datetime.date, AllowanceCell]
    total: AllowanceCell
    # Lines held for want of the payee's account (subsidies.payees): not paid, so in none of
    # the figures above; shown apart, per month and in all.
    held_by_month: dict[datetime.date, AllowanceCell] = field(default_factory=dict)
    held: AllowanceCell = AllowanceCell(0, Decimal("0.00"))

    def cell(self, month: datetime.date, scheme: str) -> AllowanceCell | None:
        return self.cells.get((month, scheme))

    @property
    def rows(
        self,
    ) -> list[tuple[datetime.date, list[AllowanceCell | None], AllowanceCell, AllowanceCell]]:
        """(month, a cell per scheme or None, the month's total, the month's held lines), for
        the table."""
        nothing = AllowanceCell(0, Decimal("0.00"))
        return [
            (
                m,
                [self.cell(m, code) for code, _label in self.schemes],
                self.month_totals[m],
                self.held_by_month.get(m, nothing),
            )
            for m in self.months
        ]

    @property
    def scheme_totals(self) -> list[AllowanceCell]:
        totals = []
        for code, _label in self.schemes:
            cells = [c for (_m, s), c in self.cells.items() if s == code]
            totals.append(
                AllowanceCell(
                    sum(c.count for c in cells),
                    money(sum((c.amount for c in cells), Decimal(0))),
                )
            )
        return totals

    def chart(self) -> dict:
        """For Chart.js: stacked bars per month, one dataset per scheme; amounts as exact
        decimal strings (the chart draws them, the table shows them)."""
        return {
            "labels": [f"{m:%Y-%m}" for m in self.months],
            "text": {"axis": str(_("金额（元）"))},
            "datasets": [
                {
                    "label": label,
                    "data": [
                        str(self.cells[(m, code)].amount) if (m, code) in self.cells else "0.00"
                        for m in self.months
                    ],
                }
                for code, label in self.schemes
            ],
        }


def area_payment_lines(user, area: Region) -> QuerySet[PaymentLine]:
    """Payment lines of the area that the user may see: lines of the batches paid for the area
    or a region below it, and — for an area below the paying county, such as a street — the
    lines of elders registered there and of facilities located there. Cancelled lines are kept
    for the record and not paid (subsidies.selectors.live_lines), so they are left out."""
    return (
        scoped(PaymentLine.objects.all(), user)
        .exclude(status=LineStatus.CANCELLED)
        .filter(
            Q(batch__region__path__startswith=area.path)
            | Q(elder__hukou_region__path__startswith=area.path)
            | Q(facility__region__path__startswith=area.path)
        )
    )


def allowance_totals(user, area: Region, period: Period) -> AllowanceTable:
    """Count and amount of the lines paid per month of payment (the batch's month) and scheme.
    Recoveries are negative lines, so the totals are net. Lines held for want of the payee's
    account — or that approval or export will hold — are not paid: they are counted apart
    (``held``), never in a total, by the rule every batch page uses
    (subsidies.selectors.payable_and_held)."""
    split = payable_and_held(
        area_payment_lines(user, area).filter(
            batch__period__gte=period.start, batch__period__lte=period.end
        ),
        ("batch__period", "scheme__code", "scheme__label"),
    )
    cells: dict[tuple[datetime.date, str], AllowanceCell] = {}
    held_cells: dict[datetime.date, list[AllowanceCell]] = {}
    schemes: dict[str, str] = {}
    for (month, code, label), found in sorted(split.items()):
        schemes[code] = label
        if found.payable.count:
            cells[(month, code)] = AllowanceCell(found.payable.count, found.payable.amount)
        if found.held.count:
            held_cells.setdefault(month, []).append(
                AllowanceCell(found.held.count, found.held.amount)
            )
    month_totals = {}
    for month in period.months:
        in_month = [c for (m, _code), c in cells.items() if m == month]
        month_totals[month] = _summed(in_month)
    held_by_month = {month: _summed(found) for month, found in held_cells.items()}
    return AllowanceTable(
        months=period.months,
        schemes=sorted(schemes.items()),
        cells=cells,
        month_totals=month_totals,
        total=_summed(cells.values()),
        held_by_month=held_by_month,
        held=_summed(held_by_month.values()),
    )


def _summed(cells) -> AllowanceCell:
    cells = list(cells)
    return AllowanceCell(
        sum(c.count for c in cells), money(sum((c.amount for c in cells), Decimal(0)))
    )


# --- facilities: staffing, beds and waiting lists ----------------------------------------------


def area_facilities(user, area: Region) -> QuerySet[Facility]:
    return (
        scoped(Facility.objects.all(), user)
        .filter(region__path__startswith=area.path, is_active=True)
        .select_related("region")
        .order_by("region__code", "code")
    )


@dataclass(frozen=True)
class BedsLine:
    facility: Facility
    beds: int  # active beds in the facility (home-care beds apart)
    occupied: int
    home_care_beds: int
    home_care_occupied: int
    waiting: int  # applications waiting
    offered: int  # applications offered a bed, not yet admitted

    @property
    def free(self) -> int:
        return self.beds - self.occupied

    @property
    def occupancy(self) -> Decimal | None:
        if not self.beds:
            return None
        return (Decimal(self.occupied) / Decimal(self.beds)).quantize(SHARE_PLACES, ROUND_HALF_UP)

    @property
    def occupancy_percent(self) -> str | None:
        rate = self.occupancy
        return None if rate is None else f"{rate * 100:.2f}"

    @property
    def waiting_list_length(self) -> int:
        """The open applications, as facilities.selectors.waiting_list ranks them."""
        return self.waiting + self.offered


def beds_and_waiting(facilities: list[Facility], on: datetime.date) -> list[BedsLine]:
    """Per facility: active beds and those with a stay in force on ``on`` (home-care beds, in
    elders' own homes, counted apart), and the open applications of its waiting list now.
    Three queries. Facilities with neither beds nor applications are left out."""
    ids = [f.pk for f in facilities]
    home = Q(bed_type=BedType.HOME_CARE)
    beds = {
        row["facility_id"]: row
        for row in Bed.objects.filter(facility_id__in=ids, is_active=True)
        .values("facility_id")
        .annotate(beds=Count("id", filter=~home), home_care=Count("id", filter=home))
    }
    occupied: dict[int, dict[bool, int]] = defaultdict(dict)
    for facility_id, bed_type, n in (
        Stay.objects.filter(stays_on(on), bed__facility_id__in=ids, bed__is_active=True)
        .values_list("bed__facility_id", "bed__bed_type")
        .annotate(n=Count("bed", distinct=True))
    ):
        is_home = bed_type == BedType.HOME_CARE
        occupied[facility_id][is_home] = occupied[facility_id].get(is_home, 0) + n
    applications = {
        row["facility_id"]: row
        for row in Application.objects.filter(
            facility_id__in=ids, status__in=OPEN_APPLICATION_STATUSES
        )
        .values("facility_id")
        .annotate(
            waiting=Count("id", filter=Q(status=ApplicationStatus.WAITING)),
            offered=Count("id", filter=Q(status=ApplicationStatus.OFFERED)),
        )
    }
    lines = []
    for facility in facilities:
        bed_row = beds.get(facility.pk, {})
        app_row = applications.get(facility.pk, {})
        if not bed_row and not app_row:
            continue
        lines.append(
            BedsLine(
                facility=facility,
                beds=bed_row.get("beds", 0),
                occupied=occupied[facility.pk].get(False, 0),
                home_care_beds=bed_row.get("home_care", 0),
                home_care_occupied=occupied[facility.pk].get(True, 0),
                waiting=app_row.get("waiting", 0),
                offered=app_row.get("offered", 0),
            )
        )
    return lines


def beds_chart(lines: list[BedsLine]) -> dict:
    return {
        "labels": [line.facility.name for line in lines],
        "text": {
            "occupied": str(_("已入住")),
            "free": str(_("空闲")),
            "waiting": str(_("轮候名单")),
        },
        "occupied": [line.occupied for line in lines],
        "free": [line.free for line in lines],
        "waiting": [line.waiting_list_length for line in lines],
    }


# --- workforce figures against the targets -----------------------------------------------------


@dataclass(frozen=True)
class TargetLine:
    key: str
    label: str
    actual: str | None
    target: str | None
    met: bool | None  # None: the target is not set, or there is nothing to measure
    note: str
    source: str | None
    # As people read them: shares as percentages ("29.17%"), not 0.2917.
    actual_shown: str | None = None
    target_shown: str | None = None

    @property
    def status(self) -> str:
        if self.target is None:
            return "not_set"
        if self.actual is None:
            return "no_data"
        return "met" if self.met else "not_met"


def workforce(area: Region, on: datetime.date) -> tuple[dict, list[TargetLine]]:
    """facilities.selectors.workforce_figures, with each target_* line in catalogue order. A
    target the rulebook leaves "not set" stays not set (never shown as met)."""
    figures = workforce_figures(area, on)
    lines = [
        TargetLine(
            key=key,
            label=figures["figures"][key]["label"],
            actual=figures["figures"][key]["actual"],
            target=figures["figures"][key]["target"],
            met=figures["figures"][key]["met"],
            note=figures["figures"][key]["target_note"],
            source=figures["figures"][key]["target_source"],
            actual_shown=figures["figures"][key]["actual_shown"],
            target_shown=figures["figures"][key]["target_shown"],
        )
        for key in TARGET_KEYS
    ]
    return figures, lines


# --- free ability assessments due --------------------------------------------------------------


@dataclass(frozen=True)
class DueElder:
    elder_id: int
    name: str
    elder_code: str
    # None when due by age: that date is a birthday, which would give the masked ID digits.
    due_on: datetime.date | None
    last_assessed_on: datetime.date | None
    high_age: bool = False  # at or above the yearly-assessment age (80)


@dataclass
class AssessmentsDue:
    on: datetime.date
    due: int = 0  # due on or before ``on`` (overdue included)
    overdue: int = 0  # due before ``on``
    never_assessed: int = 0  # due, and never assessed at all
    # (street or community code, its name, due, overdue)
    by_area: list[tuple[str, str, int, int]] = field(default_factory=list)
    most_overdue: list[DueElder] = field(default_factory=list)
    note: str = ""


def area_elders(user, area: Region) -> QuerySet[Elder]:
    """The elders of the area the user may see: registered (户籍) or living (常住) there, as the
    scope rule of elders places them."""
    return scoped(Elder.objects.all(), user).filter(
        Q(hukou_region__path__startswith=area.path)
        | Q(residence_region__path__startswith=area.path)
    )


def _sub_areas(area: Region) -> dict[str, Region]:
    """The streets of the area (its communities within a street), as compliance groups."""
    by_street = compliance_grouping(area) == GroupBy.STREET
    level = RegionLevel.STREET if by_street else RegionLevel.COMMUNITY
    return {r.code: r for r in Region.objects.filter(path__startswith=area.path, level=level)}


def _sub_area_code(path: str | None, sub_areas: dict[str, Region]) -> str:
    for code in (path or "").split("/"):
        if code in sub_areas:
            return code
    return ""


def assessments_due(user, area: Region, on: datetime.date) -> AssessmentsDue:
    """residents.selectors.free_assessments_due for the area's elders, counted by street (or
    community) of residence — of registration when no residence is recorded — with the most
    overdue listed by name and elder code."""
    result = AssessmentsDue(on=on)
    elders = area_elders(user, area)
    try:
        due = free_assessments_due(on, elders=elders)
    except PolicyValueNotSet as missing:
        result.note = str(_("所需规则未设定：%(reason)s") % {"reason": missing})
        return result
    result.due = len(due)
    result.overdue = sum(d.is_overdue(on) for d in due)
    result.never_assessed = sum(d.never_assessed for d in due)
    sub_areas = _sub_areas(area)
    place = {
        elder_id: _sub_area_code(residence or hukou, sub_areas)
        for elder_id, residence, hukou in elders.values_list(
            "id", "residence_region__path", "hukou_region__path"
        )
    }
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in due:
        counts[place.get(d.elder_id, "")][0] += 1
        counts[place.get(d.elder_id, "")][1] += d.is_overdue(on)
    result.by_area = [
        (code, sub_areas[code].name if code else str(_("（其他）")), n, late)
        for code, (n, late) in sorted(counts.items(), key=lambda kv: (kv[0] == "", kv[0]))
    ]
    listed = [d for d in due if d.is_overdue(on)][:OVERDUE_LISTED]
    names = {
        e.pk: e
        for e in Elder.objects.filter(pk__in=[d.elder_id for d in listed]).only(
            "id", "name", "elder_code"
        )
    }
    result.most_overdue = [
        DueElder(
            d.elder_id,
            names[d.elder_id].name,
            names[d.elder_id].elder_code,
            d.shown_due_on,
            d.last_assessed_on,
            d.high_age,
        )
        for d in listed
    ]
    return result


# --- the rulebook's gaps -----------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    region: Region
    key: str
    label: str
    effective_from: datetime.date
    citation: str
    needed_by: str
    applies_here: bool  # the value the area itself resolves to (not a region below it)


def gaps_for(area: Region, on: datetime.date) -> list[Gap]:
    """The policy values still "not set" (regions.selectors.policy_gaps, as the policy_gaps
    command lists them) that are in force on ``on`` and matter to the area: those the area
    resolves to (its own or inherited from above), and those of regions below it. A gap above
    the area that a nearer region fills is left out. Two queries."""
    codes = [c for c in area.path.split("/") if c]
    rows = list(
        policy_gaps()
        .filter(in_force_on(on))
        .filter(Q(region__code__in=codes) | Q(region__path__startswith=area.path))
    )
    # Keys with a gap at the area or above it: which row does the area itself resolve to?
    above = sorted({row.key for row in rows if area.path.startswith(row.region.path)})
    resolved = resolve_policies(above, area, on) if above else {}
    gaps = []
    for row in rows:
        applies_here = area.path.startswith(row.region.path)
        given = resolved[row.key].row if applies_here else None
        if given is not None and len(given.region.path) > len(row.region.path):
            continue  # a nearer region gives this key for the area
        # A gap stays listed where a value from above is read meanwhile (a "not set" row never
        # hides one, docs/policy.md §0): the level still has to enter its own amount.
        catalogue = get_key(row.key)
        gaps.append(
            Gap(
                region=row.region,
                key=row.key,
                label=catalogue.label,
                effective_from=row.effective_from,
                citation=row.citation,
                needed_by=catalogue.used_by,
                applies_here=applies_here,
            )
        )
    gaps.sort(key=lambda g: (not g.applies_here, g.region.code, g.key))
    return gaps
