"""Compliance counted over runs of days equals compliance counted day by day.

``compliance`` works out each elder's schedule once per run of days on which none of its facts
changes. The reference here is the plain reading of the policy: every day of the period, every
elder, ``ScheduleBook.schedule`` for that day; it is kept only in this module. Random elders
(seeded, so a failure can be replayed), with categories, assessments, deaths, birthdays at the
age thresholds, residences under different jurisdictions, visits around local midnight and
workers assigned for part of the time, over random periods.
"""

import datetime
import random
import uuid
from collections import defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from regions.models import PolicyValue, Region
from regions.selectors import PolicyValueNotSet
from residents import services as residents
from residents.choices import AbilityLevel
from residents.id_numbers import with_check_character
from tests.factories import ElderFactory, FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import (
    ANJI,
    JINHUA_DISTRICT,
    NINGBO_DISTRICT,
    XIHU_COMMUNITY,
    XIHU_OTHER_COMMUNITY,
    XIHU_OTHER_STREET_COMMUNITY,
)
from visits.models import Visit, VisitWorker
from visits.selectors import (
    COUNTED_OUTCOMES,
    ComplianceLine,
    Overdue,
    ScheduleBook,
    compliance,
    day_start,
    local_tz,
    month_bounds,
)

pytestmark = pytest.mark.django_db

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
XIHU, CUIYUAN, BEISHAN = "330106", "330106004", "330106001"
RESIDENCES = [
    XIHU_COMMUNITY,
    XIHU_COMMUNITY,
    XIHU_OTHER_COMMUNITY,
    XIHU_OTHER_STREET_COMMUNITY,
    CUIYUAN,  # a street, no community recorded
    ANJI,  # names high age (80, from 24 August 2023)
    JINHUA_DISTRICT,
    NINGBO_DISTRICT,
]
LEVELS = [AbilityLevel.INTACT, AbilityLevel.MILD, AbilityLevel.MODERATE, AbilityLevel.SEVERE]
# Every category a shipped visit list names (regions/data/eligibility.toml).
CATEGORIES = [
    "childless_alone",
    "living_alone",
    "empty_nest",
    "left_behind",
    "severely_disabled",
    "cognitive_impairment",
    "family_planning_special",
    "lost_only_child",
    "destitute",
    "minimum_living",
    "near_minimum_living",
]
MONTHLY_KEY = "visit_frequency_special_difficulty"
WINDOW = (D(2023, 6, 1), D(2025, 12, 31))


def days(start, end):
    return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


# --- the reference: day by day --------------------------------------------------------------


def owed_day_by_day(area, start, end):
    """The schedule book and the days each elder is owed a visit, read one day at a time."""
    book = ScheduleBook(areas=[area], start=start, end=end)
    daily = defaultdict(list)  # elder id: days owed daily
    monthly = defaultdict(dict)  # elder id: {(year, month): last day owed monthly}
    for day in days(start, end):
        for elder_id, schedule in book.on(day).items():
            if schedule.frequency == "daily":
                daily[elder_id].append(day)
            else:
                monthly[elder_id][(day.year, day.month)] = day
    return book, daily, monthly


def day_by_day(area, start, end, group_by, owed=None):
    """(total, lines, overdue) as the docstring of ``compliance`` reads, one day at a time.
    ``owed`` is ``owed_day_by_day``'s reading of the same area and period, when the caller
    compares several groupings of it (the days owed do not depend on the grouping)."""
    book, daily, monthly = owed or owed_day_by_day(area, start, end)
    counted = Visit.objects.filter(
        outcome__in=COUNTED_OUTCOMES, visited_at__lt=day_start(end + ONE_DAY)
    )
    seen = {(v.elder_id, v.visited_at.astimezone(local_tz()).date()) for v in counted}
    seen_months = {(elder_id, (day.year, day.month)) for elder_id, day in seen}
    last = {}
    for v in counted:
        last[v.elder_id] = max(last.get(v.elder_id, v.visited_at), v.visited_at)
    assignments = list(VisitWorker.objects.select_related("user", "area"))
    regions = {r.code: r for r in Region.objects.filter(path__startswith=area.path)}

    def keys(elder, day):
        if group_by == "worker":
            return {
                a.user.username
                for a in assignments
                if elder.region.path.startswith(a.area.path)
                and a.start_date <= day
                and (a.end_date is None or day <= a.end_date)
            } or {""}
        codes = [c for c in elder.region.path.split("/") if c]
        return {next((c for c in codes if c in regions and regions[c].level == group_by), "")}

    labels = {r.code: r.name for r in Region.objects.all()}
    labels.update({a.user.username: a.user.username for a in assignments})
    total, lines, overdue = ComplianceLine(area.code, area.name), {}, []

    def count(key, frequency, done):
        for line in [total] if key is None else [lines.setdefault(key, _line(key, labels))]:
            setattr(line, f"{frequency}_owed", getattr(line, f"{frequency}_owed") + 1)
            setattr(line, f"{frequency}_done", getattr(line, f"{frequency}_done") + done)

    for elder_id, owed in daily.items():
        elder = book.elders[elder_id]
        for day in owed:
            count(None, "daily", (elder_id, day) in seen)
            for key in keys(elder, day):
                count(key, "daily", (elder_id, day) in seen)
        missed = sum((elder_id, day) not in seen for day in owed)
        if missed:
            overdue.append(_overdue(elder, "daily", missed, last.get(elder_id)))
    for elder_id, months in monthly.items():
        elder = book.elders[elder_id]
        done = {month: (elder_id, month) in seen_months for month in months}
        for month, last_day in sorted(months.items()):
            count(None, "monthly", done[month])
            for key in keys(elder, last_day):
                count(key, "monthly", done[month])
        missed = sum(not d for d in done.values())
        if missed:
            overdue.append(_overdue(elder, "monthly", missed, last.get(elder_id)))
    overdue.sort(key=lambda o: (o.frequency != "daily", -o.missed, o.residence_region.code))
    return total, sorted(lines.values(), key=lambda x: (x.key == "", x.key)), overdue


def _line(key, labels):
    return ComplianceLine(key=key, label=labels.get(key, "（未分配）") if key else "（未分配）")


def _overdue(elder, frequency, missed, last_visit):
    return Overdue(
        elder.id, elder.id_number, elder.name, elder.region, frequency, missed, last_visit
    )


# --- random districts -----------------------------------------------------------------------


def random_date(rng, first=WINDOW[0], last=WINDOW[1]):
    return first + datetime.timedelta(days=rng.randrange((last - first).days + 1))


def birth_date(rng):
    """Mostly elders who reach 60 or 80 inside the window, some born on 29 February."""
    kind = rng.random()
    if kind < 0.1:
        return D(rng.choice([1944, 1948, 1960, 1964]), 2, 29)
    if kind < 0.7:
        birthday = random_date(rng)
        return birthday.replace(year=birthday.year - (60 if kind < 0.4 else 80))
    return random_date(rng, D(1935, 1, 1), D(1963, 12, 31))


def make_district(seed, elders=40):
    rng = random.Random(seed)
    regions = {code: Region.objects.get(code=code) for code in set(RESIDENCES) | {XIHU}}
    made = []
    for n in range(elders):
        born = birth_date(rng)
        elder = ElderFactory(
            id_number=with_check_character(f"330106{born:%Y%m%d}{(seed * 100 + n) % 1000:03d}"),
            residence_region=regions[rng.choice(RESIDENCES)],
            hukou_region=regions[XIHU],
        )
        for category in rng.sample(CATEGORIES, rng.choice([0, 1, 1, 2, 3])):
            first = random_date(rng, D(2022, 6, 1))
            last = None if rng.random() < 0.5 else first + datetime.timedelta(rng.randrange(400))
            residents.set_category(elder=elder, category=category, start_date=first, end_date=last)
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            residents.record_legacy_assessment(
                elder=elder,
                assessed_on=random_date(rng, D(2022, 6, 1)),
                assessor="评估员",
                level=rng.choice(LEVELS),
            )
        if rng.random() < 0.15:
            residents.record_death(elder=elder, death_date=random_date(rng, D(2023, 9, 1)))
        made.append(elder)

    areas = [
        Region.objects.get(code=code)
        for code in (CUIYUAN, BEISHAN, XIHU_COMMUNITY, XIHU_OTHER_COMMUNITY)
    ]
    workers = [FieldWorkerFactory(username=f"worker-{seed}-{n}") for n in range(3)]
    for worker in workers:
        for area in rng.sample(areas, rng.choice([1, 2])):
            first = random_date(rng, D(2023, 1, 1))
            last = None if rng.random() < 0.5 else first + datetime.timedelta(rng.randrange(300))
            VisitWorkerFactory(user=worker, area=area, start_date=first, end_date=last)

    tz = local_tz()
    visits = []
    for elder in made:
        for _ in range(rng.randrange(60)):
            day = random_date(rng)
            # Around local midnight half of the time: the day is the local one.
            minutes = rng.choice([0, 5, 23 * 60 + 55, rng.randrange(24 * 60)])
            at = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
            visits.append(
                Visit(
                    uuid=uuid.UUID(int=rng.getrandbits(128)),
                    elder=elder,
                    worker=rng.choice(workers),
                    visited_at=at + datetime.timedelta(minutes=minutes),
                    mode="home",
                    outcome=rng.choice(
                        ["seen_well", "seen_well", "not_at_home", "needs_follow_up"]
                    ),
                )
            )
    Visit.objects.bulk_create(visits)
    return rng, made


def random_periods(rng, count):
    periods = [
        (D(2024, 1, 1), D(2024, 3, 31)),  # Xihu's rule begins on 30 January; a leap February
        month_bounds(D(2024, 2, 1)),
        (D(2023, 8, 20), D(2024, 9, 3)),  # Anji's high age begins on 24 August
    ]
    for _ in range(count):
        start = random_date(rng)
        periods.append((start, min(start + datetime.timedelta(rng.randrange(1, 400)), WINDOW[1])))
    return periods


@pytest.mark.parametrize("seed", [2024, 31])
def test_runs_of_days_give_the_schedule_of_every_day(policies, seed):
    _rng, elders = make_district(seed)
    start, end = D(2023, 1, 1), D(2025, 12, 31)
    book = ScheduleBook(areas=[Region.objects.get(code="330000")], start=start, end=end)
    assert book.elders, "the district has candidates"
    for elder in book.elders.values():
        by_runs = {
            day: schedule
            for first, last, schedule in book.intervals(elder)
            for day in days(first, last)
        }
        by_day = {day: book.schedule(elder, day) for day in days(start, end)}
        assert by_runs == {day: s for day, s in by_day.items() if s is not None}, elder.id_number
        runs = book.intervals(elder)
        # Maximal: two runs that touch have different schedules.
        assert all(
            a[1] + ONE_DAY < b[0] or a[2] != b[2] for a, b in zip(runs, runs[1:], strict=False)
        )


@pytest.mark.parametrize("seed", [2024, 7])
def test_compliance_equals_the_day_by_day_count(policies, seed):
    rng, _elders = make_district(seed)
    areas = [Region.objects.get(code=code) for code in ("330000", XIHU, CUIYUAN)]
    compared = 0
    for start, end in random_periods(rng, 5):
        for area in areas:
            owed = owed_day_by_day(area, start, end)
            for group_by in ("street", "community", "worker"):
                report = compliance(area=area, start=start, end=end, group_by=group_by)
                expected = day_by_day(area, start, end, group_by, owed)
                context = (area.code, start, end, group_by)
                assert report.total == expected[0], context
                assert report.lines == expected[1], context
                assert report.overdue == expected[2], context
                compared += report.total.owed
    assert compared > 1000, "the periods owe enough visits to compare"


def test_a_missing_rulebook_value_raises_the_error_the_first_day_meets(policies):
    """Two streets whose own monthly frequency is 'not set' from different days: the error is
    the earliest day's, and on one day the first elder's, as a day-by-day walk meets them."""
    cuiyuan = ElderFactory(residence_region=Region.objects.get(code=XIHU_COMMUNITY))
    beishan = ElderFactory(residence_region=Region.objects.get(code=XIHU_OTHER_STREET_COMMUNITY))
    for elder in (cuiyuan, beishan):
        residents.set_category(elder=elder, category="empty_nest", start_date=D(2020, 1, 1))
    template = PolicyValue.objects.filter(key=MONTHLY_KEY, region__code=XIHU).first()
    # A "not set" row never hides a value in force above it: in June the streets' own rows
    # stand alone, set until the day their "not set" row begins.
    PolicyValue.objects.filter(key=MONTHLY_KEY, region__code__in=["330000", XIHU]).update(
        effective_to=D(2024, 5, 31)
    )
    for code, first in ((CUIYUAN, D(2024, 6, 20)), (BEISHAN, D(2024, 6, 10))):
        PolicyValue.objects.create(
            region=Region.objects.get(code=code),
            key=MONTHLY_KEY,
            frequency=template.frequency,
            unit=template.unit,
            effective_from=D(2024, 6, 1),
            effective_to=first - datetime.timedelta(days=1),
            citation="测试：街道自定",
        )
        PolicyValue.objects.create(
            region=Region.objects.get(code=code),
            key=MONTHLY_KEY,
            value=None,
            frequency="",
            unit=template.unit,
            effective_from=first,
            citation="测试：未设定",
        )
    xihu = Region.objects.get(code=XIHU)
    for start in (D(2024, 6, 1), D(2024, 6, 25)):
        with pytest.raises(PolicyValueNotSet) as expected:
            day_by_day(xihu, start, D(2024, 6, 30), "street")
        with pytest.raises(PolicyValueNotSet) as raised:
            compliance(area=xihu, start=start, end=D(2024, 6, 30), group_by="street")
        assert str(raised.value) == str(expected.value)
        if start.day == 1:  # Beishan's value is missing first
            assert raised.value.on == D(2024, 6, 10)
            assert raised.value.region == beishan.residence_region
        else:  # both from the first day: the first elder of the book
            assert raised.value.on == start
            assert raised.value.region == cuiyuan.residence_region


# --- a handful of queries, whatever the size --------------------------------------------------


@pytest.mark.parametrize("group_by", ["street", "community", "worker"])
def test_compliance_queries_do_not_grow_with_elders_or_days(policies, group_by):
    xihu = Region.objects.get(code=XIHU)

    def queries(start, end):
        with CaptureQueriesContext(connection) as captured:
            compliance(area=xihu, start=start, end=end, group_by=group_by)
        return len(captured)

    make_district(1, elders=5)
    small = {
        (s, e): queries(s, e)
        for s, e in [month_bounds(D(2024, 6, 1)), (D(2024, 1, 1), D(2024, 12, 31))]
    }
    make_district(2, elders=20)
    large = {period: queries(*period) for period in small}
    assert set(small.values()) == set(large.values()) and len(set(large.values())) == 1
    assert large[(D(2024, 1, 1), D(2024, 12, 31))] <= 10
