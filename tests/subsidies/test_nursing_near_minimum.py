"""Nursing subsidy for near-低保 households (低保边缘): at least the rulebook's share (50%, a floor)
of the amount a 低保 household gets for the same case (docs/policy.md §1 — 000 §12). The amounts
stay "not set" until a bureau sets them; these tests set them."""

import datetime
from decimal import Decimal

import pytest

from regions.models import PolicyValue, Region
from regions.services import set_policy_value
from residents.choices import AbilityLevel, AssessmentStandard
from residents.models import AbilityAssessment
from subsidies.models import PaymentLine
from tests.subsidies.conftest import set_province_amounts
from tests.subsidies.test_allowance_amounts import MAY_2024, paid, run

TIERS = {
    "nursing_subsidy_home_fully_unable": "300",
    "nursing_subsidy_home_basically_unable": "200",
    "nursing_subsidy_home_partly_unable": "100",
}


@pytest.fixture
def nursing_amounts(rulebook):
    set_province_amounts(TIERS)


def _assessed(elder, level):
    AbilityAssessment.objects.create(
        elder=elder,
        standard=AssessmentStandard.MZ_T_039_2013,
        assessed_on=datetime.date(2024, 1, 10),
        assessor="测试",
        computed_level=level,
        final_level=level,
    )
    return elder


def test_a_near_minimum_household_gets_half_the_minimum_living_amount_for_the_same_case(
    make_elder, nursing_amounts
):
    born = datetime.date(1950, 1, 1)
    near = _assessed(make_elder(born, categories=["near_minimum_living"]), AbilityLevel.SEVERE)
    low = _assessed(make_elder(born, categories=["minimum_living"]), AbilityLevel.SEVERE)
    near_partly = _assessed(
        make_elder(born, categories=["near_minimum_living"]), AbilityLevel.MODERATE
    )
    run("330106", MAY_2024)
    assert paid(near) == {"nursing_home_basically_unable_near_minimum": Decimal("100.00")}
    assert paid(near_partly) == {"nursing_home_partly_unable_near_minimum": Decimal("50.00")}
    assert paid(low)["nursing_home_basically_unable"] == Decimal("200.00")
    assert "nursing_home_basically_unable_near_minimum" not in paid(low)
    line = PaymentLine.objects.get(elder=near)
    share = PolicyValue.objects.get(key="nursing_subsidy_near_minimum_share")
    assert Decimal(line.inputs["share"]) == Decimal("0.5")
    assert line.inputs["share_policy_value_id"] == share.pk
    assert line.inputs["rulebook_key"] == "nursing_subsidy_home_basically_unable"
    assert line.inputs["ability_level"] == AbilityLevel.SEVERE


def test_a_household_on_both_lists_is_paid_the_minimum_living_tier_only(
    make_elder, nursing_amounts
):
    elder = _assessed(
        make_elder(datetime.date(1950, 1, 1), categories=["minimum_living", "near_minimum_living"]),
        AbilityLevel.SEVERE,
    )
    run("330106", MAY_2024)
    nursing = {k: v for k, v in paid(elder).items() if k.startswith("nursing")}
    assert nursing == {"nursing_home_basically_unable": Decimal("200.00")}


def test_a_county_raising_the_share_raises_the_near_minimum_amount(make_elder, nursing_amounts):
    anji = Region.objects.get(code="330523")
    set_policy_value(
        region=anji,
        key="nursing_subsidy_near_minimum_share",
        value=Decimal("0.6"),
        effective_from=datetime.date(2024, 1, 1),
        citation="测试：县级提高比例",
    )
    elder = _assessed(
        make_elder(datetime.date(1950, 1, 1), "330523", categories=["near_minimum_living"]),
        AbilityLevel.SEVERE,
    )
    run("330523", MAY_2024)
    assert paid(elder) == {"nursing_home_basically_unable_near_minimum": Decimal("120.00")}


def test_without_the_minimum_living_amount_nothing_is_paid_and_the_report_says_why(make_elder):
    elder = _assessed(
        make_elder(datetime.date(1950, 1, 1), categories=["near_minimum_living"]),
        AbilityLevel.SEVERE,
    )
    result = run("330106", MAY_2024)
    assert "nursing_home_basically_unable_near_minimum" not in paid(elder)
    skipped = {s["scheme"]: s["reason"] for s in result.report["skipped_schemes"]}
    assert "not set" in skipped["nursing_home_basically_unable_near_minimum"]
