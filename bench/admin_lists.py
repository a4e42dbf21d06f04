#!/usr/bin/env python
"""The admin's changelists at province scale: the elders' and the payment lines'.

    python bench/admin_lists.py --database-url postgres://…/eldercare_bench_1m --requests 30

On a database filled by ``bench/generate.py`` (1,000,000 elders in bench/RESULTS.md; payment
lines from ``bench/dashboard.py --payments`` or ``bench/run.py``), each list is requested
through Django's test client (the whole request: middleware, session, admin, template; no
network) by a superuser and by a civil-affairs bureau officer of the province (who sees the
same rows through the role's scope), ``--requests`` times per case after one warm-up request.
Printed per case: median, p99 (nearest rank) and max in milliseconds, with the 1-minute load
average around the case. Never fails on a time; fails when a page does not answer 200.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROVINCE = "330000"
LATER_PAGE = 500


def _percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile (with 30 samples, the 99th is the slowest)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from accounts.choices import Role
    from accounts.models import RoleAssignment
    from regions.models import Region

    model = get_user_model()
    admin, _ = model.objects.get_or_create(
        username="bench_admin_lists", defaults={"is_staff": True, "is_superuser": True}
    )
    bureau, _ = model.objects.get_or_create(
        username="bench_admin_lists_bureau", defaults={"is_staff": True}
    )
    RoleAssignment.objects.get_or_create(
        user=bureau, role=Role.BUREAU, region=Region.objects.get(code=PROVINCE)
    )
    # A role reaches an area; what a user may open in the admin are Django permissions (the
    # role's group in service). The lists measured only need to be viewed.
    bureau.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_elder", "view_paymentline"],
            content_type__app_label__in=["residents", "subsidies"],
        )
    )
    return {"superuser": admin, f"bureau of {PROVINCE}": bureau}


def cases() -> dict[str, tuple[str, dict]]:
    from django.db.models.functions import Length

    from regions.choices import RegionLevel
    from regions.models import Region
    from residents.models import Elder
    from subsidies.models import PaymentBatch, PaymentLine

    street = Region.objects.filter(level=RegionLevel.STREET, code__startswith="330106").first()
    elder = Elder.objects.order_by("id")[1000]
    # A term of three characters or more is served by the names' trigram index on PostgreSQL;
    # a shorter one has no trigram: both are measured.
    names = Elder.objects.annotate(length=Length("name")).order_by("id")
    three = names.filter(length=3)[1000]
    found = {
        "elders, page 1": ("/admin/residents/elder/", {}),
        f"elders, page {LATER_PAGE}": ("/admin/residents/elder/", {"p": str(LATER_PAGE)}),
        f"elders, residence in {street.code}": (
            "/admin/residents/elder/",
            {"residence": street.code},
        ),
        f"elders, search by name ({len(elder.name)} characters)": (
            "/admin/residents/elder/",
            {"q": elder.name},
        ),
        "elders, search by a 3-character name": ("/admin/residents/elder/", {"q": three.name}),
    }
    batch = PaymentBatch.objects.order_by("-period", "id").first()
    if batch is not None and PaymentLine.objects.exists():
        found.update(
            {
                "payment lines, page 1": ("/admin/subsidies/paymentline/", {}),
                f"payment lines, page {LATER_PAGE}": (
                    "/admin/subsidies/paymentline/",
                    {"p": str(LATER_PAGE)},
                ),
                "payment lines, one batch (the review)": (
                    "/admin/subsidies/paymentline/",
                    {"batch__id__exact": str(batch.pk)},
                ),
                f"payment lines, street {street.code}": (
                    "/admin/subsidies/paymentline/",
                    {"street": street.code},
                ),
            }
        )
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)

    from bench.generate import setup_django

    setup_django(args.database_url)
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from residents.models import Elder
    from subsidies.models import PaymentLine

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    with connection.cursor() as cursor:
        # What autovacuum gives a table in service (statistics, the visibility map); right
        # after a bulk load neither exists yet.
        cursor.execute("VACUUM ANALYZE residents_elder")
        cursor.execute("VACUUM ANALYZE subsidies_paymentline")
    print(
        f"{Elder.objects.count():,} elders, {PaymentLine.objects.count():,} payment lines; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = []
    for who, user in users().items():
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        for name, (path, query) in cases().items():
            timings, loads = [], [os.getloadavg()[0]]
            for attempt in range(args.requests + 1):
                started = time.perf_counter()
                response = client.get(path, query)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{who}, {name}: HTTP {response.status_code}")
                if attempt:  # the first request warms the caches and is not counted
                    timings.append(elapsed)
            loads.append(os.getloadavg()[0])
            row = (
                who,
                name,
                statistics.median(timings),
                _percentile(timings, 0.99),
                max(timings),
                min(loads),
                max(loads),
            )
            rows.append(row)
            print(f"  {who}, {name}: median {row[2]:.0f} ms, p99 {row[3]:.0f} ms", flush=True)
    print()
    print("| user | list | requests | median ms | p99 ms | max ms | load avg |")
    print("|---|---|---|---|---|---|---|")
    for who, name, median, p99, high, load_low, load_high in rows:
        print(
            f"| {who} | {name} | {args.requests} | {median:.0f} | {p99:.0f} | {high:.0f} "
            f"| {load_low:.1f}–{load_high:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
