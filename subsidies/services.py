"""Writes of the subsidies app: schemes, the allowance run, batches, exports, reconciliation.

The run is set-based: a run is planned once (rates resolved per rate region, never per elder),
then processed in chunks of elder ids. On PostgreSQL a chunk's lines are written by one
INSERT … SELECT … ON CONFLICT DO NOTHING that applies the same rules in SQL (subsidies/setbased.py;
no elder row travels to Python). Elsewhere, and for arrears, each chunk reads its elders with one
``values_list`` query (plus one for their categories), decides eligibility in Python over those
rows and writes its lines with ``bulk_create(ignore_conflicts=True)``. Either way the unique
constraint on (scheme, period, elder) makes every rerun add only what is missing. A chunk's lines
and its "done" mark commit together.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from accounts.scoping import require_in_scope
from regions.models import Region
from regions.selectors import resolve_policy
from residents.models import Elder, ElderCategory
from residents.selectors import latest_assessment_levels
from subsidies import rules, setbased
from subsidies.choices import (
    BatchKind,
    BatchState,
    ChunkStatus,
    Eligibility,
    ExportFormat,
    LineKind,
    LineStatus,
    RunStatus,
)
from subsidies.models import (
    AllowanceRun,
    AllowanceRunChunk,
    BankReturnImport,
    BatchExport,
    PaymentBatch,
    PaymentLine,
    Scheme,
    money,
)
from subsidies.periods import check_period
from subsidies.permissions import STAR_RATES_ARE_THE_BUREAUS, can_set_star_rates
from subsidies.selectors import (
    ARREARS_KEY,
    orphaned_chunks_q,
    payee_id_number,
    period_plan,
    stall_cutoffs,
)

logger = logging.getLogger(__name__)
SCHEMES_FILE = Path(__file__).resolve().parent / "data" / "schemes.toml"
DEFAULT_CHUNK_SIZE = 20000
INSERT_BATCH_SIZE = 2000
SCHEME_FIELDS = (
    "label",
    "policy_key",
    "period_kind",
    "payee",
    "eligibility",
    "min_age",
    "max_age",
    "all_from_age",
    "categories",
    "ability_levels",
    "citation",
)


# --- schemes ---------------------------------------------------------------------------------


@transaction.atomic
def load_schemes(path: Path = SCHEMES_FILE) -> dict[str, int]:
    """Upsert the scheme definitions of the data file (idempotent)."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("scheme", [])
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for index, entry in enumerate(entries, start=1):
        try:
            jurisdiction = Region.objects.get(code=entry["jurisdiction"])
        except Region.DoesNotExist:
            raise ValidationError(
                f"scheme entry {index} (jurisdiction): no region {entry['jurisdiction']}"
            )
        values = {field: entry.get(field) for field in SCHEME_FIELDS}
        values["categories"] = values["categories"] or []
        values["ability_levels"] = values["ability_levels"] or []
        values["jurisdiction"] = jurisdiction
        scheme = Scheme.objects.filter(code=entry["code"]).first()
        if scheme is None:
            scheme = Scheme(code=entry["code"], **values)
            status = "created"
        elif any(getattr(scheme, f) != v for f, v in values.items()):
            for field, value in values.items():
                setattr(scheme, field, value)
            status = "updated"
        else:
            counts["unchanged"] += 1
            continue
        scheme.full_clean()
        scheme.save()
        counts[status] += 1
    return counts


def _ensure_schemes() -> list[Scheme]:
    if not Scheme.objects.exists():
        load_schemes()
    return list(Scheme.objects.filter(is_active=True).select_related("jurisdiction"))


# --- batches ---------------------------------------------------------------------------------


def _regular_batch(region: Region, period: datetime.date) -> PaymentBatch:
    batch, _ = PaymentBatch.objects.get_or_create(
        region=region, period=period, kind=BatchKind.REGULAR
    )
    return batch


def _draft_adjustment_batch(region: Region | int, period: datetime.date) -> PaymentBatch:
    region_id = region if isinstance(region, int) else region.pk
    batch, _ = PaymentBatch.objects.get_or_create(
        region_id=region_id, period=period, kind=BatchKind.ADJUSTMENT, state=BatchState.DRAFT
    )
    return batch


def _draft_batch_for(region_id: int, period: datetime.date) -> PaymentBatch:
    """Where new lines for (region, period) go: the regular batch while it is a draft, else
    the draft adjustment batch. Lines are only ever added to draft batches."""
    regular = PaymentBatch.objects.filter(
        region_id=region_id, period=period, kind=BatchKind.REGULAR, state=BatchState.DRAFT
    ).first()
    return regular or _draft_adjustment_batch(region_id, period)


@transaction.atomic
def approve_batch(*, batch: PaymentBatch, by) -> PaymentBatch:
    """Finance approves a draft batch; from then on its lines are never edited."""
    if not by.has_perm("subsidies.approve_paymentbatch"):
        raise ValidationError({"approved_by": "只有财务人员可以审核支付批次。"})
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != BatchState.DRAFT:
        raise ValidationError({"state": f"批次状态为“{batch.get_state_display()}”，不能重复审核。"})
    # The runs that write into this batch: its own, and any of its region and month not yet
    # planned. One not done (running, stalled, or failed last) leaves the batch incomplete.
    runs = AllowanceRun.objects.filter(
        Q(batch=batch) | Q(region_id=batch.region_id, period=batch.period, batch__isnull=True)
    )
    if runs.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).exists():
        raise ValidationError({"state": "该批次的发放运行尚未完成，不能审核。"})
    latest = runs.order_by("-created_at", "-pk").first()
    if latest is not None and latest.status == RunStatus.FAILED:
        raise ValidationError(
            {
                "state": f"该批次最近一次发放运行（#{latest.pk}）失败，批次可能不完整，不能审核："
                "请先在“津贴发放运行”中续跑或重新运行。"
            }
        )
    batch.state = BatchState.APPROVED
    batch.approved_by = by
    batch.approved_at = timezone.now()
    batch.full_clean()
    batch.save()
    return batch


# --- the run: request, plan, chunks, finish --------------------------------------------------


@transaction.atomic
def request_allowance_run(
    *,
    region: Region,
    period: datetime.date,
    by=None,
    sync: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AllowanceRun:
    """Start the run of ``period`` for elders registered in ``region``: in-process when
    ``sync``, else queued on Celery once this transaction commits."""
    period = check_period(period)
    run = AllowanceRun(region=region, period=period, requested_by=by, chunk_size=chunk_size)
    require_in_scope(by, run, field="region", label=f"{region.name}的津贴发放")
    run.full_clean()
    run.save()
    if sync:
        prepare_run(run_id=run.pk)
        for chunk_id in run.chunks.values_list("pk", flat=True):
            process_chunk(chunk_id=chunk_id)
        finish_run(run_id=run.pk)
        run.refresh_from_db()
    else:
        _queue_prepare(run)
    return run


def _arrears_plans(run: AllowanceRun, schemes: list[Scheme]) -> tuple[list[dict], dict]:
    """Plans for the earlier months an elder registered late may be owed (in adjustment
    lines): months whose run was done before the elder was registered, as far back as the
    rulebook's ``allowance_arrears_months``."""
    window = resolve_policy(ARREARS_KEY, run.region, run.period)
    if not window.is_set:
        return [], {"arrears": f"{ARREARS_KEY}: {window.not_set_reason}"}
    covering = [r.pk for r in run.region.ancestors_and_self()]
    plans = []
    for back in range(1, int(window.value) + 1):
        period = rules.add_months(run.period, -back)
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
        plan = period_plan(run.region, period, schemes)
        if plan["payable"]:
            plan["registered_after"] = first_run.isoformat()
            plans.append(plan)
    return plans, {"arrears_months": int(window.value)}


@transaction.atomic
def start_run(*, run_id: int, queue: str = "") -> int:
    """What the queued run does first: plan it and queue its chunks on ``queue`` once this
    commits (a run with no elders is finished at once). A run already planned is left alone
    (a redelivered message). Returns the number of chunks queued."""
    chunk_ids = prepare_run(run_id=run_id, queue=queue)
    run = AllowanceRun.objects.get(pk=run_id)
    _queue_chunks(run, chunk_ids)
    if not chunk_ids:
        finish_run(run_id=run_id)
    return len(chunk_ids)


@transaction.atomic
def prepare_run(*, run_id: int, queue: str = "") -> list[int]:
    """Resolve the plan, open the regular batch and cut the elders into id-range chunks."""
    run = (
        AllowanceRun.objects.select_for_update(of=("self",)).select_related("region").get(pk=run_id)
    )
    if run.status != RunStatus.PENDING:
        return []
    run.queue = queue
    schemes = _ensure_schemes()
    plan = period_plan(run.region, run.period, schemes)
    arrears, arrears_note = _arrears_plans(run, schemes)
    run.plan = {"main": plan, "arrears": arrears}
    run.batch = _regular_batch(run.region, run.period)
    bounds = Elder.objects.filter(hukou_region__path__startswith=run.region.path).aggregate(
        low=Min("id"), high=Max("id")
    )
    chunks = []
    if bounds["low"] is not None:
        for start in range(bounds["low"], bounds["high"] + 1, run.chunk_size):
            end = min(start + run.chunk_size - 1, bounds["high"])
            chunks.append(AllowanceRunChunk(run=run, id_from=start, id_to=end))
    AllowanceRunChunk.objects.bulk_create(chunks)
    run.chunks_total = len(chunks)
    run.status = RunStatus.RUNNING
    run.started_at = timezone.now()
    run.report = {
        "period": run.period.strftime("%Y-%m"),
        "region": run.region.code,
        "skipped_schemes": plan["skipped"],
        "not_due_this_month": plan["not_due"],
        "arrears_periods": [p["period"][:7] for p in arrears],
        **arrears_note,
    }
    if not plan["payable"] and not plan.get("caregiver_payable"):
        run.report["empty"] = (
            "no scheme is in force with an amount for this region and month: the batch is empty"
        )
    if plan.get("caregiver_payable"):
        caregiver_lines = _caregiver_lines(run)
        PaymentLine.objects.bulk_create(
            caregiver_lines, batch_size=INSERT_BATCH_SIZE, ignore_conflicts=True
        )
        run.report["caregiver_lines_added"] = len(caregiver_lines)
    run.save()
    return list(run.chunks.values_list("pk", flat=True))


def _caregiver_lines(run: AllowanceRun) -> list[PaymentLine]:
    """Lines of the caregiver schemes (docs/policy.md §1 — 003 安吉县实施意见 §15: 养老护理员特殊岗位
    津贴, not less than 400 a month to each certified caregiver): every caregiver who, on the 1st
    of the month, holds a valid skill certificate and is employed at an active facility in the
    run's region, paid once (the nearest rate region of their first employment decides).
    Caregivers are few next to elders: one query for employments, one for certificates, one for
    what is already paid when the regular batch is approved."""
    from facilities.choices import CertificateKind
    from facilities.models import Certificate, Employment

    on = run.period
    nodes = run.plan["main"]["nodes"]  # deepest first
    certified = (
        Certificate.objects.filter(kind=CertificateKind.CAREGIVER_SKILL, issued_on__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("caregiver_id", "-issued_on")
        .values_list("caregiver_id", "grade", "number")
    )
    certificates: dict[int, tuple[str, str]] = {}
    for caregiver_id, grade, number in certified:
        certificates.setdefault(caregiver_id, (grade, number))
    employments = (
        Employment.objects.filter(
            start_date__lte=on,
            caregiver_id__in=list(certificates),
            facility__is_active=True,
            facility__region__path__startswith=run.region.path,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .order_by("caregiver_id", "start_date", "id")
        .values_list("caregiver_id", "facility__code", "facility__region__path", "start_date")
    )
    regular_is_draft = run.batch.state == BatchState.DRAFT
    lines, seen = [], set()
    for caregiver_id, facility_code, path, start in employments:
        if caregiver_id in seen:
            continue
        seen.add(caregiver_id)
        node = next((n for n in nodes if path.startswith(n["path"])), None)
        for entry in (node or {}).get("caregiver_schemes", []):
            grade, number = certificates[caregiver_id]
            lines.append(
                PaymentLine(
                    batch_id=run.batch_id,
                    scheme_id=entry["scheme_id"],
                    period=on,
                    caregiver_id=caregiver_id,
                    amount=Decimal(entry["amount"]),
                    kind=LineKind.NORMAL if regular_is_draft else LineKind.ARREARS,
                    policy_value_id=entry["policy_value_id"],
                    inputs={
                        "scheme": entry["scheme"],
                        "rule": "certified caregiver (skill certificate valid on the 1st) "
                        "employed on the 1st at a facility of the jurisdiction",
                        "rulebook_key": entry["key"],
                        "policy_value_id": entry["policy_value_id"],
                        "amount": entry["amount"],
                        "citation": entry["citation"],
                        "source_region": entry["source_region"],
                        "rate_region": node["region"],
                        "on": on.isoformat(),
                        "facility": facility_code,
                        "employed_since": start.isoformat(),
                        "certificate_grade": grade,
                        "certificate_number": number,
                    },
                )
            )
    if not regular_is_draft and lines:
        paid = set(
            PaymentLine.objects.filter(
                period=on,
                caregiver_id__in=seen,
                kind__in=[LineKind.NORMAL, LineKind.ARREARS],
            ).values_list("scheme_id", "caregiver_id")
        )
        lines = [line for line in lines if (line.scheme_id, line.caregiver_id) not in paid]
        if lines:
            adjustment = _draft_adjustment_batch(run.region_id, on)
            for line in lines:
                line.batch_id = adjustment.pk
    return lines


@dataclass(frozen=True)
class _PlannedScheme:
    scheme_id: int
    amount: Decimal
    policy_value_id: int
    conditions: rules.SchemeConditions
    inputs: dict  # the scheme's share of each line's inputs


def _compile(plan: dict) -> list[tuple[str, list[_PlannedScheme]]]:
    compiled = []
    for node in plan["nodes"]:
        schemes = []
        for entry in node["schemes"]:
            c = entry["conditions"]
            conditions = rules.SchemeConditions(
                eligibility=c["eligibility"],
                min_age=c["min_age"],
                max_age=c["max_age"],
                all_from_age=c["all_from_age"],
                categories=frozenset(c["categories"]),
                ability_levels=frozenset(c["ability_levels"]),
            )
            schemes.append(
                _PlannedScheme(
                    scheme_id=entry["scheme_id"],
                    amount=Decimal(entry["amount"]),
                    policy_value_id=entry["policy_value_id"],
                    conditions=conditions,
                    inputs={
                        "scheme": entry["scheme"],
                        "rule": rules.rule_text(conditions),
                        "rulebook_key": entry["key"],
                        "policy_value_id": entry["policy_value_id"],
                        "amount": entry["amount"],
                        "citation": entry["citation"],
                        "source_region": entry["source_region"],
                        "rate_region": node["region"],
                    },
                )
            )
        compiled.append((node["path"], schemes))
    return compiled  # deepest first, as planned


class _NodeMatcher:
    """Region of registration → the nearest planned rate region (by path prefix)."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.cache: dict[int, tuple[str, list[_PlannedScheme]] | None] = {}

    def load(self, region_ids: set[int]) -> None:
        missing = region_ids - self.cache.keys()
        if not missing:
            return
        for region_id, path in Region.objects.filter(pk__in=missing).values_list("id", "path"):
            self.cache[region_id] = next(
                (node for node in self.compiled if path.startswith(node[0])), None
            )

    def __getitem__(self, region_id: int):
        return self.cache.get(region_id)


def _lines_for(
    *,
    rows,
    categories: dict[int, frozenset[str]],
    levels: dict[int, str],
    matcher: _NodeMatcher,
    regions: dict[int, str],
    period: datetime.date,
    batch_id: int,
    kind: str,
) -> list[PaymentLine]:
    lines = []
    on = period.isoformat()
    for elder_id, birth_date, region_id, pension_type, death_date in rows:
        if not rules.is_alive_on(death_date, period):
            continue
        node = matcher[region_id]
        if node is None or not node[1]:
            continue
        facts = rules.ElderFacts(
            age=rules.age_on(birth_date, period),
            categories=categories.get(elder_id, frozenset()),
            pension_type=pension_type,
            ability_level=levels.get(elder_id),
        )
        for planned in node[1]:
            if not rules.is_eligible(planned.conditions, facts):
                continue
            lines.append(
                PaymentLine(
                    batch_id=batch_id,
                    scheme_id=planned.scheme_id,
                    period=period,
                    elder_id=elder_id,
                    amount=planned.amount,
                    kind=kind,
                    policy_value_id=planned.policy_value_id,
                    inputs={
                        **planned.inputs,
                        "on": on,
                        "age": facts.age,
                        "birth_date": birth_date.isoformat(),
                        "categories": sorted(facts.categories),
                        "pension_type": pension_type,
                        "ability_level": facts.ability_level,
                        "hukou_region": regions.get(region_id, ""),
                    },
                )
            )
    return lines


def _needs_levels(plan: dict) -> bool:
    return any(
        s["conditions"]["eligibility"] == Eligibility.NURSING_TIER
        for node in plan["nodes"]
        for s in node["schemes"]
    )


def _held_on(periods, on: datetime.date) -> frozenset[str]:
    return frozenset(c for c, start, end in periods if start <= on and (end is None or end >= on))


ELDER_FIELDS = ("id", "birth_date", "hukou_region_id", "pension_type", "death_date")


def _chunk_elders(run: AllowanceRun, chunk: AllowanceRunChunk):
    return Elder.objects.filter(
        id__gte=chunk.id_from, id__lte=chunk.id_to, hukou_region__path__startswith=run.region.path
    )


def _set_based(run: AllowanceRun) -> bool:
    """Whether the chunk's main lines are written by one INSERT … SELECT (PostgreSQL, and
    the usual case: something to pay and the regular batch still a draft). Otherwise, and for
    arrears, the lines are decided in Python."""
    return (
        setbased.available() and run.plan["main"]["payable"] and run.batch.state == BatchState.DRAFT
    )


def _chunk_lines(run: AllowanceRun, chunk: AllowanceRunChunk) -> tuple[int, list[PaymentLine]]:
    elders = _chunk_elders(run, chunk)
    fields = ELDER_FIELDS
    lines: list[PaymentLine] = []
    main = run.plan["main"]
    seen = 0
    if main["payable"]:
        on = run.period
        rows = list(elders.filter(rules_alive_q(on)).values_list(*fields))
        seen = len(rows)
        held: dict[int, set[str]] = {}
        for elder_id, category in (
            ElderCategory.objects.filter(elder__in=elders, start_date__lte=on)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
            .values_list("elder_id", "category")
        ):
            held.setdefault(elder_id, set()).add(category)
        categories = {k: frozenset(v) for k, v in held.items()}
        levels = latest_assessment_levels(list(categories), on) if _needs_levels(main) else {}
        matcher = _NodeMatcher(_compile(main))
        region_ids = {r[2] for r in rows}
        matcher.load(region_ids)
        regions = dict(Region.objects.filter(pk__in=region_ids).values_list("id", "code"))
        regular_is_draft = run.batch.state == BatchState.DRAFT
        found = _lines_for(
            rows=rows,
            categories=categories,
            levels=levels,
            matcher=matcher,
            regions=regions,
            period=on,
            batch_id=run.batch_id,
            kind=LineKind.NORMAL if regular_is_draft else LineKind.ARREARS,
        )
        if not regular_is_draft:
            # The regular batch is approved: what is still missing (an elder registered since)
            # goes into the draft adjustment batch, which is opened only if there is any.
            found = _missing(found, chunk)
            if found:
                adjustment = _draft_adjustment_batch(run.region_id, on)
                for line in found:
                    line.batch_id = adjustment.pk
        lines += found
    else:
        seen = elders.count()
    lines += _chunk_arrears(run, chunk, elders, fields)
    return seen, lines


def rules_alive_q(on: datetime.date) -> Q:
    return Q(death_date__isnull=True) | Q(death_date__gte=on)


def _chunk_arrears(
    run: AllowanceRun, chunk: AllowanceRunChunk, elders, fields
) -> list[PaymentLine]:
    plans = run.plan.get("arrears") or []
    if not plans:
        return []
    earliest = min(datetime.datetime.fromisoformat(p["registered_after"]) for p in plans)
    rows = list(elders.filter(created_at__gte=earliest).values_list(*fields, "created_at"))
    if not rows:
        return []
    ids = [r[0] for r in rows]
    periods: dict[int, list] = {}
    for elder_id, category, start, end in ElderCategory.objects.filter(
        elder_id__in=ids
    ).values_list("elder_id", "category", "start_date", "end_date"):
        periods.setdefault(elder_id, []).append((category, start, end))
    region_ids = {r[2] for r in rows}
    regions = dict(Region.objects.filter(pk__in=region_ids).values_list("id", "code"))
    lines = []
    for plan in plans:
        period = datetime.date.fromisoformat(plan["period"])
        after = datetime.datetime.fromisoformat(plan["registered_after"])
        late = [r[:5] for r in rows if r[5] >= after]
        categories = {e: _held_on(periods.get(e, []), period) for e, *_ in late}
        levels = latest_assessment_levels(ids, period) if _needs_levels(plan) else {}
        matcher = _NodeMatcher(_compile(plan))
        matcher.load(region_ids)
        lines += _lines_for(
            rows=late,
            categories=categories,
            levels=levels,
            matcher=matcher,
            regions=regions,
            period=period,
            batch_id=None,
            kind=LineKind.ARREARS,
        )
    lines = _missing(lines, chunk)
    if lines:
        batch = _draft_adjustment_batch(run.region_id, run.period)
        for line in lines:
            line.batch_id = batch.pk
    return lines


def _missing(lines: list[PaymentLine], chunk: AllowanceRunChunk) -> list[PaymentLine]:
    """The lines whose (scheme, period, elder) has no payment yet (one query per chunk)."""
    if not lines:
        return lines
    paid = set(
        PaymentLine.objects.filter(
            elder_id__gte=chunk.id_from,
            elder_id__lte=chunk.id_to,
            period__in={line.period for line in lines},
            kind__in=[LineKind.NORMAL, LineKind.ARREARS],
        ).values_list("scheme_id", "period", "elder_id")
    )
    return [line for line in lines if (line.scheme_id, line.period, line.elder_id) not in paid]


def process_chunk(*, chunk_id: int) -> bool:
    """Claim one chunk, write its lines and mark it done, beating its heartbeat meanwhile.

    Returns whether all the run's chunks are now done, so that the caller finishes the run —
    also when this chunk was already done: a chunk redelivered after its commit (its worker
    died before finishing the run) must still finish it. Safe to run twice at once: the lines
    are kept unique by their constraints and only the first "done" mark counts."""
    run_id = _claim_chunk(chunk_id)
    if run_id is None:
        run_id = AllowanceRunChunk.objects.values_list("run_id", flat=True).get(pk=chunk_id)
        return run_is_complete(run_id=run_id)
    _pause_point("chunk_claimed")
    with _Heartbeat(chunk_id):
        _write_chunk(chunk_id)
    _pause_point("chunk_committed")
    complete = run_is_complete(run_id=run_id)
    if complete:
        _pause_point("run_complete")  # the last chunk is committed, the run not yet finished
    return complete


def run_is_complete(*, run_id: int) -> bool:
    """Whether every chunk of a run is done (the run is then finished by whoever sees it)."""
    run = AllowanceRun.objects.values("status", "chunks_done", "chunks_total").get(pk=run_id)
    return run["status"] == RunStatus.RUNNING and run["chunks_done"] >= run["chunks_total"]


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_chunk(chunk_id: int) -> int | None:
    """Mark the chunk as taken by this process; None when there is nothing to do (the chunk is
    done, or its run is not running — failed runs wait for a resume). A chunk claimed by a
    worker that died is taken over: a redelivered task is how the broker says so."""
    with transaction.atomic():
        chunk = (
            AllowanceRunChunk.objects.select_for_update(of=("self",))
            .select_related("run")
            .get(pk=chunk_id)
        )
        if chunk.status == ChunkStatus.DONE or chunk.run.status != RunStatus.RUNNING:
            return None
        if chunk.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS:
            _fail_for_attempts(chunk)
            return None
        now = timezone.now()
        chunk.status = ChunkStatus.RUNNING
        chunk.claimed_at = chunk.heartbeat_at = now
        chunk.attempts += 1
        chunk.worker = _worker_name()
        chunk.save(update_fields=["status", "claimed_at", "heartbeat_at", "attempts", "worker"])
        return chunk.run_id


def _write_chunk(chunk_id: int) -> None:
    """The chunk's lines and its "done" mark, in one transaction. The chunk row is not locked
    while the lines are written (the heartbeat updates it meanwhile); the mark is a conditional
    update, so a second writer of the same chunk counts nothing twice."""
    with transaction.atomic():
        chunk = AllowanceRunChunk.objects.select_related("run__region", "run__batch").get(
            pk=chunk_id
        )
        if chunk.status == ChunkStatus.DONE:
            return
        run = chunk.run
        if _set_based(run):
            seen, _ = setbased.insert_chunk_lines(
                run=run,
                chunk=chunk,
                compiled=_compile(run.plan["main"]),
                needs_levels=_needs_levels(run.plan["main"]),
            )
            lines = _chunk_arrears(run, chunk, _chunk_elders(run, chunk), ELDER_FIELDS)
        else:
            seen, lines = _chunk_lines(run, chunk)
        PaymentLine.objects.bulk_create(lines, batch_size=INSERT_BATCH_SIZE, ignore_conflicts=True)
        _pause_point("chunk_written")
        now = timezone.now()
        marked = (
            AllowanceRunChunk.objects.filter(pk=chunk_id)
            .exclude(status=ChunkStatus.DONE)
            .update(status=ChunkStatus.DONE, elders_seen=seen, done_at=now, heartbeat_at=now)
        )
        if marked:
            AllowanceRun.objects.filter(pk=run.pk).update(
                chunks_done=F("chunks_done") + 1, elders_seen=F("elders_seen") + seen
            )


class _Heartbeat:
    """While a chunk is written, a thread stamps its ``heartbeat_at`` every
    ALLOWANCE_RUN_HEARTBEAT_SECONDS (on its own connection, outside the chunk's transaction),
    so the sweep can tell a slow chunk from a dead worker's. Not started inside a surrounding
    transaction (a run in-process has no worker to lose, and the row is not yet visible)."""

    def __init__(self, chunk_id: int):
        self.chunk_id = chunk_id
        self.worker = _worker_name()
        self.stop = threading.Event()
        self.thread = None

    def __enter__(self):
        if not transaction.get_connection().in_atomic_block:
            self.thread = threading.Thread(target=self._beat, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(settings.ALLOWANCE_RUN_HEARTBEAT_SECONDS):
                try:
                    AllowanceRunChunk.objects.filter(
                        pk=self.chunk_id, status=ChunkStatus.RUNNING, worker=self.worker
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError as error:
                    # A beat that could not be written (the row busy, the connection lost) is
                    # only late: the next one tries again, and the chunk's own transaction is
                    # not touched. Too many missed beats and the sweep re-queues the chunk,
                    # which is harmless.
                    logger.warning("heartbeat of chunk %s not written: %s", self.chunk_id, error)
                    connection.close()
        finally:
            connection.close()


def _pause_point(name: str) -> None:
    """A named point of the run where the tests that kill a worker pause it (test settings
    only: ALLOWANCE_RUN_PAUSE_AT="name" or "name:n" for its n-th passage, and
    ALLOWANCE_RUN_PAUSE_FILE). The process writes its pid beside the file and sleeps until the
    test kills it with SIGKILL. Unset everywhere else: the point is then one attribute read."""
    wanted = getattr(settings, "ALLOWANCE_RUN_PAUSE_AT", "")
    if not wanted or wanted.split(":")[0] != name:
        return
    nth = int(wanted.split(":")[1]) if ":" in wanted else 1
    path = Path(settings.ALLOWANCE_RUN_PAUSE_FILE)
    with open(path, "a") as passages:  # one line per passage, appended atomically
        passages.write(f"{os.getpid()}\n")
    if len(path.read_text().splitlines()) == nth:
        Path(f"{path}.pid").write_text(str(os.getpid()))
        time.sleep(60)


def release_chunk(*, chunk_id: int, error: str) -> bool:
    """A chunk's task raised: record the error and give the claim back. Returns whether to try
    again; after ALLOWANCE_RUN_MAX_ATTEMPTS the run is marked failed with the reason."""
    with transaction.atomic():
        chunk = (
            AllowanceRunChunk.objects.select_for_update(of=("self",))
            .select_related("run")
            .get(pk=chunk_id)
        )
        if chunk.status == ChunkStatus.DONE:
            return False
        chunk.error = error[:2000]
        if chunk.status == ChunkStatus.RUNNING:
            chunk.status = ChunkStatus.PENDING
        chunk.queued_at = timezone.now()
        chunk.save(update_fields=["status", "error", "queued_at"])
        if chunk.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS:
            _fail_for_attempts(chunk)
            return False
        return chunk.run.status == RunStatus.RUNNING


def _fail_for_attempts(chunk: AllowanceRunChunk) -> None:
    last = f"，最近错误：{chunk.error}" if chunk.error else "（处理进程在处理中中断）"
    fail_run(
        run_id=chunk.run_id,
        error=(
            f"分块 {chunk.id_from}–{chunk.id_to} 已尝试 {chunk.attempts} 次仍未完成"
            f"（最近处理进程 {chunk.worker or '未知'}）{last}。修复原因后可在后台“续跑”。"
        ),
    )


@transaction.atomic
def finish_run(*, run_id: int) -> AllowanceRun:
    """Mark a run whose chunks are all done as done, with its totals (idempotent: called by
    whoever completes the last chunk, by a redelivered chunk and by the sweep)."""
    run = AllowanceRun.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.RUNNING or run.batch_id is None:
        return run  # not running, or not planned yet
    if run.chunks.exclude(status=ChunkStatus.DONE).exists():
        return run
    from subsidies.selectors import batch_grand_total

    count, amount = batch_grand_total(run.batch)
    run.lines_total = count
    run.report = {**run.report, "batch_lines": count, "batch_amount": str(amount)}
    adjustment = PaymentBatch.objects.filter(
        region_id=run.region_id,
        period=run.period,
        kind=BatchKind.ADJUSTMENT,
        state=BatchState.DRAFT,
    ).first()
    if adjustment is not None:
        adj_count, adj_amount = batch_grand_total(adjustment)
        run.report["adjustment_batch"] = {
            "id": adjustment.pk,
            "lines": adj_count,
            "amount": str(adj_amount),
        }
    run.status = RunStatus.DONE
    run.finished_at = timezone.now()
    run.error = ""
    run.save()
    return run


@transaction.atomic
def fail_run(*, run_id: int, error: str) -> None:
    """Mark a run failed with the reason shown in the admin (a done run stays done)."""
    AllowanceRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(
        status=RunStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )


# --- the run's recovery: the sweep and resume --------------------------------------------------


def _queue_chunks(run: AllowanceRun, chunk_ids: list[int]) -> None:
    """Queue chunks (after commit) on the run's queue, stamping when."""
    from subsidies import tasks

    if not chunk_ids:
        return
    AllowanceRunChunk.objects.filter(pk__in=chunk_ids).update(queued_at=timezone.now())
    options = {"queue": run.queue} if run.queue else {}
    for chunk_id in chunk_ids:
        transaction.on_commit(
            lambda chunk_id=chunk_id: tasks.process_allowance_chunk.apply_async(
                (chunk_id,), **options
            )
        )


def _queue_prepare(run: AllowanceRun) -> None:
    from subsidies import tasks

    AllowanceRun.objects.filter(pk=run.pk).update(queued_at=timezone.now())
    task = tasks.prepare_allowance_run
    if run.queue:
        transaction.on_commit(lambda: task.apply_async((run.pk,), queue=run.queue))
    else:
        transaction.on_commit(lambda: task.delay(run.pk))


def _orphaned_chunks(run_id: int, now: datetime.datetime):
    return AllowanceRunChunk.objects.filter(run_id=run_id).filter(orphaned_chunks_q(now))


def sweep_allowance_runs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Bring stuck runs back (beat runs this every minute; idempotent, safe to run anywhere):

    - chunks claimed by a worker that died (no heartbeat for ALLOWANCE_RUN_STALL_SECONDS) and
      chunks whose message was lost are queued again — or, after ALLOWANCE_RUN_MAX_ATTEMPTS
      claims, their run is marked failed with the reason;
    - runs whose chunks are all done are finished (their finishing worker died);
    - runs queued but never prepared (the message was lost) are queued again.
    """
    now = now or timezone.now()
    lost_before = stall_cutoffs(now)[1]
    counts = {"requeued": 0, "failed": 0, "finished": 0, "prepared": 0}
    running = list(
        AllowanceRun.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
    )
    for run_id in running:
        with transaction.atomic():
            run = AllowanceRun.objects.select_for_update().get(pk=run_id)
            if run.status != RunStatus.RUNNING:
                continue
            orphans = list(_orphaned_chunks(run.pk, now).select_for_update(of=("self",)))
            exhausted = [c for c in orphans if c.attempts >= settings.ALLOWANCE_RUN_MAX_ATTEMPTS]
            if exhausted:
                _fail_for_attempts(exhausted[0])
                counts["failed"] += 1
                continue
            for chunk in orphans:
                chunk.status = ChunkStatus.PENDING
                chunk.save(update_fields=["status"])
            _queue_chunks(run, [c.pk for c in orphans])
            counts["requeued"] += len(orphans)
        if run_is_complete(run_id=run_id) and finish_run(run_id=run_id).status == RunStatus.DONE:
            counts["finished"] += 1
    never_prepared = AllowanceRun.objects.filter(status=RunStatus.PENDING).filter(
        Q(queued_at__lt=lost_before) | Q(queued_at__isnull=True, created_at__lt=lost_before)
    )
    for run in never_prepared:
        with transaction.atomic():
            _queue_prepare(run)
        counts["prepared"] += 1
    return counts


def may_resume(user, run: AllowanceRun) -> bool:
    """Finance or the bureau of the run's region (or a superuser) may resume it."""
    from accounts.choices import Role
    from accounts.scoping import scope_of

    scope = scope_of(user)
    if scope.everything:
        return True
    if scope.read_only or not scope.covers_region(run.region, "subsidies"):
        return False
    return any(
        role in (Role.FINANCE, Role.BUREAU) and run.region.path.startswith(path)
        for role, path in scope.region_grants
    )


def _resumed(run: AllowanceRun, by, now: datetime.datetime, chunks: int) -> dict:
    """What the run's report keeps of a resume: who, when, how much, and the error it cleared."""
    return {"at": now.isoformat(), "by": by.get_username(), "chunks": chunks, "error": run.error}


@transaction.atomic
def resume_run(*, run: AllowanceRun, by) -> int:
    """Queue again the unfinished chunks of a stalled or failed run that no live worker holds
    (their attempts counted afresh), and finish it if nothing is left. Returns how many chunks
    were queued. A run that is done, or running with live workers, is refused as such, so
    resuming twice queues nothing twice."""
    if not may_resume(by, run):
        raise ValidationError({"run": f"无权续跑运行 #{run.pk}（{run.region.name}）。"})
    run = (
        AllowanceRun.objects.select_for_update(of=("self",)).select_related("region").get(pk=run.pk)
    )
    now = timezone.now()
    if run.status == RunStatus.DONE:
        raise ValidationError({"run": f"运行 #{run.pk} 已完成，无需续跑。"})
    if run.status == RunStatus.PENDING:
        if (run.queued_at or run.created_at) >= stall_cutoffs(now)[1]:
            raise ValidationError({"run": f"运行 #{run.pk} 正在排队，无需续跑。"})
        _queue_prepare(run)
        return 0
    if run.started_at is None:
        # Failed while being planned (nothing of it was written): planned again from the start.
        run.report = {
            **run.report,
            "resumed": [*run.report.get("resumed", []), _resumed(run, by, now, 0)],
        }
        run.status, run.error, run.finished_at = RunStatus.PENDING, "", None
        run.save(update_fields=["report", "status", "error", "finished_at"])
        _queue_prepare(run)
        return 0
    dead_before, _ = stall_cutoffs(now)
    unfinished = AllowanceRunChunk.objects.select_for_update().filter(run=run)
    unfinished = unfinished.exclude(status=ChunkStatus.DONE)
    if run.status == RunStatus.FAILED:
        # Every chunk not held by a live worker: a failed run's queued messages were dropped.
        chosen = list(unfinished.exclude(status=ChunkStatus.RUNNING, heartbeat_at__gte=dead_before))
    else:
        chosen = list(_orphaned_chunks(run.pk, now).select_for_update(of=("self",)))
        if not chosen and not run_is_complete(run_id=run.pk):
            raise ValidationError({"run": f"运行 #{run.pk} 正在正常运行，无需续跑。"})
    for chunk in chosen:
        chunk.status = ChunkStatus.PENDING
        chunk.attempts = 0
        chunk.save(update_fields=["status", "attempts"])
    run.report = {
        **run.report,
        "resumed": [*run.report.get("resumed", []), _resumed(run, by, now, len(chosen))],
    }
    run.status = RunStatus.RUNNING
    run.error = ""
    run.finished_at = None
    run.save(update_fields=["report", "status", "error", "finished_at"])
    _queue_chunks(run, [c.pk for c in chosen])
    finish_run(run_id=run.pk)  # nothing left to do: finished now
    return len(chosen)


# --- export and reconciliation ----------------------------------------------------------------


def export_batch(*, batch: PaymentBatch, fmt: str, output: Path, by=None) -> BatchExport:
    """Write the batch's file(s) for the bank and record the export (who, when, checksum).

    Only approved (or already exported) batches are exported: a draft may still change."""
    from accounts.choices import AuditAction
    from accounts.services import record_audit
    from subsidies import exporting
    from subsidies.selectors import batch_grand_total

    if fmt not in ExportFormat.values:
        raise ValidationError({"format": f"格式 {fmt!r} 不支持，应为 csv 或 xlsx。"})
    if batch.state == BatchState.DRAFT:
        raise ValidationError({"state": "批次尚未审核，不能导出。"})
    output = Path(output)
    writer = exporting.write_csv if fmt == ExportFormat.CSV else exporting.write_xlsx
    writer(batch, output)
    count, amount = batch_grand_total(batch)
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        record = BatchExport(
            batch=batch,
            format=fmt,
            file_name=output.name,
            sha256=exporting.sha256_of(output),
            line_count=count,
            total_amount=amount,
            exported_by=by if by is not None and by.is_authenticated else None,
        )
        record.full_clean()
        record.save()
        if batch.state == BatchState.APPROVED:
            batch.state = BatchState.EXPORTED
            batch.exported_at = timezone.now()
            batch.save(update_fields=["state", "exported_at"])
        record_audit(
            user=by,
            action=AuditAction.EXPORT,
            object_type="subsidies.PaymentBatch",
            object_id=str(batch.pk),
            details={"format": fmt, "file": output.name, "sha256": record.sha256, "lines": count},
        )
    return record


BANK_STATUSES = {"paid": LineStatus.PAID, "failed": LineStatus.FAILED}


@dataclass(frozen=True)
class BankReturnRow:
    row: int  # line number in the file, header = 1
    reference: str
    id_number: str
    status: str
    bank_reference: str
    message: str = ""


@transaction.atomic
def reconcile_batch(
    *, batch: PaymentBatch, rows: list[BankReturnRow], file_name: str, sha256: str, by=None
) -> BankReturnImport:
    """Apply the bank's return file: each row names a line (reference) or a person (ID
    number: all their lines in the batch) as paid or failed. Failed lines are re-issued in the
    next draft batch of the region. All rows are checked first; any error and nothing is
    written. The batch is reconciled once every line has an outcome."""
    require_in_scope(by, batch, as_changed=False)
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state not in (BatchState.EXPORTED, BatchState.RECONCILED):
        raise ValidationError({"state": "只有已导出的批次可以对账。"})
    lines = live_lines_of(batch)
    by_reference = {f"PL{pk:010d}": pk for pk in lines.values_list("pk", flat=True)}
    by_person: dict[str, list[int]] = {}
    for pk, id_number in lines.annotate(payee_id_number=payee_id_number()).values_list(
        "pk", "payee_id_number"
    ):
        by_person.setdefault((id_number or "").upper(), []).append(pk)
    outcomes: dict[int, BankReturnRow] = {}
    errors = []
    for row in rows:
        status = row.status.strip().lower()
        if status not in BANK_STATUSES:
            errors.append(f"第{row.row}行 status：{row.status!r} 应为 paid 或 failed")
            continue
        if row.reference:
            targets = [by_reference.get(row.reference.strip().upper())]
        else:
            targets = by_person.get(row.id_number.strip().upper(), [None])
        if None in targets:
            field = "reference" if row.reference else "id_number"
            errors.append(f"第{row.row}行 {field}：本批次中没有该明细或该身份证号")
            continue
        for pk in targets:
            outcomes[pk] = row
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    changed = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(pk__in=outcomes)
        .select_related("batch")
    )
    failed = []
    for line in changed:
        row = outcomes[line.pk]
        line.status = BANK_STATUSES[row.status.strip().lower()]
        line.bank_reference = row.bank_reference.strip()[:64]
        line.bank_message = row.message.strip()[:200]
        line.reconciled_at = now
        if line.status == LineStatus.FAILED:
            failed.append(line)
    PaymentLine.objects.bulk_update(
        changed, ["status", "bank_reference", "bank_message", "reconciled_at"], batch_size=2000
    )
    if failed:
        target = _draft_batch_for(batch.region_id, rules.add_months(batch.period, 1))
        PaymentLine.objects.bulk_create(
            [
                PaymentLine(
                    batch=target,
                    scheme_id=line.scheme_id,
                    period=line.period,
                    elder_id=line.elder_id,
                    caregiver_id=line.caregiver_id,
                    facility_id=line.facility_id,
                    amount=line.amount,
                    kind=LineKind.REISSUE,
                    policy_value_id=line.policy_value_id,
                    corrects=line,
                    inputs={**line.inputs, "reissues_line": line.pk},
                    note=f"银行退回：{line.bank_message}"[:200],
                )
                for line in failed
                if line.amount > 0
            ],
            ignore_conflicts=True,
        )
    if not lines.filter(status=LineStatus.PENDING).exists():
        batch.state = BatchState.RECONCILED
        batch.reconciled_at = now
        batch.save(update_fields=["state", "reconciled_at"])
    record = BankReturnImport(
        batch=batch,
        file_name=file_name,
        sha256=sha256,
        paid_count=sum(1 for r in outcomes.values() if r.status.strip().lower() == "paid"),
        failed_count=len(failed),
        imported_by=by if by is not None and by.is_authenticated else None,
    )
    record.full_clean()
    record.save()
    return record


def live_lines_of(batch: PaymentBatch):
    return batch.lines.exclude(status=LineStatus.CANCELLED)


# --- death: cancel undue draft lines, recover paid ones ---------------------------------------


@transaction.atomic
def handle_elder_death(*, elder: Elder, death_date: datetime.date) -> dict[str, int]:
    """Months after the death are not due (eligibility is "alive on the 1st"). Their lines
    still in a draft batch are cancelled (kept, not paid); lines in an approved batch are never
    edited: a recovery line (negative) goes into this month's draft adjustment batch."""
    undue = (
        PaymentLine.objects.select_for_update(of=("self",))
        .filter(elder=elder, period__gt=death_date)
        .exclude(kind=LineKind.RECOVERY)
        .exclude(status__in=[LineStatus.FAILED, LineStatus.CANCELLED])
        .select_related("batch")
    )
    cancelled, recoveries = [], []
    this_month = rules.first_of_month(timezone.localdate())
    for line in undue:
        if line.batch.is_draft:
            cancelled.append(line.pk)
            continue
        if line.corrections.filter(kind=LineKind.RECOVERY).exists():
            continue
        recoveries.append(
            PaymentLine(
                batch=_draft_adjustment_batch(line.batch.region_id, this_month),
                scheme_id=line.scheme_id,
                period=line.period,
                elder=elder,
                amount=-line.amount,
                kind=LineKind.RECOVERY,
                policy_value_id=line.policy_value_id,
                corrects=line,
                note=f"死亡日期 {death_date}，{line.period:%Y-%m} 不应发放",
                inputs={"death_date": death_date.isoformat(), "recovers_line": line.pk},
            )
        )
    PaymentLine.objects.filter(pk__in=cancelled).update(
        status=LineStatus.CANCELLED, note=f"死亡日期 {death_date}，审核前取消"
    )
    PaymentLine.objects.bulk_create(recoveries, ignore_conflicts=True)
    return {"cancelled": len(cancelled), "recovered": len(recoveries)}


# --- facilities: operating subsidies, one-off grants, insurance premiums ----------------------


def _paying_county(region: Region) -> Region:
    """Facility subsidies are paid in the batch of the facility's county (区县), the level
    that pays them; a facility registered above county level is paid by its own region."""
    from regions.choices import RegionLevel

    return next(
        (r for r in reversed(region.ancestors_and_self()) if r.level == RegionLevel.COUNTY),
        region,
    )


@transaction.atomic
def set_star_subsidy_rate(
    *,
    jurisdiction: Region,
    stars: int,
    amount: Decimal,
    effective_from: datetime.date,
    note: str = "",
    by=None,
):
    """The bureau enters its table of yearly operating subsidies by star level; an amount
    above the rulebook cap in force that day is refused, naming the cap and its source, and so
    is a writer who is not a bureau over the jurisdiction (subsidies.permissions; finance
    reads the table but does not set it)."""
    from subsidies.models import StarSubsidyRate

    require_in_scope(
        by,
        StarSubsidyRate(jurisdiction=jurisdiction, stars=stars, effective_from=effective_from),
        field="jurisdiction",
        label=f"{jurisdiction.name}的星级运营补助标准",
    )
    if by is not None and not can_set_star_rates(by, jurisdiction):
        raise ValidationError({"jurisdiction": STAR_RATES_ARE_THE_BUREAUS})
    amount = check_star_rate_cap(
        jurisdiction=jurisdiction, amount=amount, effective_from=effective_from
    )
    rate, _ = StarSubsidyRate.objects.get_or_create(
        jurisdiction=jurisdiction,
        stars=stars,
        effective_from=effective_from,
        defaults={"amount": amount, "note": note},
    )
    rate.amount, rate.note = amount, note
    if by is not None and getattr(by, "is_authenticated", False):
        rate._history_user = by
    rate.full_clean()
    rate.save()
    return rate


def check_star_rate_cap(*, jurisdiction: Region, amount: Decimal, effective_from: datetime.date):
    """The amount, rounded to money, or ValidationError naming the cap and its source."""
    from subsidies.facility_rules import XIHU_CAP_KEY

    cap = resolve_policy(XIHU_CAP_KEY, jurisdiction, effective_from)
    if not cap.is_set:
        raise ValidationError({"jurisdiction": f"{XIHU_CAP_KEY}: {cap.not_set_reason}"})
    amount = money(amount)
    if amount > cap.value:
        raise ValidationError(
            {
                "amount": f"{amount} 元超过运营补助上限 {money(cap.value)} 元"
                f"（{XIHU_CAP_KEY}，{cap.source_region.name}，{cap.citation}）。"
            }
        )
    return amount


@transaction.atomic
def grant_facility_subsidy(
    *,
    facility,
    kind: str,
    year: int,
    amount: Decimal | None = None,
    assessment_passed: bool | None = None,
    terminal_sets: int | None = None,
    premium: Decimal | None = None,
    period: datetime.date | None = None,
    by=None,
):
    """Grant a facility subsidy within its cap (subsidies.facility_rules) and put its payment
    line in the draft batch of the facility's county for ``period`` (default: this month).
    A request above the cap, a second one for the same year (one-off: ever), or one whose
    rule needs a value the rulebook does not set is refused, and nothing is written."""
    from subsidies import facility_rules
    from subsidies.choices import ONE_OFF_FACILITY_SUBSIDIES, FacilitySubsidyKind
    from subsidies.models import FacilitySubsidy

    require_in_scope(
        by, FacilitySubsidy(facility=facility), field="facility", label=f"{facility.name}的补助"
    )
    if kind not in FacilitySubsidyKind.values:
        raise ValidationError({"kind": f"补助类型 {kind!r} 不存在。"})
    today = timezone.localdate()
    if not 2000 <= int(year) <= today.year + 1:
        raise ValidationError({"year": f"年度 {year} 不在有效范围内。"})
    existing = FacilitySubsidy.objects.filter(facility=facility, kind=kind)
    if kind not in ONE_OFF_FACILITY_SUBSIDIES:
        existing = existing.filter(year=year)
    if existing.exists():
        raise ValidationError(
            {
                "kind": f"{facility.name}已获得{FacilitySubsidyKind(kind).label}（{year}年或一次性）。"
            }
        )
    granted = facility_rules.entitlement(
        facility=facility,
        kind=kind,
        on=facility_rules.rule_date(int(year), today),
        amount=amount,
        assessment_passed=assessment_passed,
        terminal_sets=terminal_sets,
        premium=premium,
    )
    scheme = Scheme.objects.filter(code=granted.scheme_code).first()
    if scheme is None:
        load_schemes()
        scheme = Scheme.objects.get(code=granted.scheme_code)
    period = rules.first_of_month(period or today)
    county = _paying_county(facility.region)
    regular = _regular_batch(county, period)
    line = PaymentLine(
        batch=regular if regular.is_draft else _draft_adjustment_batch(county, period),
        scheme=scheme,
        period=period,
        facility=facility,
        amount=granted.amount,
        policy_value=granted.policy_value,
        inputs={
            **granted.inputs,
            "scheme": scheme.code,
            "facility": facility.code,
            "facility_kind": facility.kind,
            "year": int(year),
            "amount": str(granted.amount),
            "citation": granted.citation,
            "requested_amount": None if amount is None else str(money(amount)),
        },
    )
    line.save()
    subsidy = FacilitySubsidy(
        facility=facility,
        kind=kind,
        year=year,
        scheme=scheme,
        amount=granted.amount,
        requested_amount=None if amount is None else money(amount),
        cap=granted.cap,
        citation=granted.citation[:300],
        policy_value=granted.policy_value,
        inputs=line.inputs,
        line=line,
        requested_by=by if by is not None and by.is_authenticated else None,
    )
    subsidy.full_clean()
    subsidy.save()
    return subsidy


# --- schedule ----------------------------------------------------------------------------------

SCHEDULED_RUN_TASK = "subsidies.scheduled_allowance_run"


@transaction.atomic
def schedule_monthly_run(*, region: Region, day: int, hour: int = 2, enabled: bool = True):
    """Create or update the django-celery-beat PeriodicTask that runs ``region``'s monthly
    allowance run on ``day`` of every month at ``hour`` (Asia/Shanghai). The day can then be
    changed in the admin (定时任务 → 周期任务), where the task appears under its name."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if not 1 <= int(day) <= 28:
        # Every month has a 28th: a later day would skip February.
        raise ValidationError({"day": f"发放日 {day} 应在1至28之间。"})
    if not 0 <= int(hour) <= 23:
        raise ValidationError({"hour": f"时刻 {hour} 应在0至23之间。"})
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour=str(hour),
        day_of_month=str(day),
        month_of_year="*",
        day_of_week="*",
        timezone="Asia/Shanghai",
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"津贴月度发放 {region.code} {region.name}",
        defaults={
            "task": SCHEDULED_RUN_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([region.code]),
            "enabled": enabled,
        },
    )
    return task


__all__ = [
    "schedule_monthly_run",
    "grant_facility_subsidy",
    "set_star_subsidy_rate",
    "approve_batch",
    "finish_run",
    "handle_elder_death",
    "load_schemes",
    "money",
    "prepare_run",
    "process_chunk",
    "request_allowance_run",
]
