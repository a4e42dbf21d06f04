#!/usr/bin/env python
"""The dashboard of a district over twelve months, against floors the project did not write.

    python bench/dashboard.py --database-url postgres://…/eldercare_bench_1m --repeat 5

On a database filled by ``bench/generate.py`` (the figures in bench/RESULTS.md: 1,000,000
elders), for one county (default Xihu, 330106) and the twelve months ending with this one:

1. the job that stores the visit schedules (``keep_visit_schedules --region``), once, when the
   county's months are not stored yet; then ``VACUUM ANALYZE`` of the tables it fills, as
   autovacuum keeps tables in service (statistics, visibility map);
2. the floor: two bare SELECTs written here, not by the project, over what the stored reading
   reads — the stored totals of the months that are over, summed by month, and the running
   month's stored runs joined to its counted visits' distinct (elder, day) pairs;
3. visit compliance by month as the page reads it (``compliance_by_month`` in ``reading()``):
   from the stored schedules, and once worked out afresh (the stored ones left aside), whose
   figures must be the same (the script fails otherwise, never on a time);
4. the whole page, ``GET /dashboard/`` as a bureau officer of the county (every section), the
   page without its coverage section (the service list's, read per item), and each section
   alone.

With ``--payments``, twelve monthly batches of the province are written first (the run's own
statement for this month, its lines copied to the eleven months before), so that the allowance
section has a year of lines to read. Every row gives median, min–max over ``--repeat`` runs,
the ratio to the floor and the 1-minute load average around the runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_USER = "bench_dashboard"
STORE_TABLES = (
    "visits_schedulerun",
    "visits_scheduletally",
    "visits_scheduletotal",
    "visits_schedulemonth",
    "visits_schedulechange",
)


def _months_back(first: datetime.date, n: int) -> datetime.date:
    index = first.year * 12 + first.month - 1 - n
    return datetime.date(index // 12, index % 12 + 1, 1)


def timed(function, repeat: int) -> dict:
    runs, loads, result = [], [], None
    for _ in range(repeat):
        loads.append(os.getloadavg()[0])
        started = time.perf_counter()
        result = function()
        runs.append(time.perf_counter() - started)
        loads.append(os.getloadavg()[0])
    return {"runs": runs, "loads": loads, "result": result}


FLOOR_TOTALS_SQL = """
SELECT t.month, sum(t.daily_owed), sum(t.daily_done), sum(t.monthly_owed), sum(t.monthly_done)
FROM visits_scheduletotal t JOIN regions_region p ON p.id = t.place_id
WHERE t.month >= %s AND t.month < %s AND p.path LIKE %s
GROUP BY t.month
"""
FLOOR_RUNNING_SQL = """
SELECT r.place_id, r.daily, count(*)
FROM visits_schedulerun r
JOIN regions_region p ON p.id = r.place_id
JOIN (
    SELECT DISTINCT elder_id, (visited_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM visits_visit
    WHERE visited_at >= %s AND visited_at < %s AND outcome <> 'not_at_home'
) s ON s.elder_id = r.elder_id
WHERE r.month = %s AND p.path LIKE %s
GROUP BY r.place_id, r.daily
"""


def floor(area, first, last, today):
    """Plain SQL over what the stored reading reads: the totals of the months that are over,
    and the running month's stored runs joined to its visits' distinct (elder, day)."""
    from django.db import connection

    from visits.selectors import day_start

    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TOTALS_SQL, [first, last, area.path + "%"])
        totals = cursor.fetchall()
        cursor.execute(
            FLOOR_RUNNING_SQL,
            [day_start(last), day_start(today + datetime.timedelta(days=1)), last, area.path + "%"],
        )
        return totals, cursor.fetchall()


def write_payments(months: list[datetime.date], log) -> None:
    """A regular batch of the province for each month: this month's by the run's statement,
    the months before as copies of its lines (not timed)."""
    from django.db import connection

    from bench.run import REGION, step_floor
    from subsidies.choices import BatchKind
    from subsidies.models import PaymentBatch, PaymentLine

    if PaymentLine.objects.exists():
        log("payment lines already there")
        return
    step_floor(months[-1])
    regular = PaymentBatch.objects.get(kind=BatchKind.REGULAR, period=months[-1])
    for month in months[:-1]:
        batch = PaymentBatch.objects.create(
            region=regular.region, period=month, kind=BatchKind.REGULAR
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO subsidies_paymentline
                    (batch_id, scheme_id, period, elder_id, amount, kind, status,
                     policy_value_id, inputs, note, bank_reference, bank_message, created_at)
                SELECT %s, scheme_id, %s, elder_id, amount, kind, status, policy_value_id,
                       inputs, note, '', '', now()
                FROM subsidies_paymentline WHERE batch_id = %s
                """,
                [batch.pk, month, regular.pk],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE subsidies_paymentline")
    log(f"payments: {PaymentLine.objects.count():,} lines in {len(months)} batches of {REGION}")


def bench_user(area):
    """A civil-affairs bureau officer of ``area`` (staff, not a superuser): the page's every
    section, through the role's scope as a real user meets it."""
    from django.contrib.auth import get_user_model

    from accounts.choices import Role
    from accounts.models import RoleAssignment

    user, created = get_user_model().objects.get_or_create(
        username=f"{BENCH_USER}_{area.code}", defaults={"is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    RoleAssignment.objects.get_or_create(user=user, role=Role.BUREAU, region=area)
    return user


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--region", default="330106", help="a county's code")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--payments", action="store_true")
    parser.add_argument("--no-afresh", action="store_true", help="skip the slow reading")
    args = parser.parse_args(argv)

    from bench.generate import setup_django

    setup_django(args.database_url)
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from dashboards import selectors
    from dashboards.coverage import coverage_section
    from dashboards.selectors import Period
    from facilities.selectors import staffing_reports
    from regions.models import Region
    from visits import schedule_store

    def log(message):
        print(message, flush=True)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    area = Region.objects.get(code=args.region)
    today = selectors.today()
    last = today.replace(day=1)
    first = _months_back(last, args.months - 1)
    period = Period.of_months(first, last, today)
    months = period.months
    log(f"{area.name} {area.code}, {first:%Y-%m} to {last:%Y-%m}, load {os.getloadavg()[0]:.1f}")
    if args.payments:
        write_payments(months, log)

    rows = []

    def row(measure, measured, floor_s=None):
        median = statistics.median(measured["runs"])
        rows.append(
            (
                measure,
                len(measured["runs"]),
                median,
                min(measured["runs"]),
                max(measured["runs"]),
                median / floor_s if floor_s else None,
                min(measured["loads"]),
                max(measured["loads"]),
            )
        )
        log(f"  {measure}: {median:.3f} s")
        return median

    if not schedule_store.is_stored(area, months):
        job = timed(lambda: schedule_store.keep_schedules(regions=[area], today=today), 1)
        row("storing the schedules (the job, once)", job)
    changes = schedule_store.ScheduleChange.objects.count()
    log(f"elders recorded as changed: {changes}")
    with connection.cursor() as cursor:
        # What autovacuum gives tables in service (it is off on the benchmark machine):
        # planner statistics and the visibility map of the tables the job has just filled.
        # Without them the running month's plan guesses 200 stored runs for 39,000 and
        # looks each elder's visits up one by one.
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE " + ", ".join(STORE_TABLES))
        log(f"VACUUM ANALYZE of the stored schedules in {time.perf_counter() - started:.1f} s")

    def compliance():
        with selectors.reading():
            return selectors.compliance_by_month(area, period)

    def figures(table):
        return {
            (r.key, i): (c.done, c.owed) if c else None
            for r in [*table.rows, table.total]
            for i, c in enumerate(r.cells)
        }

    floor_run = timed(lambda: floor(area, first, last, today), args.repeat)
    floor_s = row(
        "floor: bare SELECTs over the stored totals, the running month's runs and visits",
        floor_run,
    )
    stored = timed(compliance, args.repeat)
    assert schedule_store.is_stored(area, months)
    row("visit compliance, 12 months, from the stored schedules", stored, floor_s)
    if not args.no_afresh:
        original = schedule_store.stored_figures
        schedule_store.stored_figures = lambda *a, **k: None
        try:
            fresh = timed(compliance, 1)
        finally:
            schedule_store.stored_figures = original
        row("visit compliance, 12 months, worked out afresh", fresh, floor_s)
        if figures(fresh["result"]) != figures(stored["result"]):
            raise SystemExit("the stored reading differs from the reading worked out afresh")
        log("  the stored reading equals the reading worked out afresh")

    user = bench_user(area)
    log(f"user {user.username}: sections {', '.join(selectors.sections_for(user, area))}")
    sections = {
        "allowances": lambda: selectors.allowance_totals(user, area, period),
        "staffing and beds": lambda: (
            staffing_reports(list(selectors.area_facilities(user, area)), period.on),
            selectors.beds_and_waiting(list(selectors.area_facilities(user, area)), period.on),
        ),
        "workforce": lambda: selectors.workforce(area, period.on),
        "assessments due": lambda: selectors.assessments_due(user, area, period.on),
        "rulebook gaps": lambda: selectors.gaps_for(area, period.on),
        "coverage (servicelist.coverage)": lambda: coverage_section(user, area, period),
    }
    for name, function in sections.items():

        def in_reading(function=function):
            with selectors.reading():
                return function()

        row(f"section: {name}", timed(in_reading, args.repeat))

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    query = {"region": area.code, "start": f"{first:%Y-%m}", "end": f"{last:%Y-%m}"}

    def page():
        response = client.get("/dashboard/", query)
        assert response.status_code == 200, response.status_code
        return response

    page()  # warm-up: templates, static manifest
    row("whole page, every section (GET /dashboard/)", timed(page, args.repeat), floor_s)
    everything = selectors.sections_for

    def without_coverage(user, area):
        return [s for s in everything(user, area) if s != selectors.Section.COVERAGE]

    with mock.patch("dashboards.views.selectors.sections_for", without_coverage):
        page()
        row(
            "whole page but the coverage section (GET /dashboard/)",
            timed(page, args.repeat),
            floor_s,
        )

    print()
    print("| measure | runs | median s | min–max s | × floor | load avg |")
    print("|---|---|---|---|---|---|")
    for measure, runs, median, low, high, ratio, load_low, load_high in rows:
        shown = f"{ratio:.1f}×" if ratio else ""
        print(
            f"| {measure} | {runs} | {median:.3f} | {low:.3f}–{high:.3f} | {shown} "
            f"| {load_low:.1f}–{load_high:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
