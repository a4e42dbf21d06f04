"""A rate corrected backwards: a month already run, paid again by the rule now in force.

When a rulebook value the run pays from is revised from a date in the past
(``regions.services.revise_policy_value`` with an earlier ``applies_from``, or a row added with
a past start), a correction job (subsidies.run.correction_jobs) recomputes every month already
run from that date on, one chunk of payees of one month at a time (``correct_chunk``), for the
payees the revision touches — those with a line of the month citing the old or the new row, and
those the rules now pay from one of them — by the run's own reading of the rules (the month's
plan and the run's statement, ``subsidies.run.lines.owed_lines``; for caregivers their
register, ``subsidies.run.caregivers.owed_caregiver_lines``), scheme by scheme (a centenarian
moved from the high-age allowance to a longevity amount loses one line and gains the other):

- a line still in a draft batch is recomputed in place (amount, policy value, inputs), or
  cancelled when nothing is owed any more;
- a line in an approved batch is never edited: the difference (plus or minus) between what is
  owed now and what its lines pay is a ``correction`` line in the draft adjustment batch of the
  line's region for the month the revision was decided, citing the old and the new policy
  value;
- a payee owed a line the month never paid (no amount was set) gets it as arrears in that
  batch, when the month was run for their region.

Facility grants (operating subsidies, one-off grants, premium subsidies: subsidies.grants) are
read again the same way, grant by grant (``correct_facility_chunk``): a grant whose rules were
read on or after the revision's start (``facility_rules.rules_on``) and that read one of the
revision's rows is owed what ``facility_rules.entitlement_now`` says — its draft line
recomputed in place (the grant's record with it), its approved line given a difference line in
the draft adjustment batch, citing the revised key's old and new row.

Differences are taken against everything already decided for (scheme, month, payee), and a
line's pending difference is one line per batch (a database constraint), so revising twice,
or writing a chunk twice, never pays twice. A chunk first locks the month's regular batches and
the draft adjustment batches of the regions run, then reads the rulebook: a batch is approved
between chunks, never under one, and two jobs on the same month take turns, the later reading
what the earlier wrote.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q

from regions.models import PolicyValue, Region
from residents.models import Elder
from subsidies.batches import draft_adjustment_batch
from subsidies.choices import BatchKind, BatchState, LineKind, LineStatus, Payee, RunStatus
from subsidies.models import (
    AllowanceRun,
    CorrectionChunk,
    CorrectionJob,
    PaymentBatch,
    PaymentLine,
    money,
)
from subsidies.periods import add_months, first_of_month
from subsidies.run.caregivers import owed_caregiver_lines
from subsidies.run.lines import OwedLine, owed_lines
from subsidies.run.rates import plan_period
from subsidies.schemes import active_schemes
from subsidies.selectors import paid_together_q

ZERO = Decimal("0.00")
# The kinds that say what a (scheme, month, payee) is owed; a re-issue only pays a failed line
# again.
ENTITLEMENT_KINDS = [LineKind.NORMAL, LineKind.ARREARS, LineKind.RECOVERY, LineKind.CORRECTION]
COUNTS = ("recomputed", "cancelled", "corrections", "arrears")


def first_month_from(day: datetime.date) -> datetime.date:
    """The first month whose 1st (the day the run reads) is on or after ``day``."""
    return day if day.day == 1 else add_months(first_of_month(day), 1)


def run_months(
    region: Region, first: datetime.date, last: datetime.date | None = None
) -> dict[datetime.date, list[Region]]:
    """{month: the regions whose regular batch of that month exists}, for the months from
    ``first`` (to ``last``) of regions within ``region`` or above it."""
    batches = PaymentBatch.objects.filter(kind=BatchKind.REGULAR, period__gte=first).filter(
        paid_together_q(region)
    )
    if last is not None:
        batches = batches.filter(period__lte=last)
    months: dict[datetime.date, list[Region]] = defaultdict(list)
    for batch in batches.select_related("region"):
        months[batch.period].append(batch.region)
    # A run queued before its batch is opened: its month is corrected once it is done (it may
    # have been planned with the value the revision replaced).
    for run in runs_at_work(region, first, last):
        if run.region not in months[run.period]:
            months[run.period].append(run.region)
    return months


def runs_at_work(region: Region, first: datetime.date, last: datetime.date | None = None):
    """The allowance runs of the months from ``first`` (to ``last``) of regions within
    ``region`` or above it that are not done: queued, running, or failed last (resumed, a
    failed run goes on with the plan it was given). Their months' lines are not all written."""
    runs = AllowanceRun.objects.filter(period__gte=first).filter(paid_together_q(region))
    if last is not None:
        runs = runs.filter(period__lte=last)
    latest = {}
    for run in runs.select_related("region").order_by("created_at", "pk"):
        latest[(run.region_id, run.period)] = run
    return [run for run in latest.values() if run.status != RunStatus.DONE]


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


@dataclass
class _Month:
    """One chunk's month: what its payees are owed now and where their lines go."""

    period: datetime.date
    payee: str  # the payment line's column of the payee: "elder_id" or "caregiver_id"
    run_regions: list[Region]
    owed: dict[tuple[int, int], OwedLine]
    paths: dict[int, str]  # payee: the path their run region is found by
    decided_on: datetime.date
    reason: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    # The draft adjustment batch of each region, looked up once per chunk, not once per line.
    batches: dict[int, PaymentBatch] = field(default_factory=dict)

    def run_region(self, payee_id: int) -> Region | None:
        """The deepest region run this month that covers the payee."""
        path = self.paths.get(payee_id, "")
        covering = [r for r in self.run_regions if path.startswith(r.path)]
        return max(covering, key=lambda r: len(r.path), default=None)

    def adjustment_batch(self, region_id: int) -> PaymentBatch:
        if region_id not in self.batches:
            period = first_of_month(self.decided_on)
            self.batches[region_id] = draft_adjustment_batch(region_id, period)
        return self.batches[region_id]


def _lock_batches(regions: list[Region], period: datetime.date) -> None:
    """The month's regular batches and the draft adjustment batches of ``regions``, locked in
    one order: approval waits for the chunk, and so does another job's chunk of the month. The
    lock leaves the key alone (FOR NO KEY UPDATE), so a run's lines, whose reference check
    takes FOR KEY SHARE, are still written meanwhile."""
    list(
        PaymentBatch.objects.select_for_update(no_key=True)
        .filter(region__in=regions)
        .filter(
            Q(kind=BatchKind.REGULAR, period=period)
            | Q(kind=BatchKind.ADJUSTMENT, state=BatchState.DRAFT)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def correct_chunk(job: CorrectionJob, chunk: CorrectionChunk) -> dict[str, int]:
    """Recompute one chunk of a correction job (its month, its payees) inside the caller's
    transaction. Returns the counts of what it did."""
    if chunk.payee == Payee.FACILITY:
        return correct_facility_chunk(job, chunk)
    period = chunk.period
    regions = run_months(job.region, period, period).get(period, [])
    if not regions:
        return dict.fromkeys(COUNTS, 0)
    _lock_batches(regions, period)
    plan = plan_period(job.region, period, active_schemes())
    if chunk.payee == Payee.CAREGIVER:
        owed, paths = owed_caregiver_lines(job.region, plan)
        column = "caregiver_id"
    else:
        owed = owed_lines(
            plan, region_path=job.region.path, id_from=chunk.id_from, id_to=chunk.id_to
        )
        paths = dict(
            Elder.objects.filter(
                id__gte=chunk.id_from,
                id__lte=chunk.id_to,
                hukou_region__path__startswith=job.region.path,
            ).values_list("id", "hukou_region__path")
        )
        column = "elder_id"
    in_range = {f"{column}__gte": chunk.id_from, f"{column}__lte": chunk.id_to}
    month = _Month(period, column, regions, owed, paths, job.decided_on, job.reason)
    row_ids = job.row_ids
    touched = set(
        PaymentLine.objects.filter(period=period, policy_value_id__in=row_ids, **in_range)
        .values_list(column, flat=True)
        .distinct()
    )
    touched |= {
        payee
        for (payee, _scheme), line in owed.items()
        if line.policy_value_id in row_ids or line.inputs.get("share_policy_value_id") in row_ids
    }
    touched = {p for p in touched if chunk.id_from <= p <= chunk.id_to and month.run_region(p)}
    if touched:
        _correct_payees(month, touched)
    return month.counts


def _correct_payees(month: _Month, payees: set[int]) -> None:
    lines: dict[tuple[int, int], list[PaymentLine]] = defaultdict(list)
    for line in (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(period=month.period, kind__in=ENTITLEMENT_KINDS, **{f"{month.payee}__in": payees})
        .select_related("batch", "policy_value__region")
        .order_by("pk")
    ):
        lines[(getattr(line, month.payee), line.scheme_id)].append(line)
    owed = {key: line for key, line in month.owed.items() if key[0] in payees}
    rows = PolicyValue.objects.filter(pk__in={line.policy_value_id for line in owed.values()})
    rows = {row.pk: row for row in rows.select_related("region")}
    new_lines: list[PaymentLine] = []
    for key in sorted(owed.keys() | lines.keys()):
        now_owed = owed.get(key)
        new_row = rows[now_owed.policy_value_id] if now_owed is not None else None
        existing = lines.get(key, [])
        base = next((x for x in existing if x.kind in (LineKind.NORMAL, LineKind.ARREARS)), None)
        if base is None:
            if now_owed is not None:
                new_lines.append(_arrears(month, key, now_owed, new_row))
        elif base.batch.is_draft:
            _recompute_draft(month, base, now_owed, new_row)
        else:
            amount = ZERO if now_owed is None else now_owed.amount
            added = _difference(month, base, existing, amount, new_row)
            if added is not None:
                new_lines.append(added)
    PaymentLine.objects.bulk_create(new_lines)


def _arrears(month: _Month, key, owed: OwedLine, new_row: PolicyValue) -> PaymentLine:
    """A line the month never paid (no amount was set then): paid now as arrears."""
    payee_id, scheme_id = key
    month.counts["arrears"] += 1
    return PaymentLine(
        batch=month.adjustment_batch(month.run_region(payee_id).pk),
        scheme_id=scheme_id,
        period=month.period,
        amount=owed.amount,
        kind=LineKind.ARREARS,
        policy_value=new_row,
        note=_note(None, new_row, month.period),
        inputs={
            **owed.inputs,
            "correction": {"old": _citation(None), "new": _citation(new_row)},
            "reason": month.reason,
        },
        # A premium is paid to the insurer the plan names (subsidies.insurers).
        insurer_id=owed.inputs.get("insurer_id"),
        **{month.payee: payee_id},
    )


def _difference(
    month: _Month, base, existing, amount, new_row, *, old_row=None, about=None
) -> PaymentLine | None:
    """An approved month: what is owed now less what its lines pay, kept in one pending
    ``correction`` line (updated, or cancelled when nothing is left); a new line when there is
    none. Returns the new line, if any. ``old_row`` is the row cited as the old value (default:
    the row of the last line decided); ``about`` what a new line's inputs say of it besides
    its scheme and month."""
    # The difference lines not yet approved, the one to keep (not cancelled) first.
    pending = sorted(
        (x for x in existing if x.kind == LineKind.CORRECTION and x.batch.is_draft),
        key=lambda x: (x.status == LineStatus.CANCELLED, x.pk),
    )
    settled = [x for x in existing if x not in pending and x.status != LineStatus.CANCELLED]
    paid = money(sum((x.amount for x in settled), ZERO))
    difference = money(amount - paid)
    if old_row is None:
        old_row = settled[-1].policy_value if settled else base.policy_value
    for stale in pending[1:]:
        if stale.status != LineStatus.CANCELLED:
            _cancel(stale, "被后续更正取代")
    cited = new_row or old_row
    if pending:
        line = pending[0]
        if not difference:
            if line.status != LineStatus.CANCELLED:
                _cancel(line, "追溯调整后无差额")
                month.counts["cancelled"] += 1
            return None
        unchanged = line.amount == difference and line.policy_value_id == cited.pk
        if unchanged and line.status != LineStatus.CANCELLED:
            return None
        line.amount, line.policy_value, line.status = difference, cited, LineStatus.PENDING
        line.note = _note(old_row, new_row, month.period)
        line.inputs = _correction_inputs(line.inputs, paid, amount, old_row, new_row, month.reason)
        line.save(update_fields=["amount", "policy_value", "status", "note", "inputs"])
        month.counts["corrections"] += 1
        return None
    if not difference:
        return None
    month.counts["corrections"] += 1
    return PaymentLine(
        batch=month.adjustment_batch(base.batch.region_id),
        scheme_id=base.scheme_id,
        period=month.period,
        amount=difference,
        kind=LineKind.CORRECTION,
        policy_value=cited,
        corrects=base,
        note=_note(old_row, new_row, month.period),
        inputs=_correction_inputs(
            {
                "scheme": base.inputs.get("scheme"),
                "on": month.period.isoformat(),
                **(about or {}),
            },
            paid,
            amount,
            old_row,
            new_row,
            month.reason,
        ),
        **base.payee_columns,
    )


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


def _recompute_draft(month: _Month, base, owed: OwedLine | None, new_row) -> None:
    """A line not yet approved is what the month owes now: recomputed in place."""
    if owed is None:
        if base.status != LineStatus.CANCELLED:
            _cancel(base, f"{base.period:%Y-%m} 政策参数追溯调整后不应发放，审核前取消")
            month.counts["cancelled"] += 1
        return
    unchanged = base.amount == owed.amount and base.policy_value_id == new_row.pk
    if unchanged and base.status != LineStatus.CANCELLED:
        return
    old_row = base.policy_value
    base.amount, base.policy_value = owed.amount, new_row
    base.inputs = {
        **owed.inputs,
        "recomputed": {
            "old": _citation(old_row),
            "new": _citation(new_row),
            "reason": month.reason,
        },
    }
    if base.status == LineStatus.CANCELLED:
        base.status = LineStatus.PENDING
    base.save(update_fields=["amount", "policy_value", "inputs", "status"])
    month.counts["recomputed"] += 1


# --- facility grants --------------------------------------------------------------------------


def facility_grants(region: Region, start: datetime.date, end: datetime.date | None):
    """The facility grants of facilities within ``region`` whose rules were read from ``start``
    (to ``end``): those a revision from that day may change (facilities are few: the rule day
    is read per grant, subsidies.facility_rules.rules_on)."""
    from subsidies.facility_rules import rules_on
    from subsidies.models import FacilitySubsidy

    grants = FacilitySubsidy.objects.filter(
        facility__region__path__startswith=region.path
    ).select_related("facility__region", "line")
    return [
        grant
        for grant in grants.order_by("pk")
        if start <= rules_on(grant) and (end is None or rules_on(grant) <= end)
    ]


def correct_facility_chunk(job: CorrectionJob, chunk: CorrectionChunk) -> dict[str, int]:
    """The job's facility grants paid in the chunk's month (their line's), facilities of the
    chunk's id range: each read again by the rules now in force."""
    from subsidies.facility_rules import entitlement_now

    period = chunk.period
    grants = [
        grant
        for grant in facility_grants(job.region, job.start, job.end)
        if grant.line.period == period and chunk.id_from <= grant.facility_id <= chunk.id_to
    ]
    month = _Month(period, "facility_id", [], {}, {}, job.decided_on, job.reason)
    if not grants:
        return month.counts
    regions = list(Region.objects.filter(pk__in={grant.line.batch.region_id for grant in grants}))
    _lock_batches(regions, period)
    key = job.policy_value.key
    for grant in grants:
        lines = list(
            PaymentLine.objects.select_for_update(of=("self",))
            .filter(
                Q(pk=grant.line_id)
                | Q(corrects_id=grant.line_id, kind__in=[LineKind.RECOVERY, LineKind.CORRECTION])
            )
            .select_related("batch", "policy_value__region")
            .order_by("pk")
        )
        base = next(line for line in lines if line.pk == grant.line_id)
        try:
            granted = entitlement_now(grant)
        except ValidationError:
            granted = None  # the rules now pay nothing: a value no longer set
        read_before = set((base.inputs.get("policy_values") or {}).values())
        read_now = {row.pk for row in granted.read.values()} if granted else set()
        if not job.row_ids & (read_before | read_now | {base.policy_value_id}):
            continue
        new_row = granted.read.get(key) if granted else None
        old_row = _row_read_before(base, key) or job.replaced_value or job.policy_value
        if base.batch.is_draft:
            _recompute_facility_draft(month, grant, base, granted, old_row, new_row)
            continue
        about = {"facility": grant.facility.code, "year": grant.year, "facility_subsidy": grant.pk}
        amount = ZERO if granted is None else granted.amount
        added = _difference(month, base, lines, amount, new_row, old_row=old_row, about=about)
        if added is not None:
            added.save()
    return month.counts


def _row_read_before(line: PaymentLine, key: str) -> PolicyValue | None:
    """The row of ``key`` a grant's line was decided by (recorded with it; a line recorded
    before that names only its main row)."""
    pk = (line.inputs.get("policy_values") or {}).get(key)
    if pk is None and line.policy_value is not None and line.policy_value.key == key:
        return line.policy_value
    return PolicyValue.objects.select_related("region").filter(pk=pk).first() if pk else None


def _recompute_facility_draft(month: _Month, grant, base, granted, old_row, new_row) -> None:
    """A grant's line not yet approved is what the rules now give: recomputed in place, the
    grant's record with it; cancelled when they give nothing."""
    if granted is None:
        if base.status != LineStatus.CANCELLED:
            _cancel(base, f"{base.period:%Y-%m} 政策参数追溯调整后不应发放，审核前取消")
            month.counts["cancelled"] += 1
        return
    unchanged = base.amount == granted.amount and base.policy_value_id == getattr(
        granted.policy_value, "pk", None
    )
    if unchanged and base.status != LineStatus.CANCELLED:
        return
    inputs = {
        **base.inputs,
        **granted.inputs,
        "amount": str(granted.amount),
        "citation": granted.citation,
        "policy_values": {key: row.pk for key, row in sorted(granted.read.items())},
        "recomputed": {
            "old": _citation(old_row),
            "new": _citation(new_row),
            "reason": month.reason,
        },
    }
    base.amount, base.policy_value, base.inputs = granted.amount, granted.policy_value, inputs
    if base.status == LineStatus.CANCELLED:
        base.status = LineStatus.PENDING
    base.save(update_fields=["amount", "policy_value", "inputs", "status"])
    grant.amount, grant.cap, grant.policy_value = granted.amount, granted.cap, granted.policy_value
    grant.citation, grant.inputs = granted.citation[:300], inputs
    grant._change_reason = f"政策参数追溯调整：{month.reason}"[:100]
    grant.save(update_fields=["amount", "cap", "policy_value", "citation", "inputs"])
    month.counts["recomputed"] += 1
