"""A rate corrected backwards: the months already run, paid again by the rule now in force.

When a rulebook value the run pays from is revised from a date in the past
(``regions.services.revise_policy_value`` with an earlier ``applies_from``), every month already
run from that date on is recomputed for the elders it touches — those with a line citing the
old row, and those the new row now pays — by the run's own reading of the rules
(``subsidies.run.preview``), scheme by scheme (a centenarian moved from the high-age allowance to
a longevity amount loses one line and gains the other):

- a line still in a draft batch is recomputed in place (amount, policy value, inputs), or
  cancelled when nothing is owed any more;
- a line in an approved batch is never edited: the difference (plus or minus) between what is
  owed now and what its lines pay is a ``correction`` line in this month's draft adjustment
  batch of the line's region, citing the old and the new policy value;
- an elder owed a line the month never paid (no amount was set) gets it as arrears in that
  batch, when the month was run for their region.

Corrections are differences against everything already decided for (scheme, month, elder), so
revising twice, or running this twice, never pays twice.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from regions.models import PolicyValue, Region
from residents.models import Elder
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import BatchKind, LineKind, LineStatus
from subsidies.models import PaymentBatch, PaymentLine, money
from subsidies.periods import add_months, first_of_month
from subsidies.run.plan import PeriodPlan
from subsidies.run.preview import _month_lines
from subsidies.run.rates import plan_period
from subsidies.schemes import active_schemes

ZERO = Decimal("0.00")
# The kinds that say what a (scheme, month, elder) is owed; a re-issue only pays a failed line
# again.
ENTITLEMENT_KINDS = [LineKind.NORMAL, LineKind.ARREARS, LineKind.RECOVERY, LineKind.CORRECTION]


def first_month_from(day: datetime.date) -> datetime.date:
    """The first month whose 1st (the day the run reads) is on or after ``day``."""
    return day if day.day == 1 else add_months(first_of_month(day), 1)


def _run_regions(region: Region, first: datetime.date, last: datetime.date | None):
    """{month: the regions whose regular batch of that month exists}, for the months from
    ``first`` (to ``last``) of regions within ``region`` or above it."""
    batches = PaymentBatch.objects.filter(kind=BatchKind.REGULAR, period__gte=first).filter(
        Q(region__path__startswith=region.path) | Q(region__in=region.ancestors_and_self())
    )
    if last is not None:
        batches = batches.filter(period__lte=last)
    months: dict[datetime.date, list[Region]] = defaultdict(list)
    for batch in batches.select_related("region"):
        months[batch.period].append(batch.region)
    return months


def _citation(row: PolicyValue | None) -> dict:
    if row is None:
        return {"policy_value_id": None}
    return {
        "policy_value_id": row.pk,
        "value": None if row.value is None else format(row.value.normalize(), "f"),
        "effective_from": row.effective_from.isoformat(),
        "effective_to": None if row.effective_to is None else row.effective_to.isoformat(),
        "citation": row.citation,
        "region": row.region.code,
    }


class _Month:
    """One month's recomputation for the elders the revision touches."""

    def __init__(self, period, run_regions, plan: PeriodPlan, owed):
        self.period, self.run_regions, self.plan, self.owed = period, run_regions, plan, owed

    def run_region(self, path: str) -> Region | None:
        """The deepest region run this month that covers the elder's registration."""
        covering = [r for r in self.run_regions if path.startswith(r.path)]
        return max(covering, key=lambda r: len(r.path), default=None)

    def planned(self, path: str, scheme_id: int):
        node = self.plan.node_for(path)
        if node is None:
            return None, None
        found = next((s for s in node.schemes if s.scheme_id == scheme_id), None)
        return node, found


def correct_months(
    *,
    rows: list[PolicyValue],
    start: datetime.date,
    end: datetime.date | None = None,
    reason: str = "",
    today: datetime.date | None = None,
) -> dict[str, int]:
    """Recompute the months from ``start`` (to ``end``) already run, for the elders paid from
    one of ``rows`` (the old and the new version of a revised value) or owed from them now.
    Called inside the revision's transaction. Returns the counts of what it did."""
    today = today or timezone.localdate()
    region = rows[-1].region
    row_ids = {row.pk for row in rows}
    first = first_month_from(start)
    counts = {"months": 0, "recomputed": 0, "cancelled": 0, "corrections": 0, "arrears": 0}
    schemes = active_schemes()
    for period, run_regions in sorted(_run_regions(region, first, end).items()):
        counts["months"] += 1
        plan = plan_period(region, period, schemes)
        owed = _month_lines(region, period)  # {(elder, scheme): amount}
        touched = set(
            PaymentLine.objects.filter(
                period=period, policy_value_id__in=row_ids, elder__isnull=False
            ).values_list("elder_id", flat=True)
        )
        paths = dict(
            Elder.objects.filter(hukou_region__path__startswith=region.path).values_list(
                "id", "hukou_region__path"
            )
        )
        month = _Month(period, run_regions, plan, owed)
        for (elder_id, scheme_id), _amount in owed.items():
            _node, planned = month.planned(paths.get(elder_id, ""), scheme_id)
            if planned is not None and planned.policy_value_id in row_ids:
                touched.add(elder_id)
        touched = {e for e in touched if month.run_region(paths.get(e, "")) is not None}
        if touched:
            _correct_elders(month, touched, paths, reason, today, counts)
    return counts


def _correct_elders(month: _Month, elders: set[int], paths, reason, today, counts) -> None:
    period = month.period
    lines: dict[tuple[int, int], list[PaymentLine]] = defaultdict(list)
    for line in (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(period=period, elder_id__in=elders, kind__in=ENTITLEMENT_KINDS)
        .select_related("batch", "policy_value__region")
        .order_by("pk")
    ):
        lines[(line.elder_id, line.scheme_id)].append(line)
    owed = {key: amount for key, amount in month.owed.items() if key[0] in elders}
    policy_rows = {
        row.pk: row
        for row in PolicyValue.objects.filter(
            pk__in={
                planned.policy_value_id
                for (elder, scheme) in owed
                for planned in [month.planned(paths[elder], scheme)[1]]
                if planned is not None
            }
        ).select_related("region")
    }
    new_lines: list[PaymentLine] = []
    for elder_id, scheme_id in sorted(owed.keys() | lines.keys()):
        path = paths.get(elder_id, "")
        node, planned = month.planned(path, scheme_id)
        amount = owed.get((elder_id, scheme_id), ZERO)
        new_row = policy_rows.get(planned.policy_value_id) if planned and amount else None
        existing = lines.get((elder_id, scheme_id), [])
        base = next((x for x in existing if x.kind in (LineKind.NORMAL, LineKind.ARREARS)), None)
        if base is not None and base.batch.is_draft:
            _recompute_draft(base, amount, new_row, planned, node, reason, counts)
            continue
        if base is None:
            if amount and new_row is not None:
                batch_region = month.run_region(path)
                new_lines.append(
                    PaymentLine(
                        batch=draft_adjustment_batch(batch_region.pk, first_of_month(today)),
                        scheme_id=scheme_id,
                        period=period,
                        elder_id=elder_id,
                        amount=amount,
                        kind=LineKind.ARREARS,
                        policy_value=new_row,
                        note=_note(None, new_row, period),
                        inputs={
                            **planned.line_inputs(node.region),
                            "on": period.isoformat(),
                            "correction": {"old": _citation(None), "new": _citation(new_row)},
                            "reason": reason,
                        },
                    )
                )
                counts["arrears"] += 1
            continue
        if base.status == LineStatus.CANCELLED:
            continue  # cancelled before approval (a death): nothing was paid to correct
        pending = [x for x in existing if x.kind == LineKind.CORRECTION and x.batch.is_draft]
        settled = [x for x in existing if x not in pending and x.status != LineStatus.CANCELLED]
        paid = money(sum((x.amount for x in settled), ZERO))
        difference = money(amount - paid)
        old_row = settled[-1].policy_value if settled else base.policy_value
        for stale in pending[1:]:
            _cancel(stale, "被后续更正取代")
        if pending:
            line = pending[0]
            if not difference:
                _cancel(line, "追溯调整后无差额")
                counts["cancelled"] += 1
                continue
            cited = new_row or old_row
            if line.amount == difference and line.policy_value_id == getattr(cited, "pk", None):
                continue
            line.amount, line.policy_value = difference, cited
            line.note = _note(old_row, new_row, period)
            line.inputs = _correction_inputs(line.inputs, paid, amount, old_row, new_row, reason)
            line.save(update_fields=["amount", "policy_value", "note", "inputs"])
            counts["corrections"] += 1
            continue
        if not difference:
            continue
        new_lines.append(
            PaymentLine(
                batch=draft_adjustment_batch(base.batch.region_id, first_of_month(today)),
                scheme_id=scheme_id,
                period=period,
                elder_id=elder_id,
                amount=difference,
                kind=LineKind.CORRECTION,
                policy_value=new_row or old_row,
                corrects=base,
                note=_note(old_row, new_row, period),
                inputs=_correction_inputs(
                    {"scheme": base.inputs.get("scheme"), "on": period.isoformat()},
                    paid,
                    amount,
                    old_row,
                    new_row,
                    reason,
                ),
            )
        )
        counts["corrections"] += 1
    PaymentLine.objects.bulk_create(new_lines)


def _note(old_row, new_row, period) -> str:
    old = "未发" if old_row is None else f"参数#{old_row.pk}（{old_row.value}）"
    new = "不应发" if new_row is None else f"参数#{new_row.pk}（{new_row.value}）"
    return f"{period:%Y-%m} 政策参数追溯调整：{old} → {new}"[:200]


def _correction_inputs(inputs, paid, amount, old_row, new_row, reason) -> dict:
    return {
        **inputs,
        "correction": {
            "paid_before": str(paid),
            "owed_now": str(money(amount)),
            "difference": str(money(amount - paid)),
            "old": _citation(old_row),
            "new": _citation(new_row),
        },
        "reason": reason,
    }


def _cancel(line: PaymentLine, why: str) -> None:
    line.status = LineStatus.CANCELLED
    line.note = why
    line.save(update_fields=["status", "note"])


def _recompute_draft(base, amount, new_row, planned, node, reason, counts) -> None:
    """A line not yet approved is what the month owes now: recomputed in place."""
    if not amount:
        if base.status != LineStatus.CANCELLED:
            _cancel(base, f"{base.period:%Y-%m} 政策参数追溯调整后不应发放，审核前取消")
            counts["cancelled"] += 1
        return
    if base.amount == amount and base.policy_value_id == new_row.pk:
        return
    old_row = base.policy_value
    base.amount, base.policy_value = amount, new_row
    base.inputs = {
        **base.inputs,
        **planned.line_inputs(node.region),
        "recomputed": {"old": _citation(old_row), "new": _citation(new_row), "reason": reason},
    }
    if base.status == LineStatus.CANCELLED:
        base.status = LineStatus.PENDING
    base.save(update_fields=["amount", "policy_value", "inputs", "status"])
    counts["recomputed"] += 1
