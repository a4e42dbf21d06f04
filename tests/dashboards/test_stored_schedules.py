"""The dashboard's months of visit compliance read from the stored schedules
(visits/schedule_store.py) are the months worked out afresh — after the job has stored them,
after visits are logged, after every kind of edit a schedule reads (by the services and by
plain ``update()``), after a rule changes, and after the job has run again."""

import datetime

import pytest

from dashboards import selectors
from facilities import services as facilities
from regions.conditions import Facts
from regions.models import PolicyValue, Region
from residents.models import Elder, ElderCategory
from residents.services import record_legacy_assessment, set_category
from tests.dashboards.conftest import BEISHAN_COMMUNITY, CUIYUAN, CUIYUAN_COMMUNITY
from tests.dashboards.test_compliance_months import PERIOD, XIHU, _figures
from tests.dashboards.test_sections import elder
from tests.factories import BedFactory
from visits import schedule_store
from visits.models import (
    ScheduleChange,
    ScheduleMonth,
    ScheduleRun,
    ScheduleTally,
    ScheduleTotal,
)

D = datetime.date
TODAY = PERIOD.today
FIELDS = ("daily_owed", "daily_done", "monthly_owed", "monthly_done")


def keep(**kwargs):
    return schedule_store.keep_schedules(
        regions=[Region.objects.get(code=XIHU)], today=TODAY, **kwargs
    )


def read(code=XIHU):
    return selectors.compliance_by_month(Region.objects.get(code=code), PERIOD)


def afresh(code=XIHU):
    """The table worked out from the registry, the stored schedules left aside."""
    original = schedule_store.stored_figures
    schedule_store.stored_figures = lambda *args, **kwargs: None
    try:
        return read(code)
    finally:
        schedule_store.stored_figures = original


def stored(code=XIHU) -> bool:
    area = Region.objects.get(code=code)
    return schedule_store.is_stored(area, [m.start for m in read(code).months if m.start])


def assert_stored_reading_is_fresh(code=XIHU):
    table, fresh = read(code), afresh(code)
    assert _figures(table) == _figures(fresh)
    assert [m.note for m in table.months] == [m.note for m in fresh.months]
    assert_totals_are_the_tallies()


def assert_totals_are_the_tallies():
    sums = {}
    for tally in ScheduleTally.objects.all():
        total = sums.setdefault((tally.place_id, tally.month), [0, 0, 0, 0])
        for i, field in enumerate(FIELDS):
            total[i] += getattr(tally, field)
    totals = {
        (t.place_id, t.month): [getattr(t, field) for field in FIELDS]
        for t in ScheduleTotal.objects.all()
    }
    assert {k: v for k, v in totals.items() if any(v)} == sums


@pytest.mark.parametrize("code", [XIHU, CUIYUAN], ids=["by street", "by community"])
def test_the_stored_months_are_the_months_worked_out(district, code):
    keep()
    assert stored(code)
    assert ScheduleRun.objects.exists()
    assert not ScheduleChange.objects.exists()
    assert_stored_reading_is_fresh(code)
    # Something is counted in every way: owed and done, daily and monthly.
    cells = [c for row in read(code).rows for c in row.cells if c is not None]
    assert any(c.done for c in cells) and any(c.done < c.owed for c in cells)


def test_a_visit_counts_at_once_with_nothing_stored_again(district, seen):
    keep()
    assert ScheduleTally.objects.exists()  # the months before April are over: tallied
    newcomer = Elder.objects.filter(categories__category="childless_alone").first()
    before = _figures(read())
    seen(newcomer, "2024-04-08")
    assert not ScheduleChange.objects.exists()  # a visit this month changes nothing stored
    assert _figures(read()) != before
    assert_stored_reading_is_fresh()


def test_a_visit_logged_late_in_a_month_already_tallied_is_read_at_once(district, seen):
    keep()
    late = Elder.objects.filter(categories__category="childless_alone").first()
    before = _figures(read())
    seen(late, "2024-02-20", "2024-03-29")
    assert ScheduleChange.objects.filter(elder_id=late.pk).exists()
    assert _figures(read()) != before
    assert_stored_reading_is_fresh()
    keep()
    assert not ScheduleChange.objects.exists()
    assert_stored_reading_is_fresh()


@pytest.fixture
def edits(district):
    """One edit of each kind a schedule reads, by the services and by plain update()."""

    def make():
        alone = elder(lives=CUIYUAN_COMMUNITY)  # a new elder
        set_category(elder=alone, category="living_alone", start_date=D(2024, 2, 20))
        empty = Elder.objects.filter(categories__category="empty_nest").first()
        ElderCategory.objects.filter(elder=empty, category="empty_nest").update(
            end_date=D(2024, 3, 31)
        )
        mover = Elder.objects.filter(categories__category="childless_alone").first()
        Elder.objects.filter(pk=mover.pk).update(
            residence_region=Region.objects.get(code=BEISHAN_COMMUNITY)
        )
        later = elder(lives=BEISHAN_COMMUNITY)
        set_category(elder=later, category="empty_nest", start_date=D(2020, 1, 1))
        Elder.objects.filter(pk=later.pk).update(death_date=D(2024, 2, 10))
        record_legacy_assessment(
            elder=later, assessed_on=D(2024, 1, 5), assessor="评估员", level="severe"
        )
        return [alone, empty, mover, later]

    return make


def test_every_edit_is_read_at_once_and_stored_again_by_the_job(edits):
    keep()
    changed = edits()
    recorded = set(ScheduleChange.objects.values_list("elder_id", flat=True))
    assert {e.pk for e in changed} <= recorded
    assert stored()  # still stored: the changed elders are worked out as they are read
    assert_stored_reading_is_fresh()
    assert_stored_reading_is_fresh(CUIYUAN)
    summary = keep()
    assert summary["changes"] >= len(changed)
    assert not ScheduleChange.objects.exists()
    assert stored()
    assert_stored_reading_is_fresh()
    assert_stored_reading_is_fresh(CUIYUAN)


def test_a_stay_in_an_institution_and_its_bed_are_watched(district):
    keep()
    resident = Elder.objects.filter(categories__category="childless_alone").first()
    bed = BedFactory(bed_type="nursing")
    facilities.admit_to_bed(elder=resident, bed=bed, start_date=D(2024, 3, 1))
    assert ScheduleChange.objects.filter(elder_id=resident.pk).exists()
    keep()
    type(bed).objects.filter(pk=bed.pk).update(bed_type="general")
    assert ScheduleChange.objects.filter(elder_id=resident.pk).exists()
    assert_stored_reading_is_fresh()


def test_a_rule_change_sets_the_stored_months_aside_until_stored_again(district):
    keep()
    version = schedule_store.rules_version()
    value = PolicyValue.objects.filter(key="visit_frequency_special_difficulty").first()
    PolicyValue.objects.filter(pk=value.pk).update(citation=value.citation + " ")
    assert schedule_store.rules_version() > version
    assert not stored()  # read as worked out, not from months stored under other rules
    assert_stored_reading_is_fresh()
    keep()
    assert stored()
    assert_stored_reading_is_fresh()


def test_the_job_is_idempotent_and_a_killed_run_leaves_nothing_half_written(district, monkeypatch):
    def killed(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(ScheduleMonth.objects, "update_or_create", killed)
    with pytest.raises(SystemExit):
        keep()
    monkeypatch.undo()
    assert not ScheduleRun.objects.exists() and not ScheduleMonth.objects.exists()
    keep()
    rows = sorted(ScheduleRun.objects.values_list("elder_id", "month", "first_day", "daily"))
    months = ScheduleMonth.objects.count()
    assert keep()["stored"] == 0
    assert (
        sorted(ScheduleRun.objects.values_list("elder_id", "month", "first_day", "daily")) == rows
    )
    assert ScheduleMonth.objects.count() == months


def test_months_whose_rules_are_not_set_are_worked_out_with_their_note(district):
    PolicyValue.objects.filter(key="visit_coverage_target").delete()
    keep()
    assert_stored_reading_is_fresh()


def test_the_elder_columns_watched_are_those_the_schedule_reads():
    # Every fact of an elder a condition reads (regions.conditions.Facts) comes from a watched
    # column or row: a new fact needs its column watched, or stored schedules go stale.
    # From watched rows: categories, assessments, stays (and their beds' type).
    from_rows = {"on", "categories", "ability_level", "in_institution", "placed_by_county"}
    from_columns = {
        "birth_date": "birth_date",
        "pension_type": "pension_type",
        "disability_category": "disability_category",
        "disability_grade": "disability_grade",
        "hukou_path": "hukou_region_id",
        "residence_path": "residence_region_id",
    }
    facts = set(Facts.__dataclass_fields__)
    assert facts == from_rows | set(from_columns)
    assert set(from_columns.values()) <= set(schedule_store.WATCHED_ELDER_COLUMNS)


def test_an_elder_created_after_the_job_is_read(district, seen):
    keep()
    alone = elder(lives=CUIYUAN_COMMUNITY)
    set_category(elder=alone, category="childless_alone", start_date=D(2023, 6, 1))
    seen(alone, "2024-04-02", "2024-03-05")
    before = _figures(afresh())
    assert_stored_reading_is_fresh()
    keep()
    assert _figures(read()) == before


def test_the_stored_reading_does_not_grow_with_the_elders(district):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    keep()

    def queries():
        with CaptureQueriesContext(connection) as captured:
            read()
        return len(captured.captured_queries)

    before = queries()
    for _ in range(3):
        more = elder(lives=CUIYUAN_COMMUNITY)
        set_category(elder=more, category="living_alone", start_date=D(2022, 1, 1))
    keep()
    assert queries() == before


def test_the_job_is_scheduled_for_beat_every_five_minutes_once(db):
    # As the other beat jobs: a PeriodicTask for django-celery-beat's DatabaseScheduler,
    # created by the migration (a flush by an earlier transactional test may have removed the
    # one it made), naming a task Celery registers.
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from config.celery_app import app
    from visits import tasks

    migration = importlib.import_module("visits.migrations.0002_stored_visit_schedules")
    PeriodicTask.objects.filter(name=migration.KEEP_NAME).delete()
    migration.schedule_keeping(apps, None)
    migration.schedule_keeping(apps, None)  # migrating again creates nothing
    entry = PeriodicTask.objects.get(task="visits.keep_visit_schedules")
    assert entry.name == migration.KEEP_NAME and entry.enabled
    assert (entry.interval.every, entry.interval.period) == (5, "minutes")
    assert entry.task == tasks.keep_visit_schedules.name
    app.loader.import_default_modules()
    assert entry.task in app.tasks
