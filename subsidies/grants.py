"""Facility subsidies: the bureau's star-subsidy table, and grants (operating subsidies,
one-off grants, insurance premiums) each paid by one line in the facility's county's batch.
The caps and amounts are subsidies.facility_rules'."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.scoping import require_in_scope
from regions.models import Region
from regions.selectors import resolve_policy
from subsidies.batches import draft_adjustment_batch, regular_batch
from subsidies.models import PaymentLine, money
from subsidies.periods import first_of_month
from subsidies.permissions import STAR_RATES_ARE_THE_BUREAUS, can_set_star_rates
from subsidies.schemes import scheme_by_code


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
        label=gettext("%(jurisdiction)s的星级运营补助标准") % {"jurisdiction": jurisdiction.name},
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
                "amount": gettext(
                    "%(amount)s 元超过运营补助上限 %(cap)s 元（%(key)s，%(region)s，%(citation)s）。"
                )
                % {
                    "amount": amount,
                    "cap": money(cap.value),
                    "key": XIHU_CAP_KEY,
                    "region": cap.source_region.name,
                    "citation": cap.citation,
                }
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
        by,
        FacilitySubsidy(facility=facility),
        field="facility",
        label=gettext("%(facility)s的补助") % {"facility": facility.name},
    )
    if kind not in FacilitySubsidyKind.values:
        raise ValidationError(
            {"kind": gettext("补助类型 %(kind)s 不存在。") % {"kind": repr(kind)}}
        )
    today = timezone.localdate()
    if not 2000 <= int(year) <= today.year + 1:
        raise ValidationError({"year": gettext("年度 %(year)s 不在有效范围内。") % {"year": year}})
    existing = FacilitySubsidy.objects.filter(facility=facility, kind=kind)
    if kind not in ONE_OFF_FACILITY_SUBSIDIES:
        existing = existing.filter(year=year)
    if existing.exists():
        raise ValidationError(
            {
                "kind": gettext("%(facility)s已获得%(kind)s（%(year)s年或一次性）。")
                % {
                    "facility": facility.name,
                    "kind": FacilitySubsidyKind(kind).label,
                    "year": year,
                }
            }
        )
    on = facility_rules.rule_date(int(year), today)
    granted = facility_rules.entitlement(
        facility=facility,
        kind=kind,
        on=on,
        amount=amount,
        assessment_passed=assessment_passed,
        terminal_sets=terminal_sets,
        premium=premium,
    )
    scheme = scheme_by_code(granted.scheme_code)
    period = first_of_month(period or today)
    county = _paying_county(facility.region)
    regular = regular_batch(county, period)
    line = PaymentLine(
        batch=regular if regular.is_draft else draft_adjustment_batch(county, period),
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
            # What a rate revised backwards reads again (subsidies.run.corrections): the day
            # whose rules decided the amount and every rulebook row they read.
            "rules_on": on.isoformat(),
            "policy_values": {key: row.pk for key, row in sorted(granted.read.items())},
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
