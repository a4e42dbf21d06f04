"""Every seed number the run pays (docs/policy.md §1), on the 1st of the month, by completed age."""

import datetime
from decimal import Decimal

import pytest

from regions.models import Region
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run

MAY_2024 = datetime.date(2024, 5, 1)
JAN_2025 = datetime.date(2025, 1, 1)


def run(region_code: str, period: datetime.date):
    return request_allowance_run(
        region=Region.objects.get(code=region_code), period=period, sync=True
    )


def paid(elder, period=MAY_2024) -> dict[str, Decimal]:
    return dict(
        PaymentLine.objects.filter(elder=elder, period=period).values_list("scheme__code", "amount")
    )


def test_xihu_pays_60_for_80_to_89(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1))
    run("330106", MAY_2024)
    assert paid(elder) == {"high_age_80_89": Decimal("60.00")}


def test_xihu_pays_100_for_90_to_99(make_elder):
    elder = make_elder(datetime.date(1929, 1, 1))
    run("330106", MAY_2024)
    assert paid(elder) == {"high_age_90_99": Decimal("100.00")}


def test_xihu_pays_800_longevity_at_100_never_the_high_age_allowance_too(make_elder):
    elder = make_elder(datetime.date(1920, 1, 1))
    run("330106", MAY_2024)
    assert paid(elder) == {"longevity_100_plus": Decimal("800.00")}


def test_xihu_adds_50_for_80_plus_residents_pension_recipients(make_elder):
    recipient = make_elder(datetime.date(1939, 1, 1), pension="resident")
    employee = make_elder(datetime.date(1939, 1, 2), pension="employee")
    centenarian = make_elder(datetime.date(1920, 1, 1), pension="resident")
    young = make_elder(datetime.date(1950, 1, 1), pension="resident")
    run("330106", MAY_2024)
    assert paid(recipient) == {
        "high_age_80_89": Decimal("60.00"),
        "xihu_resident_pension_80_plus": Decimal("50.00"),
    }
    assert paid(employee) == {"high_age_80_89": Decimal("60.00")}
    assert paid(centenarian) == {
        "longevity_100_plus": Decimal("800.00"),
        "xihu_resident_pension_80_plus": Decimal("50.00"),
    }
    assert paid(young) == {}


def test_xihu_pays_325_a_month_to_minimum_living_households(make_elder):
    elder = make_elder(datetime.date(1955, 6, 1), categories=["minimum_living"])
    run("330106", MAY_2024)
    assert paid(elder) == {"xihu_e_allowance_minimum_living": Decimal("325.00")}


def test_xihu_pays_50_a_month_to_entitled_groups_once_even_with_two_of_them(make_elder):
    elder = make_elder(datetime.date(1955, 6, 1), categories=["key_entitled", "model_worker"])
    cadre = make_elder(datetime.date(1955, 6, 1), categories=["retired_cadre_hardship"])
    run("330106", MAY_2024)
    assert paid(elder) == {"xihu_e_allowance_entitled_groups": Decimal("50.00")}
    assert paid(cadre) == {"xihu_e_allowance_entitled_groups": Decimal("50.00")}


def test_xihu_items_add_up_for_one_person(make_elder):
    elder = make_elder(
        datetime.date(1930, 3, 1), pension="resident", categories=["minimum_living", "veteran"]
    )
    run("330106", MAY_2024)
    assert paid(elder) == {
        "high_age_90_99": Decimal("100.00"),
        "xihu_resident_pension_80_plus": Decimal("50.00"),
        "xihu_e_allowance_minimum_living": Decimal("325.00"),
    }


def test_xihu_yearly_e_allowances_are_paid_in_january_only(make_elder):
    seventy = make_elder(datetime.date(1950, 1, 1))
    lost_child = make_elder(datetime.date(1958, 1, 1), categories=["lost_only_child"])
    run("330106", MAY_2024)
    assert paid(seventy) == {} and paid(lost_child) == {}
    run("330106", JAN_2025)
    assert paid(seventy, JAN_2025) == {"xihu_e_allowance_70_79": Decimal("100.00")}
    assert paid(lost_child, JAN_2025) == {"xihu_e_allowance_lost_only_child": Decimal("900.00")}


def test_anji_pays_60_150_and_550(make_elder):
    elders = [
        make_elder(datetime.date(1939, 1, 1), "330523"),
        make_elder(datetime.date(1929, 1, 1), "330523"),
        make_elder(datetime.date(1920, 1, 1), "330523"),
    ]
    run("330523", MAY_2024)
    assert [paid(e) for e in elders] == [
        {"high_age_80_89": Decimal("60.00")},
        {"high_age_90_99": Decimal("150.00")},
        {"longevity_100_plus": Decimal("550.00")},
    ]


def test_jinhua_pays_its_floor_60_60_and_400(make_elder):
    elders = [
        make_elder(datetime.date(1939, 1, 1), "330702"),
        make_elder(datetime.date(1929, 1, 1), "330702"),
        make_elder(datetime.date(1920, 1, 1), "330702"),
    ]
    run("330700", MAY_2024)
    assert [paid(e) for e in elders] == [
        {"high_age_80_89": Decimal("60.00")},
        {"high_age_90_99": Decimal("60.00")},
        {"longevity_100_plus": Decimal("400.00")},
    ]


def test_ningbo_inherits_the_province_floor_and_skips_the_unset_longevity_subsidy(make_elder):
    octogenarian = make_elder(datetime.date(1939, 1, 1), "330203")
    centenarian = make_elder(datetime.date(1920, 1, 1), "330203")
    result = run("330200", MAY_2024)
    assert paid(octogenarian) == {"high_age_80_89": Decimal("60.00")}
    # No 100+ amount in force: the oldest band pays (tests/subsidies/test_longevity_until_set.py).
    assert paid(centenarian) == {"high_age_90_99": Decimal("60.00")}
    skipped = {(s["scheme"], s["region"]) for s in result.report["skipped_schemes"]}
    assert ("longevity_100_plus", "330200") in skipped


def test_every_line_keeps_the_facts_and_the_policy_value_behind_its_amount(make_elder):
    elder = make_elder(datetime.date(1929, 1, 1))
    run("330106", MAY_2024)
    line = PaymentLine.objects.get(elder=elder)
    assert line.policy_value.value == Decimal("100")
    assert line.inputs["age"] == 95
    assert line.inputs["rulebook_key"] == "high_age_allowance_90_99"
    assert line.inputs["citation"] == "西政办〔2023〕46号 §3"
    assert line.inputs["source_region"] == "330106"
    assert line.inputs["policy_value_id"] == line.policy_value_id
    # The scheme's condition in words: what the run compiled is what the line says.
    assert line.inputs["rule"] == "年满90周岁，且不超过99周岁"
    assert line.inputs["birth_date"] == "1929-01-01"
    assert line.inputs["on"] == "2024-05-01"
    assert line.inputs["categories"] == []


@pytest.mark.parametrize(
    "scheme,reason_part",
    [
        ("xihu_e_allowance_high_age_universal", "the seed gives no amount"),
        ("xihu_e_allowance_solitary_70_plus", "the seed gives no amount"),
        ("longevity_100_plus", None),
        ("nursing_home_fully_unable", "the seed gives no amount"),
    ],
)
def test_unset_schemes_are_skipped_and_reported(make_elder, scheme, reason_part):
    make_elder(datetime.date(1939, 1, 1), categories=["living_alone"])
    result = run("330106", MAY_2024)
    reported = {s["scheme"]: s["reason"] for s in result.report["skipped_schemes"]}
    if scheme == "longevity_100_plus":
        assert scheme not in reported  # Xihu sets 800
    else:
        assert reason_part in reported[scheme]
    assert not PaymentLine.objects.filter(scheme__code=scheme).exists()
