"""Arrears: the earlier months an elder registered late is owed, paid in adjustment lines.

A month is owed when its run was done before the elder was registered, as far back as the
rulebook's ``allowance_arrears_months``; the elder is paid by that month's rules.
"""

from __future__ import annotations

from dataclasses import replace

from regions.selectors import resolve_policy
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import LineKind, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, Scheme
from subsidies.periods import add_months
from subsidies.run.lines import chunk_statement, insert_lines
from subsidies.run.plan import PeriodPlan, RunPlan
from subsidies.run.rates import plan_period

ARREARS_KEY = "allowance_arrears_months"


def plan_arrears(run: AllowanceRun, schemes: list[Scheme]) -> tuple[list[PeriodPlan], dict]:
    """The plans of the months owed, and what the run's report says of the window."""
    window = resolve_policy(ARREARS_KEY, run.region, run.period)
    if not window.is_set:
        return [], {"arrears": f"{ARREARS_KEY}: {window.not_set_reason}"}
    covering = [r.pk for r in run.region.ancestors_and_self()]
    plans = []
    for back in range(1, int(window.value) + 1):
        period = add_months(run.period, -back)
        first_run = (
            AllowanceRun.objects.filter(
                region_id__in=covering, period=period, status=RunStatus.DONE
            )
            .order_by("started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if first_run is None:
            continue  # never run for anyone: nothing was missed
        plan = plan_period(run.region, period, schemes)
        if plan.payable:
            plans.append(replace(plan, registered_after=first_run))
    return plans, {"arrears_months": int(window.value)}


def chunk_arrears(run: AllowanceRun, plan: RunPlan, chunk: AllowanceRunChunk) -> int:
    """Write the arrears lines of the chunk's elders not yet paid, by each owed month's plan
    and the same statement as the month's, into the draft adjustment batch of the run's region
    and month (opened only if a line is missing). Returns the lines added."""
    added = 0
    for owed in plan.arrears:
        statement = chunk_statement(
            owed, region_path=run.region.path, id_from=chunk.id_from, id_to=chunk.id_to
        )
        if statement is not None:
            added += insert_lines(
                statement,
                batch=lambda: draft_adjustment_batch(run.region_id, run.period).pk,
                kind=LineKind.ARREARS,
            )[1]
    return added
