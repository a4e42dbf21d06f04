"""The dashboard reads the months of visit compliance together (one schedule book, one read of
the visits); each month's figures are still exactly those of visits.selectors.compliance for
that month alone — the slow reading, month by month — whatever changes inside the period."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import selectors
from dashboards.selectors import Period
from regions.models import PolicyValue, Region
from residents.models import Elder
from residents.services import record_legacy_assessment, set_category
from tests.dashboards.conftest import BEISHAN, BEISHAN_COMMUNITY, CUIYUAN, CUIYUAN_COMMUNITY
from tests.dashboards.test_sections import elder, not_set
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from visits import services as visits
from visits.selectors import compliance

D = datetime.date
XIHU = "330106"
# Xihu's own visit lists (a daily one for the childless living alone) come into force on
# 2024-01-30, inside the period; the running month is read up to today.
PERIOD = Period.of_months(D(2023, 12, 1), D(2024, 5, 1), today=D(2024, 4, 10))


@pytest.fixture
def seen(rulebook):
    worker = FieldWorkerFactory(username="months-visitor")
    for street in (CUIYUAN, BEISHAN):
        VisitWorkerFactory(
            user=worker, area=Region.objects.get(code=street), start_date=D(2023, 1, 1)
        )

    def log(who, *days, outcome="seen_well"):
        for day in days:
            visits.record_visit(
                uuid=uuid.uuid4(),
                elder=who,
                worker=worker,
                visited_at=datetime.datetime.fromisoformat(f"{day}T10:00:00+08:00"),
                mode="home",
                outcome=outcome,
            )

    return log


@pytest.fixture
def district(seen):
    """Elders whose schedules change inside the period in every way the rules allow."""
    daily = elder(lives=CUIYUAN_COMMUNITY)
    set_category(elder=daily, category="childless_alone", start_date=D(2020, 1, 1))
    seen(daily, "2024-01-29", "2024-01-30", "2024-02-01", "2024-02-01", "2024-03-31")
    seen(daily, "2024-04-02", outcome="not_at_home")

    monthly_from_february = elder(lives=BEISHAN_COMMUNITY)
    set_category(elder=monthly_from_february, category="empty_nest", start_date=D(2024, 2, 15))
    seen(monthly_from_february, "2024-02-10", "2024-03-03")

    ended = elder(lives="330106004002")
    set_category(
        elder=ended, category="living_alone", start_date=D(2019, 1, 1), end_date=D(2024, 3, 10)
    )
    seen(ended, "2023-12-24", "2024-03-20")

    monthly_then_daily = elder(lives=CUIYUAN_COMMUNITY)
    set_category(
        elder=monthly_then_daily,
        category="empty_nest",
        start_date=D(2021, 1, 1),
        end_date=D(2024, 2, 29),
    )
    set_category(elder=monthly_then_daily, category="childless_alone", start_date=D(2024, 3, 1))
    seen(monthly_then_daily, "2024-02-29", "2024-03-01", "2024-03-02", "2024-04-10")

    disabled = elder(lives=BEISHAN_COMMUNITY)
    record_legacy_assessment(
        elder=disabled, assessed_on=D(2024, 1, 15), assessor="评估员", level="moderate"
    )
    seen(disabled, "2024-01-16", "2024-04-09")

    dies = elder(lives=CUIYUAN_COMMUNITY)
    set_category(elder=dies, category="childless_alone", start_date=D(2020, 1, 1))
    Elder.objects.filter(pk=dies.pk).update(death_date=D(2024, 3, 20))
    seen(dies, "2024-03-19")

    unplaced = elder()  # registered in Xihu, residence never recorded
    set_category(elder=unplaced, category="empty_nest", start_date=D(2020, 1, 1))

    outside = elder(lives="330203", registered="330203")  # Ningbo: not in the area
    set_category(elder=outside, category="empty_nest", start_date=D(2020, 1, 1))


def _figures(table):
    """Every cell of the table: (key, month) → (daily owed, done; monthly owed, done)."""
    out = {}
    for row in [*table.rows, table.total]:
        for month, cell in zip(table.months, row.cells, strict=True):
            out[(row.key, month.month)] = None if cell is None else (cell.done, cell.owed)
    return out


def _slow(area, period):
    """The table as read month by month with visits.selectors.compliance."""
    original = selectors._months_at_once
    selectors._months_at_once = lambda *args, **kwargs: None
    try:
        return selectors.compliance_by_month(area, period)
    finally:
        selectors._months_at_once = original


@pytest.mark.parametrize("code", [XIHU, CUIYUAN], ids=["by street", "by community"])
def test_the_months_read_together_are_the_months_read_alone(district, code):
    area = Region.objects.get(code=code)
    table = selectors.compliance_by_month(area, PERIOD)
    slow = _slow(area, PERIOD)
    assert _figures(table) == _figures(slow)
    assert [(m.month, m.start, m.end, m.note) for m in table.months] == [
        (m.month, m.start, m.end, m.note) for m in slow.months
    ]
    assert [m.report.target for m in table.months if m.report] == [
        m.report.target for m in slow.months if m.report
    ]
    # And each month is visits.selectors.compliance for it, line by line.
    for i, month in enumerate(table.months):
        if month.report is None:
            continue
        report = compliance(area=area, start=month.start, end=month.end, group_by=table.group_by)
        assert [
            (r.key, r.cells[i].owed, r.cells[i].done) for r in table.rows if r.cells[i] is not None
        ] == [(x.key, x.owed, x.done) for x in report.lines]
        assert (table.total.cells[i].owed, table.total.cells[i].done) == (
            report.total.owed,
            report.total.done,
        )
    # The scenario reaches every case: daily and monthly lines, visits done and missed.
    cells = [c for row in table.rows for c in row.cells if c is not None]
    assert any(c.done for c in cells) and any(c.done < c.owed for c in cells)
    assert table.months[-2].report.end == D(2024, 4, 10)  # the running month, to today


def test_the_query_count_does_not_grow_with_the_months(district):
    area = Region.objects.get(code=XIHU)
    counts = []
    for months in (1, 3, 6):
        period = Period.of_months(
            selectors.add_months(D(2024, 4, 1), -(months - 1)), D(2024, 4, 1), D(2024, 4, 30)
        )
        with CaptureQueriesContext(connection) as queries:
            selectors.compliance_by_month(area, period)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1] == counts[2]


def test_a_target_not_set_in_some_months_notes_only_those(district):
    """Months whose coverage target the rulebook leaves "not set" carry the note; the others
    keep their figures, as when each month is read alone."""
    # A "not set" row never hides a value in force above it: from March nothing above is set.
    PolicyValue.objects.filter(key="visit_coverage_target").update(effective_to=D(2024, 2, 29))
    not_set(CUIYUAN, "visit_coverage_target", D(2024, 3, 1))
    area = Region.objects.get(code=CUIYUAN)
    table = selectors.compliance_by_month(area, PERIOD)
    notes = [m.note.split("：")[0] for m in table.months]
    assert notes == ["", "", "", "所需规则未设定", "所需规则未设定", "尚未开始"]
    assert _figures(table) == _figures(_slow(area, PERIOD))
