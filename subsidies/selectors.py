"""Reads for the allowance run and the payment batches.

The run's *plan* is resolved once per run: for every region that has its own rulebook values
(or is a scheme's jurisdiction) inside the run's region, the amount of every scheme in force on
the 1st of the month, with the policy value that gives it; elders are then matched to the
nearest such region by their registration path. No rate is ever looked up per elder.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from regions.models import PolicyValue, Region
from regions.selectors import resolve_policies
from subsidies.choices import ChunkStatus, LineStatus, Payee, PeriodKind, RunHealth, RunStatus
from subsidies.models import PaymentBatch, PaymentLine, Scheme, money

PAYMENT_MONTH_KEY = "yearly_allowance_payment_month"
ARREARS_KEY = "allowance_arrears_months"


def rate_regions(region: Region, schemes: list[Scheme]) -> list[Region]:
    """The run's region plus every region below it with its own values for a scheme key or
    that is a scheme's jurisdiction, deepest first (so the first match is the nearest)."""
    keys = {s.policy_key for s in schemes} | {PAYMENT_MONTH_KEY}
    with_values = PolicyValue.objects.filter(key__in=keys).values("region_id")
    below = Region.objects.within(region).exclude(pk=region.pk)
    nodes = list(
        below.filter(Q(pk__in=with_values) | Q(pk__in=[s.jurisdiction_id for s in schemes]))
    )
    nodes.append(region)
    return sorted(nodes, key=lambda r: -r.path.count("/"))


def scheme_conditions(scheme: Scheme) -> dict:
    return {
        "eligibility": scheme.eligibility,
        "min_age": scheme.min_age,
        "max_age": scheme.max_age,
        "all_from_age": scheme.all_from_age,
        "categories": sorted(scheme.categories),
        "ability_levels": sorted(scheme.ability_levels),
    }


def period_plan(region: Region, period: datetime.date, schemes: list[Scheme]) -> dict:
    """What the run pays in ``period`` for elders registered in ``region``: per rate region,
    the payable schemes with amount and source; and the schemes skipped, with the reason."""
    # Facility subsidies are granted one by one (grant_facility_subsidy), not by the run.
    schemes = [s for s in schemes if s.payee != Payee.FACILITY]
    nodes, skipped, not_due = [], [], []
    keys = sorted({s.policy_key for s in schemes} | {PAYMENT_MONTH_KEY})
    for node in rate_regions(region, schemes):
        resolved = resolve_policies(keys, node, period)
        payable, caregivers = [], []
        for scheme in schemes:
            if not node.path.startswith(scheme.jurisdiction.path):
                continue  # e.g. Xihu's e-allowances for a region outside Xihu
            policy = resolved[scheme.policy_key]
            entry = {"scheme": scheme.code, "region": node.code, "key": scheme.policy_key}
            if not policy.is_set:
                # docs/policy.md §13: nobody is paid a guessed amount; the report says why.
                skipped.append({**entry, "reason": policy.not_set_reason})
                continue
            if scheme.period_kind == PeriodKind.YEARLY:
                month = resolved[PAYMENT_MONTH_KEY]
                if not month.is_set:
                    skipped.append(
                        {**entry, "reason": f"{PAYMENT_MONTH_KEY}: " + month.not_set_reason}
                    )
                    continue
                if int(month.value) != period.month:
                    not_due.append({**entry, "payment_month": int(month.value)})
                    continue
            row = policy.row
            # Caregiver schemes (Anji's post allowance) pay the facilities' caregiver register.
            (caregivers if scheme.payee == Payee.CAREGIVER else payable).append(
                {
                    "scheme_id": scheme.pk,
                    "scheme": scheme.code,
                    "amount": str(money(row.value)),
                    "policy_value_id": row.pk,
                    "key": scheme.policy_key,
                    "citation": row.citation,
                    "source_region": row.region.code,
                    "conditions": scheme_conditions(scheme),
                }
            )
        nodes.append(
            {
                "region": node.code,
                "path": node.path,
                "schemes": payable,
                "caregiver_schemes": caregivers,
            }
        )
    return {
        "period": period.isoformat(),
        "nodes": nodes,
        "skipped": skipped,
        "not_due": not_due,
        "payable": any(n["schemes"] for n in nodes),
        "caregiver_payable": any(n["caregiver_schemes"] for n in nodes),
    }


def live_lines(batch: PaymentBatch) -> QuerySet[PaymentLine]:
    """The lines to pay (cancelled lines are kept for the record, not paid)."""
    return batch.lines.exclude(status=LineStatus.CANCELLED)


def batch_totals(batch: PaymentBatch) -> list[dict]:
    """Per scheme: count and amount of the lines to pay (control totals)."""
    rows = (
        live_lines(batch)
        .values("scheme__code", "scheme__label")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("scheme__code")
    )
    return [
        {
            "scheme": r["scheme__code"],
            "label": r["scheme__label"],
            "count": r["count"],
            "amount": money(r["amount"] or Decimal("0")),
        }
        for r in rows
    ]


def batch_grand_total(batch: PaymentBatch) -> tuple[int, Decimal]:
    agg = live_lines(batch).aggregate(count=Count("id"), amount=Sum("amount"))
    return agg["count"], money(agg["amount"] or Decimal("0"))


def payee_id_number():
    """The payee's identifier for the bank: the elder's or caregiver's ID number, or the
    facility's unified social credit code (its facility code when it has none)."""
    return Coalesce(
        "elder__id_number",
        "caregiver__id_number",
        NullIf("facility__uscc", Value("")),
        "facility__code",
    )


def payee_name():
    return Coalesce("elder__name", "caregiver__name", "facility__name")


# --- the run's health: what the admin shows of a run -------------------------------------------


def stall_cutoffs(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Before the first, a claim's last heartbeat means its worker died; before the second, a
    chunk queued and never claimed has lost its message (the broker would have redelivered it
    within its visibility timeout)."""
    stall = datetime.timedelta(seconds=settings.ALLOWANCE_RUN_STALL_SECONDS)
    lost = datetime.timedelta(seconds=settings.BROKER_VISIBILITY_TIMEOUT)
    return now - stall, now - max(stall, lost)


def orphaned_chunks_q(now: datetime.datetime, *, chunk: str = "", run: str = "run__") -> Q:
    """Unfinished chunks that no live worker holds and no message will bring back: the one
    definition for the sweep, resume and the admin (``chunk`` and ``run`` prefix the lookups
    from where the query starts)."""
    dead_before, lost_before = stall_cutoffs(now)
    status, queued = f"{chunk}status", f"{chunk}queued_at"
    return (
        Q(**{status: ChunkStatus.RUNNING, f"{chunk}heartbeat_at__lt": dead_before})
        | Q(**{status: ChunkStatus.PENDING, f"{queued}__lt": lost_before})
        | Q(
            **{
                status: ChunkStatus.PENDING,
                f"{queued}__isnull": True,
                f"{run}started_at__lt": lost_before,
            }
        )
    )


def runs_with_health(queryset: QuerySet, now: datetime.datetime | None = None) -> QuerySet:
    """Runs with what run_health reads: their chunks' last heartbeat and how many of their
    chunks are orphaned (two aggregates over one join, for a whole changelist page)."""
    now = now or timezone.now()
    return queryset.annotate(
        last_heartbeat=Max("chunks__heartbeat_at"),
        orphaned_chunks=Count("chunks", filter=orphaned_chunks_q(now, chunk="chunks__", run="")),
    )


def run_health(run, now: datetime.datetime | None = None) -> tuple[str, str]:
    """The run's state as it is (RunHealth) and what to say of it: a run whose worker died is
    ``stalled`` (the sweep queues its chunks again, or finishes it), not ``running``."""
    now = now or timezone.now()
    if run.status == RunStatus.DONE:
        return RunHealth.DONE, ""
    if run.status == RunStatus.FAILED:
        return RunHealth.FAILED, run.error
    dead_before, lost_before = stall_cutoffs(now)
    if run.status == RunStatus.PENDING:
        if (run.queued_at or run.created_at) < lost_before:
            return RunHealth.STALLED, "排队后一直未开始（消息丢失），巡检将重新排队。"
        return RunHealth.QUEUED, ""
    if not hasattr(run, "orphaned_chunks"):
        run = runs_with_health(type(run).objects.filter(pk=run.pk), now).get()
    if run.orphaned_chunks:
        return (
            RunHealth.STALLED,
            f"{run.orphaned_chunks} 个分块的处理进程已中断（无心跳或消息丢失），巡检将重新排队。",
        )
    last = run.last_heartbeat or run.started_at
    if run.chunks_done >= run.chunks_total and last is not None and last < dead_before:
        return RunHealth.STALLED, "分块已全部完成但未收尾，巡检将完成该运行。"
    return RunHealth.RUNNING, ""
