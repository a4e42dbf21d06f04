"""The dashboard reads the months of visit compliance together (one schedule book, one read of
the visits); each month's figures are still exactly those of visits.selectors.compliance for
that month alone — the slow reading, month by month — whatever changes inside the period."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import selectors
from dashboards.selectors import Period
from regions.models import PolicyValue, Region
from tests.dashboards.conftest import CUIYUAN
from tests.dashboards.test_sections import not_set
from visits.selectors import compliance

D = datetime.date
XIHU = "330106"
# Xihu's own visit lists (a daily one for the childless living alone) come into force on
# 2024-01-30, inside the period; the running month is read up to today.
PERIOD = Period.of_months(D(2023, 12, 1), D(2024, 5, 1), today=D(2024, 4, 10))


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
