#!/usr/bin/env python
"""How long the service list's coverage takes on a generated database (issue: the whole
province's coverage of one month under 60 s, one street under 1 s, set-based).

    python bench/generate.py --elders 1000000 --database-url postgres://…/eldercare_bench --reset
    python bench/coverage.py --database-url postgres://…/eldercare_bench --period 2026-10

Prepares the database once (idempotent): loads the service lists if missing and, for the
period's month, records deliveries of the items delivered in kind to about one elder in
``--delivered-share`` of those living under each item's list (meals through meal points, so
the meal item's own record is read), written set-based in SQL. Then times, each ``--repeat``
times: the province's coverage (its own list over every elder of Zhejiang), with
``--counties`` every county's coverage in turn (each with its own list: the province seen
county by county), one street's coverage, the street's coverage with its named list of
those not reached (the street worker's to-do list), and the dashboard's coverage section
for the street's district. Prints
the load average before and after, min–max and median wall time, the queries of one call and
the totals counted (so two runs on the same data can be compared). A timing script, not a
test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402

BENCH_EVIDENCE = "bench/coverage.py"
BENCH_PROVIDER = "基准测试服务商"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def prepare(start: datetime.date, end: datetime.date, share: int, log=print) -> None:
    """Service lists loaded; deliveries of the period's month recorded once (none if the
    bench's own are already there)."""
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection, transaction

    from servicelist.choices import ReachedThrough, RecordKind
    from servicelist.models import ServiceDelivery, ServiceItem
    from servicelist.selectors import items_in_force

    if not ServiceItem.objects.exists():
        call_command("load_service_items", stdout=StringIO())
        log(f"service items loaded: {ServiceItem.objects.count()}")
    if ServiceDelivery.objects.filter(
        evidence=BENCH_EVIDENCE, delivered_on__gte=start, delivered_on__lte=end
    ).exists():
        return
    from regions.models import Region

    # Every item in kind of every list, as a district's list shows it (the items of the
    # province and the cities reach their districts through these).
    lists = Region.objects.filter(code__in=["330106", "330702", "330523", "330203"])
    items = {}
    for area in lists:
        for item in items_in_force(area, start, end):
            if item.reached_through == ReachedThrough.DELIVERY and item.record_kind in (
                RecordKind.DELIVERY,
                RecordKind.MEAL,
            ):
                items[item.pk] = item
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for number, item in enumerate(items.values()):
            day = start + datetime.timedelta(days=number % (end - start).days)
            cursor.execute(
                """
                INSERT INTO servicelist_servicedelivery
                    (item_id, elder_id, delivered_on, provider_name, evidence, source,
                     created_at, updated_at)
                SELECT %s, e.id, %s, %s, %s, 'import', now(), now()
                FROM residents_elder e
                JOIN regions_region r ON r.id = COALESCE(e.residence_region_id, e.hukou_region_id)
                WHERE r.path LIKE %s AND (e.id + %s) %% %s = 0
                  AND (e.death_date IS NULL OR e.death_date >= %s)
                """,
                [
                    item.pk,
                    day,
                    BENCH_PROVIDER,
                    BENCH_EVIDENCE,
                    item.region.path + "%",
                    number,
                    share,
                    day,
                ],
            )
            if item.record_kind == RecordKind.MEAL:
                cursor.execute(
                    """
                    INSERT INTO servicelist_mealpoint
                        (name, kind, region_id, opened_on, created_at, updated_at)
                    SELECT %s, 'meal_point', %s, %s, now(), now()
                    WHERE NOT EXISTS (SELECT 1 FROM servicelist_mealpoint WHERE name = %s)
                    """,
                    [BENCH_PROVIDER, item.region_id, start, BENCH_PROVIDER],
                )
                cursor.execute(
                    """
                    INSERT INTO servicelist_mealservice (delivery_id, meal_point_id, meals)
                    SELECT d.id, (SELECT id FROM servicelist_mealpoint WHERE name = %s), 1
                    FROM servicelist_servicedelivery d
                    WHERE d.item_id = %s AND d.evidence = %s AND d.delivered_on = %s
                    """,
                    [BENCH_PROVIDER, item.pk, BENCH_EVIDENCE, day],
                )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE servicelist_servicedelivery")
            cursor.execute("ANALYZE servicelist_mealservice")
    log(
        f"deliveries recorded for {len(items)} items: "
        f"{ServiceDelivery.objects.filter(evidence=BENCH_EVIDENCE).count():,} rows "
        f"in {time.perf_counter() - began:.1f} s"
    )


def measure(label: str, call, repeat: int, describe) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    before = load_average()
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        result = call()
        times = [time.perf_counter() - began]
    for _ in range(repeat - 1):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    after = load_average()
    print(
        f"{label}: min {min(times):.3f} s, max {max(times):.3f} s, "
        f"median {statistics.median(times):.3f} s over {repeat}; {len(queries)} queries; "
        f"{describe(result)}; load {before} -> {after}",
        flush=True,
    )
    return {"label": label, "times": times, "queries": len(queries)}


def totals(rows) -> str:
    entitled = sum(r.entitled or 0 for r in rows)
    reached = sum(r.reached or 0 for r in rows)
    named = sum(len(r.not_reached) for r in rows)
    text = f"{len(rows)} items, entitled {entitled:,}, reached {reached:,}"
    return text + (f", {named:,} named not reached" if named else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--period", default=None, help="YYYY-MM (default: last full month)")
    parser.add_argument("--province", default="330000")
    parser.add_argument("--street", default="330106004", help="a street (default: 翠苑街道)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--delivered-share", type=int, default=4, help="one elder in N receives each item"
    )
    parser.add_argument(
        "--counties",
        action="store_true",
        help="also every county in turn, each with its own list (long at a million elders)",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["province", "counties", "street", "named", "dashboard"],
    )
    args = parser.parse_args(argv)
    setup_django(args.database_url)

    from django.db import connection
    from django.utils import timezone

    from regions.choices import RegionLevel
    from regions.models import Region
    from residents.models import Elder
    from servicelist.coverage import coverage, parse_period

    if args.period:
        start, end = parse_period(args.period)
    else:
        first = timezone.localdate().replace(day=1)
        start, end = parse_period(f"{first - datetime.timedelta(days=1):%Y-%m}")
    prepare(start, end, args.delivered_share)
    province = Region.objects.get(code=args.province)
    street = Region.objects.get(code=args.street)
    counties = list(
        Region.objects.filter(
            path__startswith=province.path, level=RegionLevel.COUNTY, is_active=True
        ).order_by("code")
    )
    print(
        f"{connection.vendor}: {Elder.objects.count():,} elders; period {start}..{end}; "
        f"street {street.name} ({street.code}); {len(counties)} counties; load {load_average()}",
        flush=True,
    )

    def every_county():
        return [row for county in counties for row in coverage(county, start, end)]

    def dashboard_section():
        from dashboards.coverage import coverage_section

        return coverage_section(None, street.parent, _Period(start, end)).rows

    runs = [
        ("province", "province (330000 list, all elders)", lambda: coverage(province, start, end)),
        ("counties", f"every county, its own list ({len(counties)})", every_county),
        ("street", f"street {street.code}", lambda: coverage(street, start, end)),
        (
            "named",
            f"street {street.code} with the named list",
            lambda: coverage(street, start, end, named=True),
        ),
        ("dashboard", f"dashboard coverage section, {street.parent.code}", dashboard_section),
    ]
    for key, label, call in runs:
        if key not in args.skip and (key != "counties" or args.counties):
            measure(label, call, args.repeat, totals)
    return 0


class _Period:
    """The dashboard's period as its coverage section reads it (start, end)."""

    def __init__(self, start, end):
        self.start, self.end = start, end


if __name__ == "__main__":
    sys.exit(main())
