"""Reads of the visit schedule: who must be visited and how often, today's lists, compliance.

Everything is set-based: the elders of an area are read with a handful of queries (the visit
lists, the rulebook rows, elders, their categories, their assessments, their visits), then the
lists' conditions are applied in memory. No query runs per elder or per day. Over a period, an elder's schedule is
worked out once per run of days on which none of its facts changes (``ScheduleBook.intervals``),
not once per day.

Who is on the list follows from the elder's *residence* (常住地, 清单: 面向常住的…老年人), not
household registration; an elder whose residence was never recorded is placed by their
registration (accounts.rules.ElderPlace, the street workers' scope) and listed with
``residence_unknown`` so that the worker completes it.
"""

from __future__ import annotations

import bisect
import calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, Q, QuerySet

from accounts.rules import ElderPlace
from regions import conditions
from regions.choices import FREQUENCY_ORDER, Frequency, RegionLevel
from regions.conditions import Facts
from regions.models import Region
from regions.selectors import PolicyBook, PolicyValueNotSet, RuleBook
from residents.ages import add_years, age_on, birthday
from residents.models import AbilityAssessment, Elder, ElderCategory
from visits import rules
from visits.choices import FollowUpStatus, VisitFrequency, VisitOutcome
from visits.models import FollowUpTask, HealthCheck, Visit, VisitWorker

# 《老年人权益保障法》第二条: 老年人 is 60周岁以上; the visit lists are lists of elders.
ELDER_AGE = 60

# A visit "counts" when the elder was reached; a door knocked on with nobody home is logged
# (it shows effort and may open a follow-up) but leaves the visit still owed.
COUNTED_OUTCOMES = [o for o in VisitOutcome.values if o != VisitOutcome.NOT_AT_HOME]

# Enum value lists, computed once (the schedule is evaluated per elder and run of days).
_FREQUENCIES = frozenset(VisitFrequency.values)
_FREQUENCY_RANK = {f: i for i, f in enumerate(FREQUENCY_ORDER)}

# Rates are shares with four places (so 0.9677 = 96.77%), rounded half up.
RATE_PLACES = Decimal("0.0001")


ONE_DAY = datetime.timedelta(days=1)


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=local_tz())


def month_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


# --- the rulebook, read once for a period ------------------------------------------------


# --- who must be visited --------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Why and how often an elder must be visited on a date."""

    frequency: str  # VisitFrequency
    groups: tuple[str, ...]
    citation: str


@dataclass
class _ElderFacts:
    id: int
    id_number: str
    name: str
    birth_date: datetime.date
    death_date: datetime.date | None
    region: Region  # where the elder is placed: the residence, else the registration
    pension_type: str = ""
    hukou_path: str = ""
    residence_path: str = ""  # "" when no residence is recorded
    categories: list[tuple[str, datetime.date, datetime.date | None]] = field(default_factory=list)
    assessments: list[tuple[datetime.date, str]] = field(default_factory=list)  # newest first
    # Stays in care institutions [first day, end day) with the day the county approved the
    # placement (or None), when a list asks about stays (None: not read).
    stays: list[tuple[datetime.date, datetime.date | None, datetime.date | None]] | None = None
    # The disability certificate (残疾人证): category code and grade, "" and None without one.
    disability_category: str = ""
    disability_grade: int | None = None

    def alive_on(self, on: datetime.date) -> bool:
        # The dead are never listed: from the day of death no visit is owed.
        return self.death_date is None or on < self.death_date

    def facts_on(self, on: datetime.date) -> Facts:
        """What the lists' conditions read about this elder on ``on``."""
        return conditions.facts_on(
            on,
            birth_date=self.birth_date,
            categories=self.categories,
            assessments=self.assessments,
            stays=self.stays,
            pension_type=self.pension_type,
            disability_category=self.disability_category,
            disability_grade=self.disability_grade,
            hukou_path=self.hukou_path,
            residence_path=self.residence_path,
        )

    @property
    def residence_unknown(self) -> bool:
        return not self.residence_path


# The region fields an elder's facts carry, in the model's field order (as ``from_db`` wants).
_REGION_FIELDS = [
    f.attname
    for f in Region._meta.concrete_fields
    if f.attname in {"id", "code", "path", "name", "level"}
]
_PATH = _REGION_FIELDS.index("path")


_PLACE = ElderPlace()


def _area_filter(areas: Iterable[Region]) -> Q:
    condition = Q(pk__in=[])
    for area in areas:
        condition |= _PLACE.q(area.path)
    return condition


class ScheduleBook:
    """The elders of some areas who may need visits in [start, end], with everything needed
    to decide, day by day, whether and how often each must be visited.

    The lists are the ``visit_list`` rules (visits/rules.py) that apply somewhere in the areas,
    read in one query; their conditions give the first cut of elders in SQL
    (``candidates_q``: whoever may be listed on some day of the period) and are then read in
    Python for each run of days (``Facts``), by the same definition (regions/conditions.py).
    """

    def __init__(
        self,
        *,
        areas: Iterable[Region],
        start: datetime.date,
        end: datetime.date,
        elders: QuerySet[Elder] | None = None,
    ):
        self.start, self.end = start, end
        areas = list(areas)
        self.lists = RuleBook(rules.SUBJECT, start, end, within=areas)
        frequency_keys = {r.params[rules.FREQUENCY_PARAM] for r in self.lists.rows}
        condition_keys = {k for r in self.lists.rows for k in conditions.keys_of(r.condition)}
        self.policies = PolicyBook(sorted(frequency_keys | condition_keys), start, end)
        # Every value each key of a condition takes in the period, for the first cut and for
        # the birthdays on which an age test may change its answer.
        key_values = {key: self.policies.values(key) for key in condition_keys}
        self._threshold_ages = {ELDER_AGE}.union(
            *(conditions.threshold_ages(r.condition, key_values) for r in self.lists.rows)
        )
        self._path_changes: dict[str, set[datetime.date]] = {}
        self._in_force: dict[tuple[str, datetime.date], list] = {}
        self._readers: dict[object, conditions.Explainer] = {}
        self._keys: dict[int, list[str]] = {}
        base = (elders if elders is not None else Elder.objects.all()).filter(
            _area_filter(areas),
            Q(death_date__isnull=True) | Q(death_date__gt=start),
            birth_date__lte=add_years(end, -ELDER_AGE),
        )
        candidate = (
            conditions.candidates_q(
                {"any": [r.condition for r in self.lists.rows]},
                start=start,
                end=end,
                values=key_values,
            )
            if self.lists.rows
            else conditions.FALSE
        )
        self.candidates = base.filter(candidate)
        ids = self.candidates.values("id")
        operators = set().union(*(conditions.operators_of(r.condition) for r in self.lists.rows))
        category_codes = sorted(
            set().union(*(conditions.codes_of(r.condition, "category") for r in self.lists.rows))
        )

        # Plain rows, and each region placing elders built once (as the ORM loads a row with
        # deferred fields): far cheaper than an Elder and a Region instance per elder for an
        # area of hundreds of thousands, and no query more. The place (ElderPlace) is the
        # residence or the registration: both are joined, the rule's expression picks one.
        regions: dict[int, Region] = {}
        self.elders: dict[int, _ElderFacts] = {}
        width = len(_REGION_FIELDS)
        for (
            elder_id,
            id_number,
            name,
            birth_date,
            death_date,
            pension_type,
            disability_category,
            disability_grade,
            place_id,
            *rest,
        ) in self.candidates.annotate(place_id=_PLACE.region_id()).values_list(
            "id",
            "id_number",
            "name",
            "birth_date",
            "death_date",
            "pension_type",
            "disability_category",
            "disability_grade",
            "place_id",
            *(f"residence_region__{name}" for name in _REGION_FIELDS),
            *(f"hukou_region__{name}" for name in _REGION_FIELDS),
        ):
            residence, registration = rest[:width], rest[width:]
            region = regions.get(place_id)
            if region is None:
                values = residence if residence[0] == place_id else registration
                region = Region.from_db(self.candidates.db, _REGION_FIELDS, values)
                regions[place_id] = region
            self.elders[elder_id] = _ElderFacts(
                elder_id,
                id_number,
                name,
                birth_date,
                death_date,
                region,
                pension_type,
                registration[_PATH],
                residence[_PATH] or "",
                disability_category=disability_category,
                disability_grade=disability_grade,
            )
        if category_codes:
            for elder_id, category, s, e in (
                ElderCategory.objects.filter(elder_id__in=ids, category__in=category_codes)
                .filter(start_date__lte=end)
                .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
                .values_list("elder_id", "category", "start_date", "end_date")
            ):
                self.elders[elder_id].categories.append((category, s, e))
        if "ability_level" in operators:
            for elder_id, assessed_on, level in (
                AbilityAssessment.objects.filter(elder_id__in=ids, assessed_on__lte=end)
                .order_by("elder_id", "-assessed_on", "-id")
                .values_list("elder_id", "assessed_on", "final_level")
            ):
                self.elders[elder_id].assessments.append((assessed_on, level))
        if operators & set(conditions.STAY_LEAVES):
            for elder in self.elders.values():
                elder.stays = []
            for elder_id, first, ended, approved in (
                conditions.institution_stays()
                .filter(elder_id__in=ids, start_date__lte=end)
                .filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
                .values_list("elder_id", "start_date", "end_date", "placement_approved_on")
            ):
                self.elders[elder_id].stays.append((first, ended, approved))

    def _reader(self, rule, region: Region, on: datetime.date):
        """The rule's condition as a Python function of Facts (reasons, or None when it does
        not hold), with the rulebook's values of its keys for ``region`` on ``on``."""
        keys = self._keys.get(rule.pk)
        if keys is None:
            keys = self._keys[rule.pk] = sorted(conditions.keys_of(rule.condition))
        if not keys:
            reader = self._readers.get(rule.pk)
            if reader is None:
                reader = self._readers[rule.pk] = conditions.explainer(rule.condition)
            return reader
        values = {key: self.policies.resolve(key, region, on).require() for key in keys}
        cache_key = (rule.pk, tuple(values.items()))
        reader = self._readers.get(cache_key)
        if reader is None:
            reader = self._readers[cache_key] = conditions.explainer(rule.condition, values=values)
        return reader

    def schedule(self, elder: _ElderFacts, on: datetime.date) -> Schedule | None:
        """How often ``elder`` must be visited on ``on`` (None: not on the list)."""
        if not elder.alive_on(on) or age_on(elder.birth_date, on) < ELDER_AGE:
            return None
        in_force_key = (elder.region.path, on)
        lists = self._in_force.get(in_force_key)
        if lists is None:
            lists = self._in_force[in_force_key] = self.lists.in_force(elder.region.path, on)
        if not lists:
            return None
        facts = elder.facts_on(on)
        best: str | None = None
        matched: list[str] = []
        citations: list[str] = []
        for rule in lists:
            reasons = self._reader(rule, elder.region, on)(facts)
            if reasons is None:
                continue
            matched.extend(reasons or [rule.code])
            citations.append(rule.citation)
            key = rule.params[rules.FREQUENCY_PARAM]
            frequency = self.policies.resolve(key, elder.region, on).require()
            if frequency not in _FREQUENCIES:
                raise ValueError(
                    f"{key} for {elder.region.code} is {frequency!r}: visit schedules "
                    f"support {', '.join(VisitFrequency.values)}"
                )
            if best is None or _FREQUENCY_RANK[frequency] < _FREQUENCY_RANK[best]:
                best = frequency
        if best is None:
            return None
        return Schedule(
            frequency=best,
            groups=rules.ordered_groups(matched),
            citation="；".join(dict.fromkeys(citations)),
        )

    def on(self, day: datetime.date) -> dict[int, Schedule]:
        result = {}
        for elder in self.elders.values():
            schedule = self.schedule(elder, day)
            if schedule is not None:
                result[elder.id] = schedule
        return result

    def change_days(self, elder: _ElderFacts) -> list[datetime.date]:
        """``start``, then every later day of the period on which a fact ``schedule`` reads for
        ``elder`` may change, then the day after ``end``, in order and each once.

        Those facts are: a category period starting or ending, an assessment, a stay in an
        institution starting or ending (when a list asks who lives at home), death, the
        birthdays at which an age test may change its answer (being an elder at 60, every age
        a list's condition names or takes from the rulebook in the period), a visit list of the
        elder's region or above coming into force or lapsing, and likewise a rulebook row.
        Between two of these days every fact is the same, so the schedule is too.
        """
        path = elder.region.path
        if path not in self._path_changes:
            days = set(self.policies.changes(path)) | self.lists.change_days(path)
            self._path_changes[path] = {d for d in days if self.start < d <= self.end}
        days = set(self._path_changes[path])
        for _category, first, last in elder.categories:
            days.add(first)
            if last is not None and last < self.end:
                days.add(last + ONE_DAY)
        days.update(assessed_on for assessed_on, _level in elder.assessments)
        for first, ended, approved in elder.stays or ():
            days.add(first)
            if ended is not None:
                days.add(ended)
            if approved is not None:
                days.add(approved)
        if elder.death_date is not None:
            days.add(elder.death_date)
        days.update(birthday(elder.birth_date, years) for years in self._threshold_ages)
        return [
            self.start,
            *sorted(d for d in days if self.start < d <= self.end),
            self.end + ONE_DAY,
        ]

    def intervals(self, elder: _ElderFacts) -> list[tuple[datetime.date, datetime.date, Schedule]]:
        """The maximal runs of days ``(first, last, schedule)`` of [start, end] on which
        ``elder`` must be visited on one unchanging schedule, in order; days on which the elder
        is not on the list belong to no run. Equal to asking ``schedule`` day by day."""
        runs: list[tuple[datetime.date, datetime.date, Schedule]] = []
        days = self.change_days(elder)
        for first, following in zip(days, days[1:], strict=False):
            schedule = self.schedule(elder, first)
            if schedule is None:
                continue
            last = following - ONE_DAY
            if runs and runs[-1][2] == schedule and runs[-1][1] + ONE_DAY == first:
                runs[-1] = (runs[-1][0], last, schedule)
            else:
                runs.append((first, last, schedule))
        return runs


@dataclass(frozen=True)
class DueElder:
    elder_id: int
    id_number: str
    name: str
    residence_region: Region  # the residence, else the registration (residence_unknown)
    frequency: str
    groups: tuple[str, ...]
    citation: str
    last_visit: datetime.datetime | None
    due: bool  # a visit is still owed for this day (daily) or month (monthly)
    # No residence recorded: placed by the registration, for the worker to complete.
    residence_unknown: bool = False


def last_visits(elder_ids, before: datetime.datetime) -> dict[int, datetime.datetime]:
    """Each elder's latest counted visit before ``before``, in one query."""
    return dict(
        Visit.objects.filter(
            elder_id__in=elder_ids, outcome__in=COUNTED_OUTCOMES, visited_at__lt=before
        )
        .values("elder_id")
        .annotate(last=Max("visited_at"))
        .values_list("elder_id", "last")
    )


def elders_to_visit(
    *, areas: Iterable[Region], on: datetime.date, elders: QuerySet[Elder] | None = None
) -> list[DueElder]:
    """Every elder living in ``areas`` who must be visited under the rules in force on ``on``,
    with their last counted visit up to the end of that day and whether one is still owed."""
    book = ScheduleBook(areas=areas, start=on, end=on, elders=elders)
    schedules = book.on(on)
    last = last_visits(book.candidates.values("id"), day_start(on + datetime.timedelta(days=1)))
    period_start = {
        VisitFrequency.DAILY: day_start(on),
        VisitFrequency.MONTHLY: day_start(on.replace(day=1)),
    }
    result = []
    for elder_id, schedule in schedules.items():
        elder = book.elders[elder_id]
        seen = last.get(elder_id)
        result.append(
            DueElder(
                elder_id=elder_id,
                id_number=elder.id_number,
                name=elder.name,
                residence_region=elder.region,
                frequency=schedule.frequency,
                groups=schedule.groups,
                citation=schedule.citation,
                last_visit=seen,
                due=seen is None or seen < period_start[schedule.frequency],
                residence_unknown=elder.residence_unknown,
            )
        )
    result.sort(key=lambda d: (d.residence_region.code, d.frequency != "daily", d.elder_id))
    return result


def worker_areas(user, on: datetime.date) -> list[Region]:
    """The areas a worker is assigned to on a date."""
    assignments = (
        VisitWorker.objects.filter(user=user, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .select_related("area")
    )
    return [a.area for a in assignments]


def todays_list(user, on: datetime.date | None = None) -> list[DueElder]:
    """A worker's list for a day: the elders of their areas who must be visited, those still
    owed a visit first."""
    on = on or datetime.datetime.now(local_tz()).date()
    areas = worker_areas(user, on)
    if not areas:
        return []
    rows = elders_to_visit(areas=areas, on=on)
    return sorted(rows, key=lambda d: (not d.due, d.frequency != "daily", d.name, d.elder_id))


def open_follow_ups(areas: Iterable[Region] | None = None) -> QuerySet[FollowUpTask]:
    tasks = FollowUpTask.objects.filter(status=FollowUpStatus.OPEN).select_related(
        "elder", "area", "visit"
    )
    if areas is not None:
        condition = Q(pk__in=[])
        for area in areas:
            condition |= Q(area__path__startswith=area.path)
        tasks = tasks.filter(condition)
    return tasks


# --- compliance -----------------------------------------------------------------------------


class GroupBy:
    STREET = "street"
    COMMUNITY = "community"
    WORKER = "worker"
    CHOICES = (STREET, COMMUNITY, WORKER)


@dataclass
class ComplianceLine:
    key: str  # region code or username; "" for elders outside any street/community/worker
    label: str
    daily_owed: int = 0  # elder-days
    daily_done: int = 0
    monthly_owed: int = 0  # elder-months
    monthly_done: int = 0

    @property
    def owed(self) -> int:
        return self.daily_owed + self.monthly_owed

    @property
    def done(self) -> int:
        return self.daily_done + self.monthly_done

    @property
    def rate(self) -> Decimal | None:
        """Done over owed; None when nothing was owed (no rate, rather than 0% or 100%)."""
        if not self.owed:
            return None
        return (Decimal(self.done) / Decimal(self.owed)).quantize(RATE_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class Overdue:
    elder_id: int
    id_number: str
    name: str
    residence_region: Region  # the residence, else the registration (residence_unknown)
    frequency: str
    missed: int  # days without a visit (daily) or months without one (monthly)
    last_visit: datetime.datetime | None
    residence_unknown: bool = False


@dataclass
class ComplianceReport:
    area: Region
    start: datetime.date
    end: datetime.date
    group_by: str
    target: Decimal
    target_citation: str
    total: ComplianceLine
    lines: list[ComplianceLine]
    overdue: list[Overdue]

    def meets_target(self, line: ComplianceLine) -> bool | None:
        return None if line.rate is None else line.rate >= self.target


def _level_code(region: Region, level: str, regions_by_code: dict[str, Region]) -> str:
    for code in [c for c in region.path.split("/") if c]:
        found = regions_by_code.get(code)
        if found is not None and found.level == level:
            return code
    return ""


def compliance(
    *, area: Region, start: datetime.date, end: datetime.date, group_by: str = GroupBy.COMMUNITY
) -> ComplianceReport:
    """Visits owed and done in [start, end] for the elders living in ``area``.

    Daily: each day an elder must be visited daily is one elder-day owed, done when a counted
    visit falls on that (local) day. Monthly: each calendar month in which an elder must be
    visited monthly on at least one day of the period is one elder-month owed, done when a
    counted visit falls in that month on or before ``end``. A day owed daily is not also
    counted towards the month. Workers are accountable for the elders of their areas on the
    days they are assigned; a visit by anyone covers the elder.

    Counted over each elder's runs of days with one schedule (``ScheduleBook.intervals``), so
    the cost grows with the elders and the changes in their facts, not with the days.
    """
    if group_by not in GroupBy.CHOICES:
        raise ValueError(f"group_by must be one of {', '.join(GroupBy.CHOICES)}")
    if end < start:
        raise ValueError("end is before start")
    book = ScheduleBook(areas=[area], start=start, end=end)
    elders = list(book.elders.values())
    runs_by_elder = _runs_by_elder(book, elders)

    # The (local) days on which each elder was seen, in order.
    seen_days: set[tuple[int, datetime.date]] = set()
    tz = local_tz()
    for elder_id, visited_at in Visit.objects.filter(
        elder_id__in=book.candidates.values("id"),
        outcome__in=COUNTED_OUTCOMES,
        visited_at__gte=day_start(start.replace(day=1)),
        visited_at__lt=day_start(end + ONE_DAY),
    ).values_list("elder_id", "visited_at"):
        seen_days.add((elder_id, visited_at.astimezone(tz).date()))
    seen: dict[int, list[datetime.date]] = defaultdict(list)
    for elder_id, day in sorted(seen_days):
        seen[elder_id].append(day)

    accountable = _Accountability(area=area, start=start, end=end, group_by=group_by)
    lines: dict[str, ComplianceLine] = {}
    total = ComplianceLine(key=area.code, label=area.name)

    def line(key: str) -> ComplianceLine:
        if key not in lines:
            lines[key] = ComplianceLine(key=key, label=accountable.labels.get(key, "（未分配）"))
        return lines[key]

    last = last_visits(book.candidates.values("id"), day_start(end + ONE_DAY))
    # (frequency, first day owed at that frequency, the elder's place in the book, row): the
    # order in which a day-by-day walk over the period meets them.
    overdue: list[tuple[bool, datetime.date, int, Overdue]] = []
    for index, (elder, runs) in enumerate(zip(elders, runs_by_elder, strict=True)):
        elder_seen = seen.get(elder.id, [])
        cuts = accountable.cuts(elder)
        daily = [(f, t) for f, t, s in runs if s.frequency == VisitFrequency.DAILY]
        monthly = [(f, t) for f, t, s in runs if s.frequency != VisitFrequency.DAILY]

        missed = 0
        for run_first, run_last in daily:
            for first, last_day in _pieces(run_first, run_last, cuts):
                owed = (last_day - first).days + 1
                done = _count_between(elder_seen, first, last_day)
                missed += owed - done
                total.daily_owed += owed
                total.daily_done += done
                for key in accountable.keys(elder, first):
                    line(key).daily_owed += owed
                    line(key).daily_done += done
        if missed:
            row = _overdue(elder, VisitFrequency.DAILY, missed, last.get(elder.id))
            overdue.append((False, daily[0][0], index, row))

        seen_months = sorted({_month_number(day) for day in elder_seen})
        cut_months = sorted({_month_number(day) for day in cuts})
        missed = 0
        for first, last_month, credited_on in _owed_months(monthly, cut_months):
            owed = last_month - first + 1
            done = _count_between(seen_months, first, last_month)
            missed += owed - done
            total.monthly_owed += owed
            total.monthly_done += done
            for key in accountable.keys(elder, credited_on):
                line(key).monthly_owed += owed
                line(key).monthly_done += done
        if missed:
            row = _overdue(elder, VisitFrequency.MONTHLY, missed, last.get(elder.id))
            overdue.append((True, monthly[0][0], index, row))
    overdue.sort(key=lambda o: (o[0], -o[3].missed, o[3].residence_region.code, o[1], o[2]))

    target = PolicyBook([rules.COVERAGE_TARGET_KEY], end, end).resolve(
        rules.COVERAGE_TARGET_KEY, area, end
    )
    return ComplianceReport(
        area=area,
        start=start,
        end=end,
        group_by=group_by,
        target=Decimal(target.require()),
        target_citation=target.citation,
        total=total,
        lines=sorted(lines.values(), key=lambda x: (x.key == "", x.key)),
        overdue=[o[3] for o in overdue],
    )


_SCHEDULE_ERRORS = (PolicyValueNotSet, ValueError)


def _runs_by_elder(
    book: ScheduleBook, elders: list[_ElderFacts]
) -> list[list[tuple[datetime.date, datetime.date, Schedule]]]:
    """Each elder's schedule runs. When the rules cannot be applied (a rulebook value not set,
    an unsupported frequency), the error raised is the one for the earliest day of the period,
    and on that day the first elder of the book: the one a day-by-day walk would meet first."""
    runs, failures = [], []
    for index, elder in enumerate(elders):
        try:
            runs.append(book.intervals(elder))
        except _SCHEDULE_ERRORS:
            for day in book.change_days(elder)[:-1]:
                try:
                    book.schedule(elder, day)
                except _SCHEDULE_ERRORS as error:
                    failures.append((day, index, error))
                    break
    if failures:
        raise min(failures, key=lambda f: f[:2])[2]
    return runs


def _count_between(ordered: list, low, high) -> int:
    """How many items of the sorted list ``ordered`` lie in [low, high]."""
    return bisect.bisect_right(ordered, high) - bisect.bisect_left(ordered, low)


def _pieces(first: datetime.date, last: datetime.date, cuts: list[datetime.date]):
    """[first, last] cut before each of the sorted days ``cuts`` that falls inside it."""
    for cut in cuts[bisect.bisect_right(cuts, first) : bisect.bisect_right(cuts, last)]:
        yield first, cut - ONE_DAY
        first = cut
    yield first, last


def _month_number(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def _month_end(number: int) -> datetime.date:
    year, month = divmod(number, 12)
    return datetime.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def _owed_months(runs: list[tuple[datetime.date, datetime.date]], cut_months: list[int]):
    """The months that the runs ``(first, last)`` (in order, not overlapping) touch, each once,
    as pieces ``(first month, last month, day)`` whose months are all credited to the lines of
    ``day``: a month goes to the lines of the last day in it that is owed, so the month end
    for a month the runs leave after its end, or the last day of a run that ends inside it.
    Pieces are cut at ``cut_months``, the months in which the lines may change."""
    spans: list[tuple[int, int, datetime.date]] = []  # months [a, b], b owed up to the date
    for first, last in runs:
        a, b = _month_number(first), _month_number(last)
        if spans and spans[-1][1] == a:
            # This run ends the month the one before it ends in: the later day credits it.
            previous_a, previous_b, _ = spans.pop()
            if previous_a < previous_b:
                spans.append((previous_a, previous_b - 1, _month_end(previous_b - 1)))
        spans.append((a, b, last))
    for a, b, last in spans:
        if a < b:
            for first_month, last_month in _month_pieces(a, b - 1, cut_months):
                yield first_month, last_month, _month_end(last_month)
        yield b, b, last


def _month_pieces(a: int, b: int, cut_months: list[int]):
    """Months [a, b] cut before each month of the sorted ``cut_months`` inside (a, b]."""
    for cut in cut_months[bisect.bisect_right(cut_months, a) : bisect.bisect_right(cut_months, b)]:
        yield a, cut - 1
        a = cut
    yield a, b


class _Accountability:
    """Which compliance line(s) an elder's owed visits count towards on a day: the street or
    community of the elder's residence, or the workers assigned that day to an area that
    contains it ("" when none is)."""

    def __init__(self, *, area: Region, start: datetime.date, end: datetime.date, group_by: str):
        self.by_worker = group_by == GroupBy.WORKER
        self._by_path: dict[str, tuple[list[VisitWorker], list[datetime.date]]] = {}
        self._level_keys: dict[str, str] = {}
        if self.by_worker:
            self.assignments = list(
                VisitWorker.objects.filter(start_date__lte=end)
                .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
                .filter(
                    Q(area__path__startswith=area.path) | Q(area__path__in=_ancestor_paths(area))
                )
                .select_related("user", "area")
            )
            self.labels = {
                a.user.username: a.user.get_full_name() or a.user.username for a in self.assignments
            }
        else:
            self.level = RegionLevel.STREET if group_by == GroupBy.STREET else RegionLevel.COMMUNITY
            self.regions_by_code = {
                r.code: r
                for r in Region.objects.filter(path__startswith=area.path, level=self.level)
            }
            self.labels = {code: r.name for code, r in self.regions_by_code.items()}

    def _assigned(self, elder: _ElderFacts) -> tuple[list[VisitWorker], list[datetime.date]]:
        path = elder.region.path
        if path not in self._by_path:
            covering = [a for a in self.assignments if path.startswith(a.area.path)]
            changes = {a.start_date for a in covering} | {
                a.end_date + ONE_DAY
                for a in covering
                if a.end_date is not None and a.end_date < datetime.date.max
            }
            self._by_path[path] = (covering, sorted(changes))
        return self._by_path[path]

    def cuts(self, elder: _ElderFacts) -> list[datetime.date]:
        """The days, in order, on which ``keys`` may answer differently than the day before."""
        return self._assigned(elder)[1] if self.by_worker else []

    def place_key(self, region: Region) -> str:
        """The street or community line of the elders placed in ``region``."""
        path = region.path
        if path not in self._level_keys:
            self._level_keys[path] = _level_code(region, self.level, self.regions_by_code)
        return self._level_keys[path]

    def keys(self, elder: _ElderFacts, day: datetime.date) -> set[str]:
        if not self.by_worker:
            return {self.place_key(elder.region)}
        return {
            a.user.username
            for a in self._assigned(elder)[0]
            if a.start_date <= day and (a.end_date is None or day <= a.end_date)
        } or {""}


def _ancestor_paths(region: Region) -> list[str]:
    codes = [c for c in region.path.split("/") if c]
    return ["".join(f"{c}/" for c in codes[: i + 1]) for i in range(len(codes))]


def _overdue(elder: _ElderFacts, frequency: str, missed: int, last) -> Overdue:
    return Overdue(
        elder_id=elder.id,
        id_number=elder.id_number,
        name=elder.name,
        residence_region=elder.region,
        frequency=frequency,
        missed=missed,
        last_visit=last,
        residence_unknown=elder.residence_unknown,
    )


# --- free health checks (西政办〔2023〕46号 §12: 每年为特殊困难老年人进行一次免费体检) -----


@dataclass(frozen=True)
class HealthCheckDue:
    elder_id: int
    id_number: str
    name: str
    residence_region: Region
    last_check: datetime.date | None
    done: bool
    residence_unknown: bool = False


def health_checks_due(*, area: Region, on: datetime.date) -> list[HealthCheckDue]:
    """Elders in special difficulty living in ``area`` who are owed a free health check in the
    year of ``on`` where the rulebook sets one (yearly), and whether they have had it."""
    book = ScheduleBook(areas=[area], start=on, end=on)
    policies = PolicyBook([rules.HEALTH_CHECK_KEY], on, on)
    owed = []
    for elder_id, _schedule in book.on(on).items():
        elder = book.elders[elder_id]
        resolved = policies.resolve(rules.HEALTH_CHECK_KEY, elder.region, on)
        if resolved.is_set and resolved.frequency == Frequency.YEARLY:
            owed.append(elder)
    last_checks = dict(
        HealthCheck.objects.filter(elder_id__in=book.candidates.values("id"), checked_on__lte=on)
        .values("elder_id")
        .annotate(last=Max("checked_on"))
        .values_list("elder_id", "last")
    )
    year_start = on.replace(month=1, day=1)
    rows = [
        HealthCheckDue(
            elder_id=e.id,
            id_number=e.id_number,
            name=e.name,
            residence_region=e.region,
            last_check=last_checks.get(e.id),
            done=last_checks.get(e.id) is not None and last_checks[e.id] >= year_start,
            residence_unknown=e.residence_unknown,
        )
        for e in owed
    ]
    rows.sort(key=lambda r: (r.done, r.residence_region.code, r.elder_id))
    return rows
