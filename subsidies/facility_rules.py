"""What a facility may be granted (docs/policy.md §2): operating subsidies, one-off grants and
liability-insurance premium subsidies, each bounded by a rulebook cap or share.

Reads only: ``entitlement(...)`` resolves the rulebook for the facility's region and returns the
amount and the facts that bound it (and every rulebook row it read), or raises ValidationError
naming the field, the cap and its source. subsidies.grants.grant_facility_subsidy writes the
grant and its payment line; ``entitlement_now`` reads a grant again by the rules now in force
(a rate revised backwards, subsidies.run.corrections).
"""

from __future__ import annotations

import datetime
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from facilities.choices import FacilityKind
from facilities.models import Facility
from facilities.selectors import current_rating
from regions.choices import RegionLevel
from regions.models import PolicyValue
from regions.selectors import ResolvedPolicy, resolve_policy
from subsidies.choices import FacilitySubsidyKind
from subsidies.models import StarSubsidyRate, money

COEFFICIENT_KEY = "operating_subsidy_transfer_coefficient"
XIHU_CAP_KEY = "operating_subsidy_home_care_facility_cap"
HOME_CARE_KINDS = (FacilityKind.STREET_CENTRE, FacilityKind.COMMUNITY_STATION)
PROVINCE_OPERATING = {
    # docs/policy.md §2 — 000 浙政办发〔2022〕71号 §10: 中心每年最高10万元, 站每年最高1.5万元.
    FacilityKind.STREET_CENTRE: (
        "operating_subsidy_street_centre_cap",
        "operating_subsidy_street_centre",
    ),
    FacilityKind.COMMUNITY_STATION: (
        "operating_subsidy_community_station_cap",
        "operating_subsidy_community_station",
    ),
}


# Every key the rules below read: a revision of one of them may change a grant already made.
KEYS_READ = frozenset(
    {
        COEFFICIENT_KEY,
        XIHU_CAP_KEY,
        *(key for key, _scheme in PROVINCE_OPERATING.values()),
        "smart_care_home_subsidy_cap",
        "smart_terminal_subsidy_cap",
        "liability_insurance_upper_share_denominator",
        "liability_insurance_local_share_denominator",
        "liability_insurance_for_profit_factor",
    }
)

# While ``entitlement`` works: the rows it read ({key: row}), and whether a requested amount
# above the limit is cut to it (a grant read again) rather than refused (a new request).
_READ: ContextVar[dict | None] = ContextVar("facility_rules_read", default=None)
_CUT_TO_LIMIT: ContextVar[bool] = ContextVar("facility_rules_cut", default=False)


def _resolve(key: str, region, on: datetime.date) -> ResolvedPolicy:
    policy = resolve_policy(key, region, on)
    read = _READ.get()
    if read is not None and policy.row is not None:
        read[key] = policy.row
    return policy


@dataclass
class Entitlement:
    scheme_code: str
    amount: Decimal
    cap: Decimal | None
    citation: str
    policy_value: PolicyValue | None
    inputs: dict = field(default_factory=dict)
    # Every rulebook row the amount was decided by, by key (``entitlement`` fills it).
    read: dict = field(default_factory=dict)


def fraction_to_money(value: Fraction) -> Decimal:
    """Exact half-up rounding of a non-negative fraction of yuan to cents (the same rule as
    subsidies.models.money, without a detour through a finite decimal)."""
    cents = value * 100
    whole, rest = divmod(cents.numerator, cents.denominator)
    if Fraction(rest, cents.denominator) >= Fraction(1, 2):
        whole += 1
    return money(Decimal(whole) / 100)


def rule_date(year: int, today: datetime.date) -> datetime.date:
    """The rules of a year's subsidy: those in force at the end of the year, or today while
    the year is running."""
    return min(datetime.date(year, 12, 31), today)


def _plain(value) -> str:
    """A rulebook number as written (the column stores 4 places: 0.8000 → 0.8)."""
    return format(Decimal(value).normalize(), "f")


def _recorded_source(policy: ResolvedPolicy) -> str:
    """Where a value comes from, as the grant's inputs record it (stored: one language)."""
    return (
        f"{policy.key.key} = {_plain(policy.value)}，{policy.source_region.name}，{policy.citation}"
    )


def _source(policy: ResolvedPolicy) -> str:
    """Where a value comes from, as a message to the reader names it (their language)."""
    return gettext("%(key)s = %(value)s，%(region)s，%(citation)s") % {
        "key": policy.key.key,
        "value": _plain(policy.value),
        "region": policy.source_region.name,
        "citation": policy.citation,
    }


def _required(policy: ResolvedPolicy, field_name: str) -> Decimal:
    if not policy.is_set:
        raise ValidationError({field_name: f"{policy.key.key}: {policy.not_set_reason}"})
    return policy.value


def _within(amount: Decimal | None, limit: Decimal, what: str) -> Decimal:
    """The requested amount, or the limit when none is asked; above the limit is refused."""
    if amount is None:
        return limit
    amount = money(amount)
    if amount <= 0:
        raise ValidationError({"amount": gettext("申请金额应大于0。")})
    if amount > limit and _CUT_TO_LIMIT.get():
        return limit
    if amount > limit:
        raise ValidationError(
            {
                "amount": gettext("申请金额 %(amount)s 元超过上限 %(limit)s 元（%(what)s）。")
                % {"amount": amount, "limit": limit, "what": what}
            }
        )
    return amount


def _kind_must_be(facility: Facility, kinds, label: str) -> None:
    if facility.kind not in kinds:
        raise ValidationError(
            {
                "facility": gettext("%(facility)s为“%(kind)s”，%(rule)s")
                % {"facility": facility.name, "kind": facility.get_kind_display(), "rule": label}
            }
        )


def operating(
    *,
    facility: Facility,
    on: datetime.date,
    amount: Decimal | None,
    assessment_passed: bool | None,
) -> Entitlement:
    _kind_must_be(
        facility, HOME_CARE_KINDS, gettext("运行补助只适用于居家养老服务中心和照料中心。")
    )
    xihu_cap = _resolve(XIHU_CAP_KEY, facility.region, on)
    if xihu_cap.row is not None:
        return _operating_by_stars(facility, on, amount, assessment_passed, xihu_cap)
    key, scheme_code = PROVINCE_OPERATING[facility.kind]
    cap_policy = _resolve(key, facility.region, on)
    cap = _required(cap_policy, "cap")
    if cap_policy.source_region.level != RegionLevel.PROVINCE:
        return _operating_by_local_standard(facility, amount, cap_policy, key, scheme_code)
    coefficient_policy = _resolve(COEFFICIENT_KEY, facility.region, on)
    coefficient = _required(coefficient_policy, "coefficient")
    # docs/policy.md §2 — 000 §10: the actual amount follows the province's transfer coefficient.
    limit = fraction_to_money(Fraction(cap) * Fraction(coefficient))
    what = gettext("%(cap)s × 转移支付系数 %(coefficient)s") % {
        "cap": _source(cap_policy),
        "coefficient": _source(coefficient_policy),
    }
    return Entitlement(
        scheme_code=scheme_code,
        amount=_within(amount, limit, what),
        cap=limit,
        citation=f"{cap_policy.citation}；{coefficient_policy.citation}",
        policy_value=cap_policy.row,
        inputs={
            "rule": "amount ≤ cap × county transfer coefficient",
            "cap": _plain(cap),
            "cap_key": key,
            "coefficient": _plain(coefficient),
            "coefficient_source_region": coefficient_policy.source_region.code,
            "limit": str(limit),
        },
    )


def _operating_by_local_standard(facility, amount, cap_policy, key, scheme_code) -> Entitlement:
    # docs/policy.md §2 — 000 §10 "各地根据实际制定保障措施，可适当提高补助标准": a locality's
    # own amount is its standard, paid as it is set (it may exceed the province's cap, and the
    # province's transfer coefficient scales only the province's own subsidy).
    limit = money(cap_policy.value)
    return Entitlement(
        scheme_code=scheme_code,
        amount=_within(amount, limit, _source(cap_policy)),
        cap=limit,
        citation=cap_policy.citation,
        policy_value=cap_policy.row,
        inputs={
            "rule": "amount ≤ the locality's own standard",
            "cap": _plain(cap_policy.value),
            "cap_key": key,
            "cap_source_region": cap_policy.source_region.code,
            "limit": str(limit),
        },
    )


def _operating_by_stars(facility, on, amount, assessment_passed, cap_policy) -> Entitlement:
    # docs/policy.md §2 — 001 西政办〔2023〕46号 §10: 按星级评定和年度考核结果给予最高30万元.
    cap = _required(cap_policy, "cap")
    if assessment_passed is not True:
        raise ValidationError(
            {
                "assessment_passed": gettext(
                    "年度考核未通过（或未填写），不予运营补助（%(citation)s）。"
                )
                % {"citation": cap_policy.citation}
            }
        )
    rating = current_rating(facility, on)
    if rating.rating is None or rating.is_expired:
        raise ValidationError(
            {
                "facility": gettext("%(facility)s在 %(on)s 没有有效的星级评定。")
                % {"facility": facility.name, "on": on}
            }
        )
    stars = rating.rating.stars
    jurisdiction = cap_policy.source_region
    row = (
        StarSubsidyRate.objects.filter(
            jurisdiction=jurisdiction, stars=stars, effective_from__lte=on
        )
        .order_by("-effective_from")
        .first()
    )
    if row is None:
        raise ValidationError(
            {
                "stars": gettext(
                    "%(jurisdiction)s的星级运营补助标准中没有%(stars)s星的金额"
                    "（标准由民政局在系统中设定）。"
                )
                % {"jurisdiction": jurisdiction.name, "stars": stars}
            }
        )
    limit = min(row.amount, cap)
    what = gettext("%(stars)s星标准 %(amount)s 元（%(jurisdiction)s，%(since)s 起）；%(cap)s") % {
        "stars": stars,
        "amount": row.amount,
        "jurisdiction": jurisdiction.name,
        "since": row.effective_from,
        "cap": _source(cap_policy),
    }
    return Entitlement(
        scheme_code="xihu_operating_subsidy_home_care_facility",
        amount=_within(amount, limit, what),
        cap=limit,
        citation=cap_policy.citation,
        policy_value=cap_policy.row,
        inputs={
            "rule": "amount ≤ the star table's amount for the current rating ≤ cap",
            "stars": stars,
            "rating_date": rating.rating.rated_on.isoformat(),
            "assessment_passed": True,
            "star_rate_id": row.pk,
            "star_rate": str(row.amount),
            "cap": _plain(cap),
            "cap_key": XIHU_CAP_KEY,
        },
    )


def smart_care_home(*, facility: Facility, on: datetime.date, amount) -> Entitlement:
    # docs/policy.md §2 — 004 甬政办发〔2023〕60号 (六)2: 智慧养老院 up to 500,000, one-off after review.
    _kind_must_be(facility, (FacilityKind.SMART_CARE_HOME,), gettext("该补助只适用于智慧养老院。"))
    if amount is None:
        raise ValidationError({"amount": gettext("一次性补助须填写经评审核定的金额。")})
    policy = _resolve("smart_care_home_subsidy_cap", facility.region, on)
    cap = money(_required(policy, "cap"))
    return Entitlement(
        scheme_code="ningbo_smart_care_home_subsidy",
        amount=_within(amount, cap, _source(policy)),
        cap=cap,
        citation=policy.citation,
        policy_value=policy.row,
        inputs={"rule": "amount ≤ cap per smart care home", "cap": str(cap)},
    )


def smart_terminal(*, facility: Facility, on: datetime.date, amount, terminal_sets) -> Entitlement:
    # docs/policy.md §2 — 004 (六)2: 无感服务智能终端 of a home-care centre/station, "按每家最高
    # 5万元": at most 50,000 per centre or station, however many sets it installs.
    _kind_must_be(facility, HOME_CARE_KINDS, gettext("该补助只适用于居家养老服务中心和照料中心。"))
    if terminal_sets is not None and terminal_sets < 1:
        raise ValidationError({"terminal_sets": gettext("终端套数应至少为1套（可不填）。")})
    if amount is None:
        raise ValidationError({"amount": gettext("一次性补助须填写经评审核定的金额。")})
    policy = _resolve("smart_terminal_subsidy_cap", facility.region, on)
    cap = money(_required(policy, "cap"))
    return Entitlement(
        scheme_code="ningbo_smart_terminal_subsidy",
        amount=_within(amount, cap, gettext("每家 %(cap)s") % {"cap": _source(policy)}),
        cap=cap,
        citation=policy.citation,
        policy_value=policy.row,
        inputs={
            "rule": "amount ≤ cap per centre or station (每家)",
            "terminal_sets": terminal_sets,
            "cap": str(cap),
        },
    )


def liability_insurance(*, facility: Facility, on: datetime.date, amount, premium) -> Entitlement:
    """docs/policy.md §2 — 000 §9 (and 002 §6, 004 (三)4): non-profit institutions get 1/upper +
    1/local of the premium; for-profit ones that times the for-profit factor (half) where the
    shares are those of the document that halves them (the province's, which Jinhua repeats).
    A level that states its own shares without the halving (Ningbo's (三)4: "养老服务机构", no
    distinction) pays them in full. Exact arithmetic with fractions; one rounding at the end."""
    _kind_must_be(
        facility, (FacilityKind.INSTITUTION,), gettext("综合责任险补助只适用于养老机构。")
    )
    if premium is None or Decimal(premium) <= 0:
        raise ValidationError({"premium": gettext("须填写机构实际缴纳的年度保费（大于0）。")})
    premium = money(premium)
    upper = _resolve("liability_insurance_upper_share_denominator", facility.region, on)
    local = _resolve("liability_insurance_local_share_denominator", facility.region, on)
    share = Fraction(1) / Fraction(_required(upper, "upper_share")) + Fraction(1) / Fraction(
        _required(local, "local_share")
    )
    inputs = {
        "rule": "premium × (1/upper + 1/local)",
        "premium": str(premium),
        "upper_share": f"1/{_plain(upper.value)}",
        "upper_source": _recorded_source(upper),
        "local_share": f"1/{_plain(local.value)}",
        "local_source": _recorded_source(local),
        "is_for_profit": facility.is_for_profit,
    }
    citation = f"{upper.citation}；{local.citation}"
    if facility.is_for_profit:
        factor = _resolve("liability_insurance_for_profit_factor", facility.region, on)
        shares = max(upper.source_region, local.source_region, key=lambda r: len(r.path))
        if factor.row is not None and len(factor.source_region.path) < len(shares.path):
            # The halving goes with the shares of the document that states it: shares a lower
            # level sets itself without it (Ningbo's (三)4) are paid in full.
            inputs["for_profit_factor"] = "1"
            inputs["factor_not_applied"] = (
                f"{_recorded_source(factor)}：不适用于{shares.name}自定的份额（未区分营利性与否）"
            )
        else:
            share *= Fraction(_required(factor, "for_profit_factor"))
            inputs["rule"] += " × for-profit factor"
            inputs["for_profit_factor"] = _plain(factor.value)
            inputs["factor_source"] = _recorded_source(factor)
            citation += f"；{factor.citation}"
    limit = fraction_to_money(Fraction(premium) * share)
    inputs["share"] = str(share)
    inputs["limit"] = str(limit)
    return Entitlement(
        scheme_code="liability_insurance_subsidy",
        amount=_within(
            amount,
            limit,
            gettext("保费 %(premium)s 元 × %(share)s（%(citation)s）")
            % {"premium": premium, "share": share, "citation": citation},
        ),
        cap=limit,
        citation=citation,
        policy_value=upper.row,
        inputs=inputs,
    )


def entitlement(
    *,
    facility: Facility,
    kind: str,
    on: datetime.date,
    amount: Decimal | None = None,
    assessment_passed: bool | None = None,
    terminal_sets: int | None = None,
    premium: Decimal | None = None,
) -> Entitlement:
    token = _READ.set({})
    try:
        granted = _entitlement(
            facility=facility,
            kind=kind,
            on=on,
            amount=amount,
            assessment_passed=assessment_passed,
            terminal_sets=terminal_sets,
            premium=premium,
        )
        granted.read = dict(_READ.get())
    finally:
        _READ.reset(token)
    return granted


def entitlement_now(subsidy) -> Entitlement:
    """What ``subsidy`` (a FacilitySubsidy) is owed by the rulebook as it stands now, read on
    the day its rules were read when it was granted (``rules_on``): the same facts (request,
    assessment, terminal sets, premium), a requested amount kept unless the limit is now lower
    (then the limit). ValidationError when the rules now pay nothing (a value no longer set)."""
    inputs = subsidy.inputs or {}
    premium = inputs.get("premium")
    token = _CUT_TO_LIMIT.set(True)
    try:
        return entitlement(
            facility=subsidy.facility,
            kind=subsidy.kind,
            on=rules_on(subsidy),
            amount=subsidy.requested_amount,
            assessment_passed=inputs.get("assessment_passed"),
            terminal_sets=inputs.get("terminal_sets"),
            premium=None if premium is None else Decimal(premium),
        )
    finally:
        _CUT_TO_LIMIT.reset(token)


def rules_on(subsidy) -> datetime.date:
    """The day whose rules decided a grant: recorded with it (``rules_on``), or for a grant
    recorded before that, the rule date of its year on the day it was made."""
    from django.utils import timezone

    recorded = (subsidy.inputs or {}).get("rules_on")
    if recorded:
        return datetime.date.fromisoformat(recorded)
    return rule_date(int(subsidy.year), timezone.localdate(subsidy.created_at))


def _entitlement(
    *,
    facility: Facility,
    kind: str,
    on: datetime.date,
    amount: Decimal | None,
    assessment_passed: bool | None,
    terminal_sets: int | None,
    premium: Decimal | None,
) -> Entitlement:
    if kind == FacilitySubsidyKind.OPERATING:
        return operating(
            facility=facility, on=on, amount=amount, assessment_passed=assessment_passed
        )
    if kind == FacilitySubsidyKind.SMART_CARE_HOME:
        return smart_care_home(facility=facility, on=on, amount=amount)
    if kind == FacilitySubsidyKind.SMART_TERMINAL:
        return smart_terminal(facility=facility, on=on, amount=amount, terminal_sets=terminal_sets)
    if kind == FacilitySubsidyKind.LIABILITY_INSURANCE:
        return liability_insurance(facility=facility, on=on, amount=amount, premium=premium)
    raise ValidationError({"kind": gettext("补助类型 %(kind)s 不存在。") % {"kind": repr(kind)}})
