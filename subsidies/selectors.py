"""Reads of the payment batches and of the allowance runs' health (the run's plan is
subsidies.run.rates')."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext

from regions.models import Region
from residents.id_numbers import mask_id_number
from subsidies.choices import (
    BatchKind,
    ChunkStatus,
    LineStatus,
    PaymentChannel,
    RunHealth,
    RunStatus,
)
from subsidies.models import (
    BatchExport,
    CorrectionJob,
    PayeeAccount,
    PaymentBatch,
    PaymentLine,
    money,
)

NOT_PAID_HERE = [LineStatus.CANCELLED, LineStatus.HELD]


def live_lines(batch: PaymentBatch) -> QuerySet[PaymentLine]:
    """The lines to pay: cancelled lines are kept for the record and held lines (no account)
    until their account is added, neither is paid in this batch."""
    return batch.lines.exclude(status__in=NOT_PAID_HERE)


# --- what is paid and what is held: the one rule of every total shown ------------------------


def needs_account_q() -> Q:
    """Lines (a PaymentLine filter) paid into an account: payments (a recovery takes money
    back), of a scheme not credited to the 爱心卡 (the platform knows the elder by ID number)."""
    return Q(amount__gt=0) & ~Q(scheme__channel=PaymentChannel.CARE_CARD)


def without_account_q() -> Q:
    """Lines whose payee has no account: the insurer of an insured elder's premium, else the
    line's person or facility."""
    return (
        Q(insurer__isnull=False, insurer__payee_account__isnull=True)
        | Q(insurer__isnull=True, elder__isnull=False, elder__payee_account__isnull=True)
        | Q(caregiver__isnull=False, caregiver__payee_account__isnull=True)
        | Q(facility__isnull=False, facility__payee_account__isnull=True)
    )


def _channel_then(payee: str) -> Case:
    """Inside a BatchExport subquery of a line: the channel of the line's ``payee``'s account
    as the accounts' history had it when that file was written (None: no account then). An
    account written without history (loaded in bulk) is read from what is known: its
    deletion after the file keeps the channel it had, and with no record at all it is the
    account as it is."""
    history = PayeeAccount.history.model.objects.filter(
        **{f"{payee}_id": OuterRef(OuterRef(f"{payee}_id"))}
    )
    then = OuterRef("exported_at")
    before = (
        history.filter(history_date__lte=then)
        .order_by("-history_date", "-history_id")
        .annotate(
            then=Case(
                When(history_type="-", then=Value(None)),
                default=F("channel"),
                output_field=CharField(),
            )
        )
    )
    deleted_after = (
        history.filter(history_date__gt=then)
        .order_by("history_date", "history_id")
        .annotate(
            then=Case(
                When(history_type="-", then=F("channel")),
                default=Value(None),
                output_field=CharField(),
            )
        )
    )
    now = PayeeAccount.objects.filter(**{f"{payee}_id": OuterRef(OuterRef(f"{payee}_id"))})
    return Case(
        When(
            Exists(history.filter(history_date__lte=then)), then=Subquery(before.values("then")[:1])
        ),
        When(Exists(history), then=Subquery(deleted_after.values("then")[:1])),
        default=Subquery(now.values("channel")[:1]),
        output_field=CharField(),
    )


def exported_before_q() -> Q:
    """Lines that a file of their batch already carried: a file of every channel, or of the
    channel the line had when it was written (its scheme's, else its payee's account's then —
    the insurer's for a premium). Such a line went to the bank: it is never held afterwards
    and every later file of its batch carries it again, so that the bank's return matches.
    (A batch never exported is answered by its own column, before any subquery runs.)"""
    exports = BatchExport.objects.filter(batch_id=OuterRef("batch_id"))
    everything = Q(channel="") | Q(channel=OuterRef("scheme__channel"))
    own = Coalesce(_channel_then("elder"), _channel_then("caregiver"), _channel_then("facility"))
    return Q(batch__exported_at__isnull=False) & (
        (
            Q(insurer__isnull=False)
            & Exists(exports.filter(everything | Q(channel=_channel_then("insurer"))))
        )
        | (Q(insurer__isnull=True) & Exists(exports.filter(everything | Q(channel=own))))
    )


def _payees_changed_after(when: datetime.datetime) -> Q:
    """Lines whose payee's account was created, changed or deleted after ``when`` (the
    accounts' history, read by its date: a handful of payees, not the batch's lines)."""
    history = PayeeAccount.history.model.objects.filter(history_date__gt=when)

    def changed(kind):
        return Q(
            **{f"{kind}_id__in": history.filter(**{f"{kind}__isnull": False}).values(f"{kind}_id")}
        )

    return (Q(insurer__isnull=False) & changed("insurer")) | (
        Q(insurer__isnull=True) & (changed("elder") | changed("caregiver") | changed("facility"))
    )


# A line's payee columns, the paid one first (an insured elder's premium pays the insurer).
PAYEE_KINDS_OF_ROW = ("insurer", "elder", "caregiver", "facility")


def carried_channels(batch: PaymentBatch) -> dict[int, str | None]:
    """The lines of ``batch`` that a file carried in a channel other than the one their
    payee's account gives now (changed or removed since): line id → the channel of the first
    file that carried it (None: a file of every channel carried it without an account). A
    file of one channel follows this, not the account as it is now, so that it carries the
    same lines as before and no line is sent in two channels."""
    exports = list(
        BatchExport.objects.filter(batch=batch)
        .order_by("exported_at", "pk")
        .values_list("channel", "exported_at")
    )
    if not exports:
        return {}
    rows = list(
        live_lines(batch)
        .filter(needs_account_q())
        .filter(_payees_changed_after(exports[0][1]))
        .values_list("pk", "insurer_id", "elder_id", "caregiver_id", "facility_id")
    )
    if not rows:
        return {}

    def payee(row) -> tuple[str, int]:
        """The paid payee of a row: the insurer of a premium, else the person or facility."""
        return next((k, pk) for k, pk in zip(PAYEE_KINDS_OF_ROW, row[1:], strict=True) if pk)

    payees = {payee(row) for row in rows}
    by_kind: dict[str, set[int]] = {}
    for kind, pk in payees:
        by_kind.setdefault(kind, set()).add(pk)
    which = Q(pk__in=[])
    for kind, pks in by_kind.items():
        which |= Q(**{f"{kind}_id__in": pks})
    timeline: dict[tuple[str, int], list] = {}
    history = PayeeAccount.history.model.objects.filter(which).order_by(
        "history_date", "history_id"
    )
    for record in history.values(
        *[f"{k}_id" for k in by_kind], "channel", "history_type", "history_date"
    ):
        kind = next(k for k in by_kind if record[f"{k}_id"])
        timeline.setdefault((kind, record[f"{kind}_id"]), []).append(
            (record["history_date"], record["channel"], record["history_type"] == "-")
        )
    now = {
        (kind, account[f"{kind}_id"]): account["channel"]
        for kind, pks in by_kind.items()
        for account in PayeeAccount.objects.filter(**{f"{kind}_id__in": pks}).values(
            f"{kind}_id", "channel"
        )
    }

    def channel_then(key, at):
        """As _channel_then reads it: the last record by ``at``; without one, the channel a
        deletion after it kept; with no record at all, the account as it is."""
        records = timeline.get(key, [])
        if not records:
            return now.get(key)
        then, known = None, False
        for date, value, deleted in records:
            if date > at:
                return then if known else (value if deleted else None)
            then, known = (None if deleted else value), True
        return then

    moved = {}
    for row in rows:
        key = payee(row)
        for channel, at in exports:
            then = channel_then(key, at)
            if channel in ("", then):
                if then != now.get(key):
                    moved[row[0]] = then
                break
    return moved


# The kinds of payee, each with the lines it is paid (an insured elder's premium is the
# insurer's).
PAYEE_OF_LINE = (
    ("insurer", Q(insurer__isnull=False)),
    ("elder", Q(insurer__isnull=True, elder__isnull=False)),
    ("caregiver", Q(caregiver__isnull=False)),
    ("facility", Q(facility__isnull=False)),
)


def unpayable_q() -> Q:
    """Pending lines that cannot be paid as they stand: they go to an account, their payee
    has none, and no file carried them yet. Approval and export hold them
    (subsidies.payees.hold_lines_without_account); until then every total counts them as held,
    never as paid. (unpayable_parts reads the same lines faster.)"""
    return (
        Q(status=LineStatus.PENDING)
        & needs_account_q()
        & without_account_q()
        & ~exported_before_q()
    )


def held_q() -> Q:
    """Lines held for want of an account: held already, or pending ones that approval or
    export will hold (unpayable_q: whoever the payee is, an insurer included)."""
    return Q(status=LineStatus.HELD) | unpayable_q()


def unpaid_q() -> Q:
    """Lines that paid nothing, for whoever counts money that went out (the service list's
    coverage and statistics): failed at the bank, cancelled, or held (held_q)."""
    return Q(status__in=[LineStatus.FAILED, LineStatus.CANCELLED]) | held_q()


def unpayable_parts(lines: QuerySet[PaymentLine]) -> list[QuerySet[PaymentLine]]:
    """unpayable_q's lines among ``lines``, one query per kind of payee: each an anti-join
    of the pending lines with the accounts (an OR of the four kinds would look every line's
    account up one by one)."""
    pending = lines.filter(status=LineStatus.PENDING).filter(needs_account_q())
    parts = []
    for kind, which in PAYEE_OF_LINE:
        without = Q(**{f"{kind}__payee_account__isnull": True})
        # The files' history is read inside a CASE on the joined account, so the database
        # asks it only of the lines without one (a plain condition on the line would be
        # evaluated for every pending line of an exported batch, before the join).
        never_exported = Case(
            When(without & exported_before_q(), then=Value(False)),
            default=Value(True),
            output_field=BooleanField(),
        )
        parts.append(pending.filter(which, without).filter(never_exported))
    return parts


@dataclass(frozen=True)
class Money:
    count: int = 0
    amount: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class PayableAndHeld:
    """Lines to pay, and lines held for want of an account (held already, or pending ones
    that would be: unpayable_q). Cancelled lines are in neither."""

    payable: Money = Money()
    held: Money = Money()


def payable_and_held(
    lines: QuerySet[PaymentLine], by: tuple[str, ...] = ()
) -> dict[tuple, PayableAndHeld]:
    """The one rule for every total shown (batch pages, the line review, the batch API, the
    dashboard): per value of ``by`` (names of PaymentLine values; none: one key, ``()``), what
    is payable and what is held. Two queries: the lines by status, and the unpayable ones
    among them, moved from payable to held."""
    held = Q(status=LineStatus.HELD)
    sums = {
        "n": Count("id", filter=~held),
        "total": Sum("amount", filter=~held),
        "held_n": Count("id", filter=held),
        "held_total": Sum("amount", filter=held),
    }
    live = lines.exclude(status=LineStatus.CANCELLED).order_by()
    if by:
        rows = list(live.values(*by).annotate(**sums))
    else:
        rows = [live.aggregate(**sums)]
        if not rows[0]["n"] and not rows[0]["held_n"]:
            return {}
    moved: dict[tuple, tuple[int, Decimal]] = {}
    for part in unpayable_parts(lines.order_by()):
        found = (
            part.values(*by).annotate(n=Count("id"), total=Sum("amount"))
            if by
            else [part.aggregate(n=Count("id"), total=Sum("amount"))]
        )
        for r in found:
            if r["n"]:
                key = tuple(r[k] for k in by)
                n, total = moved.get(key, (0, Decimal("0")))
                moved[key] = (n + r["n"], total + r["total"])
    result = {}
    for row in rows:
        key = tuple(row[k] for k in by)
        n, total = moved.get(key, (0, Decimal("0")))
        result[key] = PayableAndHeld(
            payable=Money(row["n"] - n, money((row["total"] or Decimal("0")) - total)),
            held=Money(row["held_n"] + n, money((row["held_total"] or Decimal("0")) + total)),
        )
    return result


def batch_money_annotations() -> dict:
    """The same rule for a list of batches (one row each, correlated subqueries, so only the
    rows shown are totalled): ``payable_count``, ``payable_amount``, ``held_count`` and
    ``held_amount`` as PaymentBatch annotations."""
    lines = PaymentLine.objects.filter(batch=OuterRef("pk")).order_by().values("batch")

    def count(of):
        return Coalesce(Subquery(of.annotate(n=Count("id")).values("n")[:1]), 0)

    def amount(of):
        return Coalesce(
            Subquery(of.annotate(total=Sum("amount")).values("total")[:1]), Decimal("0")
        )

    live = lines.exclude(status__in=NOT_PAID_HERE)
    held = lines.filter(status=LineStatus.HELD)
    parts = unpayable_parts(lines)
    unpayable_count = sum((count(part) for part in parts[1:]), count(parts[0]))
    unpayable_amount = sum((amount(part) for part in parts[1:]), amount(parts[0]))
    return {
        "payable_count": count(live) - unpayable_count,
        "payable_amount": amount(live) - unpayable_amount,
        "held_count": count(held) + unpayable_count,
        "held_amount": amount(held) + unpayable_amount,
    }


def batch_payable_and_held(batch: PaymentBatch) -> PayableAndHeld:
    return payable_and_held(batch.lines.all()).get((), PayableAndHeld())


def batch_totals(batch: PaymentBatch) -> list[dict]:
    """Per scheme: count and amount of the lines to pay (payable_and_held)."""
    split = payable_and_held(batch.lines.all(), ("scheme__code", "scheme__label"))
    return [
        {
            "scheme": code,
            "label": label,
            "count": money_of.payable.count,
            "amount": money_of.payable.amount,
        }
        for (code, label), money_of in sorted(split.items())
        if money_of.payable.count
    ]


def batch_grand_total(batch: PaymentBatch) -> tuple[int, Decimal]:
    """Count and amount of the lines to pay (held and cancelled lines are not paid here)."""
    payable = batch_payable_and_held(batch).payable
    return payable.count, payable.amount


def batch_held_total(batch: PaymentBatch) -> tuple[int, Decimal]:
    """Count and amount of the lines held for want of the payee's account (held already, or
    that approval or export will hold): not paid and in no total, shown beside the totals
    (paid once the account is added, subsidies.payees)."""
    held = batch_payable_and_held(batch).held
    return held.count, held.amount


def payee_id_number():
    """The payee's identifier for the bank: an insurer's unified social credit code (for the
    premiums it is paid), the elder's or caregiver's ID number, or the facility's credit code
    (its facility code when it has none)."""
    return Coalesce(
        "insurer__uscc",
        "elder__id_number",
        "caregiver__id_number",
        NullIf("facility__uscc", Value("")),
        "facility__code",
    )


def payee_name():
    return Coalesce("insurer__name", "elder__name", "caregiver__name", "facility__name")


def payee_identifier(payee) -> str:
    """A payee as a page or an answer shows it: a person's ID number masked (PIPL), an
    organisation's credit code (or code) as it is."""
    id_number = getattr(payee, "id_number", "")
    if id_number:
        return mask_id_number(id_number)
    return getattr(payee, "uscc", "") or getattr(payee, "code", "")


def paid_together_q(region: Region) -> Q:
    """Rows (batches, runs, jobs) of regions within ``region`` or above it: those whose runs
    pay its elders, or whose elders a change to its rules pays."""
    return Q(region__path__startswith=region.path) | Q(region__in=region.ancestors_and_self())


def correction_not_done_for(batch: PaymentBatch) -> CorrectionJob | None:
    """A correction job not done yet (queued, running or failed) that may still write into
    ``batch``: of its region or one above or below it, whose months include the batch's (a
    regular batch; its months are those whose 1st is on or after the job's start, or whose
    facility grants were decided on or after it), or any
    (a draft adjustment batch, where differences go)."""
    from subsidies.periods import add_months

    jobs = CorrectionJob.objects.exclude(status=RunStatus.DONE).filter(
        paid_together_q(batch.region)
    )
    if batch.kind == BatchKind.REGULAR:
        # A facility grant's line is in the month its rules were read in, from mid-month on.
        jobs = jobs.filter(start__lt=add_months(batch.period, 1)).filter(
            Q(end__isnull=True) | Q(end__gte=batch.period)
        )
    return jobs.order_by("pk").first()


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
            return RunHealth.STALLED, gettext("排队后一直未开始（消息丢失），巡检将重新排队。")
        return RunHealth.QUEUED, ""
    if not hasattr(run, "orphaned_chunks"):
        run = runs_with_health(type(run).objects.filter(pk=run.pk), now).get()
    if run.orphaned_chunks:
        return (
            RunHealth.STALLED,
            gettext("%(n)s 个分块的处理进程已中断（无心跳或消息丢失），巡检将重新排队。")
            % {"n": run.orphaned_chunks},
        )
    last = run.last_heartbeat or run.started_at
    if run.chunks_done >= run.chunks_total and last is not None and last < dead_before:
        return RunHealth.STALLED, gettext("分块已全部完成但未收尾，巡检将完成该运行。")
    return RunHealth.RUNNING, ""
