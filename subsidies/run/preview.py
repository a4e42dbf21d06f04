"""What the run would pay, without writing anything: the preview a bureau reads before a
change to a rate takes effect (who is affected and the money difference for the next run).

The lines are decided by the run's own code (``plan_period`` and the chunk statement the run
writes, read here without writing by ``subsidies.run.lines.owed_lines``); the change itself is
applied by the rulebook's own service inside a savepoint that is rolled back, so the preview
reads exactly what saving would make the run read.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils.translation import gettext

from regions.models import PolicyValue, Region
from residents.models import Elder
from subsidies.choices import Payee
from subsidies.models import Scheme
from subsidies.periods import add_months
from subsidies.run.caregivers import owed_caregiver_lines
from subsidies.run.lines import owed_lines
from subsidies.run.rates import plan_period
from subsidies.schemes import active_schemes

CHUNK = 20_000


def _month_lines(
    region: Region, period: datetime.date, payee: str = Payee.ELDER
) -> dict[tuple[int, int], Decimal]:
    """{(payee, scheme): amount} the run would pay for the month ``period`` (its first day):
    to the elders registered in ``region``, or (``payee`` caregiver) to the certified
    caregivers employed at its facilities (subsidies.run.caregivers.owed_caregiver_lines)."""
    plan = plan_period(region, period, active_schemes())
    paid: dict[tuple[int, int], Decimal] = {}
    if payee == Payee.CAREGIVER:
        owed, _paths = owed_caregiver_lines(region, plan)
        return {key: line.amount for key, line in owed.items()}
    if not plan.payable:
        return paid
    bounds = Elder.objects.filter(hukou_region__path__startswith=region.path).aggregate(
        low=Min("id"), high=Max("id")
    )
    if bounds["low"] is None:
        return paid
    for start in range(bounds["low"], bounds["high"] + 1, CHUNK):
        owed = owed_lines(plan, region_path=region.path, id_from=start, id_to=start + CHUNK - 1)
        paid.update((key, line.amount) for key, line in owed.items())
    return paid


def _by_payee(lines: dict[tuple[int, int], Decimal]) -> dict[int, dict[int, Decimal]]:
    grouped: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for (payee, scheme), amount in lines.items():
        grouped[payee][scheme] = amount
    return grouped


@dataclass(frozen=True)
class ChangePreview:
    period: datetime.date  # the month the comparison is made for
    region: Region  # the region whose registered elders (or whose caregivers) are compared
    affected: int  # payees whose lines or amounts differ
    lines_before: int
    lines_after: int
    amount_before: Decimal
    amount_after: Decimal
    payee: str = Payee.ELDER  # who the compared lines pay: elders or caregivers

    @property
    def difference(self) -> Decimal:
        return self.amount_after - self.amount_before

    @property
    def elders_affected(self) -> int:
        return self.affected if self.payee == Payee.ELDER else 0

    @property
    def caregivers_affected(self) -> int:
        return self.affected if self.payee == Payee.CAREGIVER else 0

    def describe(self) -> str:
        """The comparison in a sentence, as the admin shows it beside a revision."""
        if self.payee == Payee.CAREGIVER:
            who = gettext("%(region)s机构的持证养老护理员") % {"region": self.region.name}
        else:
            who = gettext("%(region)s户籍老年人") % {"region": self.region.name}
        return gettext(
            "%(month)s，%(who)s：受影响 %(affected)s 人；明细 %(lines_before)s → %(lines_after)s 条；"
            "金额 %(amount_before)s → %(amount_after)s 元（%(difference)s 元）"
        ) % {
            "month": gettext("%(year)s年%(month)s月")
            % {"year": self.period.year, "month": f"{self.period.month:02d}"},
            "who": who,
            "affected": self.affected,
            "lines_before": self.lines_before,
            "lines_after": self.lines_after,
            "amount_before": f"{self.amount_before:,.2f}",
            "amount_after": f"{self.amount_after:,.2f}",
            "difference": f"{self.difference:+,.2f}",
        }


def _payee_of(key: str) -> str:
    """Caregivers when the schemes paid from ``key`` pay caregivers only, else elders."""
    payees = set(
        Scheme.objects.filter(Q(policy_key=key) | Q(amount_share_key=key), is_active=True)
        .values_list("payee", flat=True)
        .distinct()
    )
    return Payee.CAREGIVER if payees == {Payee.CAREGIVER} else Payee.ELDER


def preview_policy_revision(
    *,
    row: PolicyValue,
    applies_from: datetime.date | None,
    changes: dict,
    reason: str,
    by=None,
    today: datetime.date | None = None,
) -> ChangePreview:
    """The next run's month for the elders registered in the row's region (for a value that
    pays caregivers, the caregivers employed at its facilities), before and after the change:
    the first month the change applies to from today on."""
    from django.utils import timezone

    from regions.services import revise_policy_value

    today = today or timezone.localdate()
    start = max(applies_from or row.effective_from, today)
    period = start.replace(day=1)
    if start.day != 1 and applies_from is not None and applies_from > today:
        # The run pays by the rules in force on the 1st: a change from mid-month first
        # shows in the next month's run.
        period = add_months(period, 1)
    region = row.region
    payee = _payee_of(row.key)
    before = _month_lines(region, period, payee)
    with transaction.atomic():
        revise_policy_value(
            row=row, applies_from=applies_from, reason=reason, by=by, today=today, **changes
        )
        after = _month_lines(region, period, payee)
        transaction.set_rollback(True)
    lines_before, lines_after = _by_payee(before), _by_payee(after)
    affected = [
        person
        for person in lines_before.keys() | lines_after.keys()
        if lines_before.get(person) != lines_after.get(person)
    ]
    return ChangePreview(
        period=period,
        region=region,
        payee=payee,
        affected=len(affected),
        lines_before=len(before),
        lines_after=len(after),
        amount_before=sum(before.values(), Decimal("0")),
        amount_after=sum(after.values(), Decimal("0")),
    )
