#!/usr/bin/env python
"""How long an elder roll with account columns takes to import: new elders with their bank
cards, then the same elders with new cards.

    .venv/bin/python bench/account_import.py --rows 10000 --repeat 3 \
        --database-url postgres://postgres@127.0.0.1:5432/eldercare_import_bench

Each repetition writes ``--rows`` new elders (fresh ID numbers) with the optional columns
``account_channel,bank,account_number,account_holder`` through ``residents.importing``
(``plan_import`` then ``apply_import``, timed apart, as the command and the admin's upload run
them), then imports the same rows again with other card numbers (every account changed). It
prints, per step, the median and min–max wall time and the statements of the last repetition.
A measurement, not a test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COMMUNITY = "330106001001"  # 保俶塔社区, Xihu (demonstration code)


def roll(first: int, rows: int, card_prefix: str) -> bytes:
    """A CSV roll of ``rows`` elders numbered from ``first``, each with a Luhn-valid card."""
    from stdnum import luhn

    from residents.id_numbers import with_check_character
    from residents.importing import ACCOUNT_COLUMNS, COLUMNS

    lines = [",".join(COLUMNS + ACCOUNT_COLUMNS)]
    for n in range(first, first + rows):
        # 1930-1949 births: 12 × 28 days a year, a serial of three digits per day.
        year, rest = 1930 + n // 336_000 % 20, n % 336_000
        day, serial = divmod(rest, 1000)
        month, dom = 1 + day // 28, 1 + day % 28
        number = with_check_character(f"330106{year}{month:02d}{dom:02d}{serial:03d}")
        body = f"{card_prefix}{n:012d}"
        card = body + luhn.calc_check_digit(body)
        lines.append(f"{number},测试{n},{COMMUNITY},{COMMUNITY},,,none,,bank_card,测试银行,{card},")
    return ("\n".join(lines) + "\n").encode()


def timed(step):
    """The step's result, wall time and statements (counted, not logged: a roll's are many)."""
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        began = time.perf_counter()
        result = step()
        elapsed = time.perf_counter() - began
    return result, elapsed, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from bench.generate import ensure_database, load_reference_data, setup_django

    if args.database_url:
        ensure_database(args.database_url, reset=False)
    setup_django(args.database_url)
    load_reference_data()
    from django.db import connection

    from residents.importing import apply_import, plan_import, read_rows
    from residents.models import Elder

    first = Elder.objects.count() + 1_000
    results: dict[str, list[float]] = {}
    statements: dict[str, int] = {}
    print(f"{connection.vendor}, {args.rows} rows, {args.repeat} repetitions")
    for repetition in range(args.repeat):
        start = first + repetition * args.rows
        for step, prefix in (("new elders", "622202"), ("accounts changed", "622848")):
            rows = read_rows(roll(start, args.rows, prefix), "roll.csv")
            plan, planned, planned_queries = timed(lambda rows=rows: plan_import(rows))
            if plan.errors:
                raise SystemExit(f"{step}: {plan.errors[:3]}")
            _, applied, applied_queries = timed(lambda plan=plan: apply_import(plan))
            results.setdefault(f"{step}: check", []).append(planned)
            results.setdefault(f"{step}: write", []).append(applied)
            statements[f"{step}: check"] = planned_queries
            statements[f"{step}: write"] = applied_queries
    for name, times in results.items():
        print(
            f"{name:28} median {statistics.median(times):7.2f} s  "
            f"min–max {min(times):.2f}–{max(times):.2f} s  statements {statements[name]}"
        )


if __name__ == "__main__":
    main()
