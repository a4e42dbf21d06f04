"""Arrears: the earlier months an elder registered late is owed, paid in adjustment lines.

A month is owed when its run was done before the elder was registered, as far back as the
rulebook's ``allowance_arrears_months``; the elder is paid by that month's rules.
"""

from __future__ import annotations

from dataclasses import replace

from regions.selectors import resolve_policy
from residents.models import ElderCategory
from residents.selectors import latest_assessment_levels
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import LineKind, RunStatus
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentLine, Scheme
from subsidies.periods import add_months
from subsidies.run.lines import ELDER_FIELDS, RateMatcher, eligible_lines, missing
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


def _held_on(periods, on) -> frozenset[str]:
    return frozenset(c for c, start, end in periods if start <= on and (end is None or end >= on))


def chunk_arrears(
    run: AllowanceRun, plan: RunPlan, chunk: AllowanceRunChunk, elders
) -> list[PaymentLine]:
    """The arrears lines of the chunk's elders not yet paid, in the draft adjustment batch of
    the run's region and month (opened only if there are any)."""
    if not plan.arrears:
        return []
    earliest = min(p.registered_after for p in plan.arrears)
    rows = list(elders.filter(created_at__gte=earliest).values_list(*ELDER_FIELDS, "created_at"))
    if not rows:
        return []
    ids = [r[0] for r in rows]
    periods: dict[int, list] = {}
    for elder_id, category, start, end in ElderCategory.objects.filter(
        elder_id__in=ids
    ).values_list("elder_id", "category", "start_date", "end_date"):
        periods.setdefault(elder_id, []).append((category, start, end))
    matcher = RateMatcher({r[2] for r in rows})
    lines = []
    for owed in plan.arrears:
        late = [r[:5] for r in rows if r[5] >= owed.registered_after]
        categories = {e: _held_on(periods.get(e, []), owed.period) for e, *_ in late}
        levels = latest_assessment_levels(ids, owed.period) if owed.needs_levels else {}
        lines += eligible_lines(
            plan=owed,
            rows=late,
            categories=categories,
            levels=levels,
            matcher=matcher,
            batch_id=None,
            kind=LineKind.ARREARS,
        )
    lines = missing(lines, chunk)
    if lines:
        batch = draft_adjustment_batch(run.region_id, run.period)
        for line in lines:
            line.batch_id = batch.pk
    return lines
