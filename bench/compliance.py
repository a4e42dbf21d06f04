#!/usr/bin/env python
"""How long visit compliance takes for a district: one month and twelve months.

    DATABASE_URL=sqlite:///comp.sqlite3 python manage.py setup_demo
    DATABASE_URL=sqlite:///comp.sqlite3 python bench/compliance.py --area 330106 --repeat 5

Runs ``visits.selectors.compliance`` for the last full month before ``--until`` (default:
today) and for the twelve months ending with it, each ``--repeat`` times, and prints the
best and median wall time, the queries of one call, and what the report counted (so two runs
on the same data can be compared). A timing script, not a test: it never fails on a time.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", default="330106")
    parser.add_argument("--until", type=datetime.date.fromisoformat, default=None)
    parser.add_argument("--group-by", default="street")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--months", type=int, nargs="+", default=[1, 12])
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from regions.models import Region
    from residents.models import Elder
    from visits.models import Visit
    from visits.selectors import compliance, local_tz, month_bounds

    area = Region.objects.get(code=args.area)
    until = args.until or datetime.datetime.now(local_tz()).date()
    _, end = month_bounds(until.replace(day=1) - datetime.timedelta(days=1))
    elders = Elder.objects.filter(residence_region__path__startswith=area.path).count()
    print(
        f"{area.name} ({area.code}): {elders} elders, {Visit.objects.count()} visits, "
        f"{connection.vendor}, group_by={args.group_by}"
    )
    for months in args.months:
        start = end.replace(day=1)
        for _ in range(months - 1):
            start = (start - datetime.timedelta(days=1)).replace(day=1)
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            report = compliance(area=area, start=start, end=end, group_by=args.group_by)
            times.append(time.perf_counter() - began)
        with CaptureQueriesContext(connection) as queries:
            compliance(area=area, start=start, end=end, group_by=args.group_by)
        total = report.total
        print(
            f"{start}..{end} ({months} month{'s' if months > 1 else ''}): "
            f"best {min(times):.3f} s, median {statistics.median(times):.3f} s "
            f"over {args.repeat}; {len(queries)} queries; "
            f"daily {total.daily_done}/{total.daily_owed}, "
            f"monthly {total.monthly_done}/{total.monthly_owed}, "
            f"{len(report.lines)} lines, {len(report.overdue)} overdue"
        )


if __name__ == "__main__":
    main()
