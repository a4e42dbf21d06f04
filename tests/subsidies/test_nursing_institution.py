"""Nursing subsidy of a 低保 elder placed in an institution with the county's approval: the
destitute-support nursing-fee rate instead of a home tier, from the month whose 1st follows
the approval while the stay lasts (docs/policy.md §1 — 000 §12, 002 清单11, 003 §11, 004
(一)2). The home tiers are for elders at home. The rate stays "not set" until a bureau sets it
(the run skips and reports it); these tests set it."""

import datetime
from decimal import Decimal

import pytest

from facilities import services as facilities
from regions.models import Region
from residents.choices import AbilityLevel, AssessmentStandard
from residents.models import AbilityAssessment
from subsidies.models import PaymentLine
from tests.factories import BedFactory, FacilityFactory
from tests.subsidies.conftest import set_province_amounts
from tests.subsidies.test_allowance_amounts import paid, run

D = datetime.date
MAY, JUNE = D(2024, 5, 1), D(2024, 6, 1)
AMOUNTS = {
    "nursing_subsidy_home_fully_unable": "300",
    "nursing_subsidy_home_basically_unable": "200",
    "nursing_subsidy_home_partly_unable": "100",
    "nursing_subsidy_institution": "500",
}


@pytest.fixture
def amounts(rulebook):
    set_province_amounts(AMOUNTS)


@pytest.fixture
def disabled(make_elder):
    """A 低保 elder of Xihu, basically unable to care for themselves (assessed in January)."""

    def make(categories=("minimum_living",), level=AbilityLevel.SEVERE):
        elder = make_elder(D(1950, 1, 1), categories=categories)
        AbilityAssessment.objects.create(
            elder=elder,
            standard=AssessmentStandard.MZ_T_039_2013,
            assessed_on=D(2024, 1, 10),
            assessor="测试",
            computed_level=level,
            final_level=level,
        )
        return elder

    return make


def placed(elder, admitted, approved=None, *, discharged=None, bed_type="general"):
    home = {"home_address": "杭州市某小区1幢101室"} if bed_type == "home_care" else {}
    bed = BedFactory(facility=FacilityFactory(), bed_type=bed_type, **home)
    stay = facilities.admit_to_bed(elder=elder, bed=bed, start_date=admitted)
    if approved is not None:
        facilities.record_placement_approval(
            stay=stay,
            approved_on=approved,
            approval_number="西民批〔2024〕7号",
            approved_by=Region.objects.get(code="330106"),
        )
    if discharged is not None:
        facilities.discharge(elder=elder, end_date=discharged)
    return stay


def nursing(elder, period=MAY):
    return {k: v for k, v in paid(elder, period).items() if k.startswith("nursing")}


def test_an_approved_placement_pays_the_destitute_nursing_fee_rate_not_the_home_tier(
    disabled, amounts
):
    elder = disabled()
    placed(elder, D(2024, 3, 1), D(2024, 3, 5))
    run("330106", MAY)
    assert nursing(elder) == {"nursing_institution": Decimal("500.00")}
    line = PaymentLine.objects.get(elder=elder, scheme__code="nursing_institution")
    assert line.inputs["placement_approval"] == "西民批〔2024〕7号"
    assert line.inputs["rulebook_key"] == "nursing_subsidy_institution"
    assert "经县级民政部门批准入住养老机构" in line.inputs["rule"]


def test_at_home_the_home_tier_is_paid_as_before(disabled, amounts):
    elder = disabled()
    run("330106", MAY)
    assert nursing(elder) == {"nursing_home_basically_unable": Decimal("200.00")}
    line = PaymentLine.objects.get(elder=elder, scheme__code="nursing_home_basically_unable")
    # The month's plan reads placements: every line says whether one holds.
    assert line.inputs["placement_approval"] is None


@pytest.mark.parametrize(
    ("approved", "may", "june"),
    [
        (D(2024, 4, 30), "nursing_institution", "nursing_institution"),
        (D(2024, 5, 1), "nursing_institution", "nursing_institution"),  # approved on the 1st
        (D(2024, 5, 2), None, "nursing_institution"),  # in an institution, not yet approved
    ],
)
def test_the_approval_counts_from_the_1st_that_follows_it(disabled, amounts, approved, may, june):
    elder = disabled()
    placed(elder, D(2024, 3, 1), approved)
    run("330106", MAY)
    run("330106", JUNE)
    assert list(nursing(elder, MAY)) == ([may] if may else [])
    assert list(nursing(elder, JUNE)) == [june]


def test_in_an_institution_without_approval_neither_is_paid(disabled, amounts):
    elder = disabled()
    placed(elder, D(2024, 3, 1))
    run("330106", MAY)
    assert nursing(elder) == {}


def test_a_stay_closed_before_the_1st_is_home_again(disabled, amounts):
    left_before = disabled()
    placed(left_before, D(2024, 3, 1), D(2024, 3, 5), discharged=D(2024, 4, 30))
    left_on_the_1st = disabled()
    placed(left_on_the_1st, D(2024, 3, 1), D(2024, 3, 5), discharged=D(2024, 5, 1))
    left_on_the_2nd = disabled()
    placed(left_on_the_2nd, D(2024, 3, 1), D(2024, 3, 5), discharged=D(2024, 5, 2))
    run("330106", MAY)
    assert nursing(left_before) == {"nursing_home_basically_unable": Decimal("200.00")}
    # A stay's last day is the day it ends, not spent there: home on the 1st.
    assert nursing(left_on_the_1st) == {"nursing_home_basically_unable": Decimal("200.00")}
    assert nursing(left_on_the_2nd) == {"nursing_institution": Decimal("500.00")}


def test_a_home_care_bed_is_at_home(disabled, amounts):
    elder = disabled()
    placed(elder, D(2024, 3, 1), bed_type="home_care")
    run("330106", MAY)
    assert nursing(elder) == {"nursing_home_basically_unable": Decimal("200.00")}


def test_not_minimum_living_is_not_paid(disabled, amounts):
    elder = disabled(categories=("destitute",))
    placed(elder, D(2024, 3, 1), D(2024, 3, 5))
    run("330106", MAY)
    assert nursing(elder) == {}


def test_not_disabled_is_not_paid(disabled, amounts):
    elder = disabled(level=AbilityLevel.MILD)
    placed(elder, D(2024, 3, 1), D(2024, 3, 5))
    run("330106", MAY)
    assert nursing(elder) == {}


def test_near_minimum_living_is_paid_the_share_of_the_rate(disabled, amounts):
    elder = disabled(categories=("near_minimum_living",))
    placed(elder, D(2024, 3, 1), D(2024, 3, 5))
    run("330106", MAY)
    assert nursing(elder) == {"nursing_institution_near_minimum": Decimal("250.00")}


def test_the_rate_not_set_is_skipped_and_reported(disabled, rulebook):
    set_province_amounts({k: v for k, v in AMOUNTS.items() if k != "nursing_subsidy_institution"})
    elder = disabled()
    placed(elder, D(2024, 3, 1), D(2024, 3, 5))
    allowance_run = run("330106", MAY)
    assert nursing(elder) == {}
    skipped = {s["scheme"] for s in allowance_run.report["skipped_schemes"]}
    assert {"nursing_institution", "nursing_institution_near_minimum"} <= skipped
