"""The statistics a bureau reports upwards (统计监测 and 满意度测评, docs/policy.md §7 — 000
三(二), 002 三(二), 004 三(二)): per item of the list in force in an area, for a month or a
year, how many it is for, how many it reached and the rate (the coverage of
servicelist.coverage, read the same way), the money paid for it, and the mean satisfaction
with the number of answers; and the satisfaction with each provider.

Set-based: the coverage's few queries per item, then one query for the money and two for the
surveys, whatever the number of elders. An elder, a payment line and an answer belong to the
area where the elder lives (residence, else registration), as in the coverage.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from accounts.choices import AuditAction
from accounts.scoping import require_region_in_scope
from accounts.services import record_audit
from regions.models import Region
from servicelist.choices import ReachedThrough
from servicelist.coverage import CoverageRow, coverage, lives_in
from servicelist.models import SatisfactionSurvey
from servicelist.selectors import lineages

MEAN_PLACES = Decimal("0.01")
# The apps whose figures the statistics hold: a user must reach both for the area (a street
# office reads coverage, not payments; finance payments, not the lists).
APPS = ("servicelist", "subsidies")


def period_label(start: datetime.date, end: datetime.date) -> str:
    """``2024-06``, ``2024``, or ``2024-03 至 2024-05``."""
    if start.month == 1 and start.day == 1 and end == datetime.date(start.year, 12, 31):
        return f"{start.year}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%Y-%m}"
    return _("%(start)s 至 %(end)s") % {"start": f"{start:%Y-%m}", "end": f"{end:%Y-%m}"}


def _mean(total: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(MEAN_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Satisfaction:
    responses: int = 0
    total: int = 0

    @property
    def mean(self) -> Decimal | None:
        return _mean(self.total, self.responses)

    def __add__(self, other: Satisfaction) -> Satisfaction:
        return Satisfaction(self.responses + other.responses, self.total + other.total)


@dataclass(frozen=True)
class StatisticsRow:
    coverage: CoverageRow
    # The net amount of the item's payment lines; None for an item not paid in cash by the
    # allowance run (nothing to add up).
    paid: Decimal | None
    satisfaction: Satisfaction

    @property
    def item(self):
        return self.coverage.item


@dataclass(frozen=True)
class ProviderRow:
    provider: str
    satisfaction: Satisfaction


@dataclass(frozen=True)
class Statistics:
    region: Region
    start: datetime.date
    end: datetime.date
    rows: list[StatisticsRow]
    providers: list[ProviderRow]

    @property
    def period(self) -> str:
        return period_label(self.start, self.end)


def paid_by_scheme(region: Region, start: datetime.date, end: datetime.date, schemes) -> dict:
    """The net amount of the payment lines of ``schemes`` for the months of [start, end], to
    the elders of ``region``, by scheme: every kind of line (recoveries and corrections are
    negative, so the sum is net), except those not paid — held for want of the payee's
    account (or pending with none, which approval or export will hold), failed at the bank,
    or cancelled before approval. One query."""
    from subsidies.models import PaymentLine
    from subsidies.selectors import unpaid_q

    rows = (
        PaymentLine.objects.filter(
            scheme__code__in=sorted(schemes),
            period__gte=start,
            period__lte=end,
            elder__isnull=False,
        )
        .filter(lives_in(region, "elder__"))
        .exclude(unpaid_q())
        .values("scheme__code")
        .annotate(amount=Sum("amount"))
    )
    return {row["scheme__code"]: row["amount"] for row in rows}


def _answers(region: Region, start: datetime.date, end: datetime.date):
    return SatisfactionSurvey.objects.filter(surveyed_on__gte=start, surveyed_on__lte=end).filter(
        lives_in(region, "elder__")
    )


def satisfaction_by_item(region: Region, start: datetime.date, end: datetime.date) -> dict:
    """{item code: Satisfaction} of the answers about an item in [start, end] by the elders of
    ``region``. One query."""
    rows = (
        _answers(region, start, end)
        .filter(item__isnull=False)
        .values("item__code")
        .annotate(responses=Count("id"), total=Sum("score"))
    )
    return {r["item__code"]: Satisfaction(r["responses"], r["total"]) for r in rows}


def satisfaction_by_provider(
    region: Region, start: datetime.date, end: datetime.date
) -> list[ProviderRow]:
    """Each provider named in the answers of [start, end] by the elders of ``region``, by
    name. One query."""
    rows = (
        _answers(region, start, end)
        .exclude(provider_name="")
        .values("provider_name")
        .annotate(responses=Count("id"), total=Sum("score"))
        .order_by("provider_name")
    )
    return [ProviderRow(r["provider_name"], Satisfaction(r["responses"], r["total"])) for r in rows]


def service_statistics(region: Region, start: datetime.date, end: datetime.date) -> Statistics:
    """One row per item in force in ``region`` in [start, end], in the list's own order (its
    own items by number, then those it inherits, as the published list reads): the coverage
    (entitled, reached, rate), the money paid and the satisfaction. An answer about an item
    above that this one restates counts for it, as its deliveries do."""
    rows = coverage(region, start, end)
    items = [row.item for row in rows]
    cash = [i for i in items if i.reached_through == ReachedThrough.PAYMENT_LINE]
    schemes = {code for item in cash for code in item.schemes}
    paid = paid_by_scheme(region, start, end, schemes) if schemes else {}
    answers = satisfaction_by_item(region, start, end)
    codes = lineages(items)
    found = []
    for row in rows:
        item = row.item
        amount = None
        if item.reached_through == ReachedThrough.PAYMENT_LINE:
            amount = sum((paid.get(code, Decimal(0)) for code in item.schemes), Decimal("0.00"))
        about = sum(
            (answers.get(code, Satisfaction()) for code in codes[item.code]), Satisfaction()
        )
        found.append(StatisticsRow(row, amount, about))
    return Statistics(region, start, end, found, satisfaction_by_provider(region, start, end))


def export_statistics(
    region: Region,
    start: datetime.date,
    end: datetime.date,
    *,
    file_format: str,
    user=None,
    reason: str = "",
) -> tuple[Statistics, bytes]:
    """The statistics as a file for people (XLSX, or CSV with a byte-order mark for Excel),
    every cell through ``safe_cell``; only for an area the user reaches for both the lists
    and the payments (OutOfScope otherwise; ``user`` None is the system). Audited."""
    from servicelist.exports import statistics_file

    for app in APPS:
        require_region_in_scope(user, region, app=app)
    statistics = service_statistics(region, start, end)
    content = statistics_file(statistics, file_format)
    record_audit(
        user=user,
        action=AuditAction.EXPORT,
        object_type="service_statistics",
        object_id=region.code,
        reason=reason,
        details={"period": statistics.period, "format": file_format, "items": len(statistics.rows)},
    )
    return statistics, content
