"""What each rate region pays in a month, resolved once per run.

For every region that has its own rulebook values (or is a scheme's jurisdiction) inside the
run's region: the amount of every scheme in force on the 1st of the month, with the policy value
that gives it; elders are then matched to the nearest such region by their registration path.
No rate is ever looked up per elder.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

from django.db.models import Q

from regions.models import PolicyValue, Region
from regions.selectors import PolicyBook, resolve_policies
from subsidies.choices import PaidTo, Payee, PeriodKind
from subsidies.insurers import CoverBook, cover_regions, no_cover_reason
from subsidies.models import Scheme, money
from subsidies.run.plan import PeriodPlan, PlannedScheme, RateNode, SchemeNotPaid
from subsidies.schedules import yearly_item_due

PAYMENT_MONTH_KEY = "yearly_allowance_payment_month"


def rate_regions(region: Region, schemes: list[Scheme]) -> list[Region]:
    """The run's region plus every region below it with its own values for a scheme key, that
    is a scheme's jurisdiction or that has its own insurer for a premium (subsidies.insurers),
    deepest first (so the first match is the nearest)."""
    keys = {s.policy_key for s in schemes} | {PAYMENT_MONTH_KEY}
    with_values = PolicyValue.objects.filter(key__in=keys).values("region_id")
    below = Region.objects.within(region).exclude(pk=region.pk)
    nodes = list(
        below.filter(
            Q(pk__in=with_values)
            | Q(pk__in=[s.jurisdiction_id for s in schemes])
            | Q(pk__in=cover_regions(schemes, region))
        )
    )
    nodes.append(region)
    return sorted(nodes, key=lambda r: -r.path.count("/"))


def _paid_as(scheme: Scheme, payable: list[PlannedScheme]) -> int | None:
    """The index in ``payable`` of the first scheme that pays ``scheme``'s elders while its
    amount is not set (Scheme.until_set_paid_as), if one is paid here."""
    codes = [planned.scheme for planned in payable]
    for code in scheme.until_set_paid_as:
        if code in codes:
            return codes.index(code)
    return None


def _standing_in(planned: PlannedScheme, scheme: Scheme) -> PlannedScheme:
    # docs/policy.md §1: its own elders, or those of the scheme with no amount here.
    return replace(
        planned,
        condition={"any": [planned.condition, scheme.condition]},
        stands_in_for=(*planned.stands_in_for, scheme.code),
    )


def plan_period(region: Region, period: datetime.date, schemes: list[Scheme]) -> PeriodPlan:
    """What the run pays in ``period`` for elders registered in ``region``: per rate region,
    the payable schemes with amount and source; and the schemes not paid, with the reason."""
    # Facility subsidies are granted one by one (subsidies.grants), not by the run.
    schemes = [s for s in schemes if s.payee != Payee.FACILITY]
    nodes, skipped, not_due = [], [], []
    keys = sorted(
        {s.policy_key for s in schemes}
        | {s.amount_share_key for s in schemes if s.amount_share_key}
        | {PAYMENT_MONTH_KEY}
    )
    # The yearly items' rows since 1 January: whether one came into force after the payment
    # month (subsidies.schedules.yearly_item_due), read once for every rate region.
    year = PolicyBook(
        {s.policy_key for s in schemes if s.period_kind == PeriodKind.YEARLY},
        period.replace(month=1),
        period,
    )
    covers = CoverBook(schemes, period.replace(month=1), period)
    for node in rate_regions(region, schemes):
        resolved = resolve_policies(keys, node, period)
        payable, caregiver_schemes, unset = [], [], []
        for scheme in schemes:
            if not node.path.startswith(scheme.jurisdiction.path):
                continue  # e.g. Xihu's e-allowances for a region outside Xihu
            policy = resolved[scheme.policy_key]
            entry = {"scheme": scheme.code, "region": node.code, "key": scheme.policy_key}
            if not policy.is_set:
                # docs/policy.md §13: nobody is paid a guessed amount; the report says why.
                skipped.append(SchemeNotPaid(**entry, reason=policy.not_set_reason))
                unset.append((scheme, len(skipped) - 1))
                continue
            cover = None
            if scheme.paid_to == PaidTo.INSURER:
                cover = covers.cover_for(scheme.pk, node, period)
                if cover is None:
                    skipped.append(SchemeNotPaid(**entry, reason=no_cover_reason()))
                    continue
            if scheme.period_kind == PeriodKind.YEARLY:
                month = resolved[PAYMENT_MONTH_KEY]
                if not month.is_set:
                    reason = f"{PAYMENT_MONTH_KEY}: " + month.not_set_reason
                    skipped.append(SchemeNotPaid(**entry, reason=reason))
                    continue
                if not yearly_item_due(
                    period,
                    int(month.value),
                    # A premium is in force where an amount is set and an insurer covers.
                    lambda on: (
                        year.resolve(scheme.policy_key, node, on).is_set  # noqa: B023
                        and (
                            scheme.paid_to != PaidTo.INSURER  # noqa: B023
                            or covers.cover_for(scheme.pk, node, on) is not None  # noqa: B023
                        )
                    ),
                ):
                    not_due.append(SchemeNotPaid(**entry, payment_month=int(month.value)))
                    continue
            row = policy.row
            amount, share = row.value, None
            if scheme.amount_share_key:
                share = resolved[scheme.amount_share_key]
                if not share.is_set:
                    reason = f"{scheme.amount_share_key}: " + share.not_set_reason
                    skipped.append(SchemeNotPaid(**entry, reason=reason))
                    continue
                amount = row.value * share.row.value
            planned = PlannedScheme(
                scheme_id=scheme.pk,
                scheme=scheme.code,
                amount=money(amount),
                policy_value_id=row.pk,
                key=scheme.policy_key,
                citation=row.citation,
                source_region=row.region.code,
                condition=scheme.condition,
                share="" if share is None else str(share.row.value),
                share_policy_value_id=None if share is None else share.row.pk,
                insurer_id=None if cover is None else cover.insurer_id,
                insurer="" if cover is None else cover.insurer,
                insurance_cover_id=None if cover is None else cover.cover_id,
            )
            # Caregiver schemes (Anji's post allowance) pay the facilities' caregiver register.
            (caregiver_schemes if scheme.payee == Payee.CAREGIVER else payable).append(planned)
        for scheme, index in unset:
            stand_in = _paid_as(scheme, payable)
            if stand_in is not None:
                skipped[index] = replace(skipped[index], paid_as=payable[stand_in].scheme)
                payable[stand_in] = _standing_in(payable[stand_in], scheme)
        nodes.append(
            RateNode(
                region=node.code,
                path=node.path,
                schemes=tuple(payable),
                caregiver_schemes=tuple(caregiver_schemes),
            )
        )
    return PeriodPlan(
        period=period, nodes=tuple(nodes), skipped=tuple(skipped), not_due=tuple(not_due)
    )
