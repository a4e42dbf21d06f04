"""Demonstration: the allowance run of the previous month for Xihu (330106), done in-process,
so the demo has one run with its batch and report. Idempotent: a month already run is left as
it is (a rerun would add nothing anyway)."""

from __future__ import annotations

from django.utils import timezone

from regions.models import Region
from subsidies.choices import RunStatus
from subsidies.models import AllowanceRun
from subsidies.periods import add_months, first_of_month
from subsidies.run.planning import request_allowance_run
from subsidies.schemes import load_schemes

DEMO_REGION = "330106"


def load_demo(*, stdout) -> None:
    load_schemes()
    region = Region.objects.get(code=DEMO_REGION)
    period = add_months(first_of_month(timezone.localdate()), -1)
    run = AllowanceRun.objects.filter(region=region, period=period, status=RunStatus.DONE).first()
    if run is None:
        run = request_allowance_run(region=region, period=period, sync=True)
    stdout.write(
        f"subsidies: {region.name} {period:%Y-%m} allowance run {run.pk}: "
        f"{run.report.get('batch_lines', 0)} lines, {run.report.get('batch_amount', '0.00')} yuan, "
        f"{len(run.report.get('skipped_schemes', []))} scheme(s) skipped (amount not set)"
    )
