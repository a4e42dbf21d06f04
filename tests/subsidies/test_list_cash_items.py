"""The cash items of the five lists that give no amount (docs/policy.md §1 "Disability
allowances, service subsidy, insurance"): who each is for, at its boundaries, once a test sets
the amount; and, as shipped, the run skips each and its report says the amount is not set."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from regions.models import PolicyValue, Region
from residents.id_numbers import with_check_character
from residents.models import Elder, ElderCategory
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run

D = datetime.date
MAY_2024 = D(2024, 5, 1)
_serial = itertools.count(500)


def elder(born, region="330106", *, categories=(), disability=("", None)):
    n = next(_serial)
    person = Elder(
        id_number=with_check_character(f"{region[:6]}{born:%Y%m%d}{n % 1000:03d}"),
        name=f"测试{n}",
        hukou_region=Region.objects.get(code=region),
        disability_category=disability[0],
        disability_grade=disability[1],
    )
    person.sex, person.birth_date = "F", born
    person.save()
    for code in categories:
        ElderCategory.objects.create(elder=person, category=code, start_date=D(2000, 1, 1))
    return person


def set_amount(key, value="100", region="330000"):
    PolicyValue.objects.filter(region__code=region, key=key).update(value=Decimal(value))


def run(region, period=MAY_2024):
    return request_allowance_run(region=Region.objects.get(code=region), period=period, sync=True)


def schemes_of(person, period=MAY_2024):
    return set(
        PaymentLine.objects.filter(elder=person, period=period).values_list(
            "scheme__code", flat=True
        )
    )


def skipped(result, scheme):
    return [s for s in result.report["skipped_schemes"] if s["scheme"] == scheme]


@pytest.mark.django_db
def test_the_severe_disability_nursing_allowance_at_its_boundaries(rulebook):
    set_amount("severe_disability_nursing_allowance")
    grade_2 = elder(D(1964, 5, 1), disability=("physical", 2))  # 60 on 1 May
    grade_2_young = elder(D(1964, 5, 2), disability=("physical", 2))  # 59
    grade_3_physical = elder(D(1950, 1, 1), disability=("physical", 3))
    grade_3_mental = elder(D(1950, 1, 1), disability=("mental", 3))
    grade_4_intellectual = elder(D(1950, 1, 1), disability=("intellectual", 4))
    no_certificate = elder(D(1950, 1, 1))
    run("330106")
    code = "severe_disability_nursing_allowance"
    assert code in schemes_of(grade_2)
    assert code not in schemes_of(grade_2_young)
    assert code not in schemes_of(grade_3_physical)
    assert code in schemes_of(grade_3_mental)
    assert code in schemes_of(grade_4_intellectual)
    assert code not in schemes_of(no_certificate)
    line = PaymentLine.objects.get(elder=grade_2, scheme__code=code)
    assert line.amount == Decimal("100.00")


@pytest.mark.django_db
def test_the_disabled_living_allowance_is_for_minimum_living_certificate_holders(rulebook):
    set_amount("disabled_living_allowance")
    holder = elder(D(1950, 1, 1), categories=["minimum_living"], disability=("vision", 4))
    no_category = elder(D(1950, 1, 1), disability=("vision", 4))
    no_certificate = elder(D(1950, 1, 1), categories=["minimum_living"])
    near = elder(
        D(1950, 1, 1), "330203", categories=["near_minimum_living"], disability=("vision", 4)
    )
    near_xihu = elder(D(1950, 1, 1), categories=["near_minimum_living"], disability=("vision", 4))
    run("330106")
    run("330200")
    assert "disabled_living_allowance" in schemes_of(holder)
    assert not schemes_of(no_category) & {"disabled_living_allowance"}
    assert not schemes_of(no_certificate) & {"disabled_living_allowance"}
    # Ningbo alone adds 低边 households (004 清单20).
    assert "ningbo_disabled_living_allowance_near_minimum" in schemes_of(near)
    assert not schemes_of(near_xihu) & {
        "disabled_living_allowance",
        "ningbo_disabled_living_allowance_near_minimum",
    }


@pytest.mark.django_db
def test_the_service_subsidy_for_economically_difficult_elders(rulebook):
    set_amount("service_subsidy_economic_difficulty")
    code = "service_subsidy_economic_difficulty"
    destitute = elder(D(1964, 5, 1), "330702", categories=["destitute"])  # 60 on 1 May
    young = elder(D(1964, 5, 2), "330702", categories=["destitute"])
    ordinary = elder(D(1950, 1, 1), "330702", categories=["living_alone"])
    run("330700")
    assert code in schemes_of(destitute)
    assert code not in schemes_of(young)
    assert code not in schemes_of(ordinary)


@pytest.mark.django_db
def test_every_new_item_is_skipped_and_reported_while_its_amount_is_not_set(rulebook):
    for region in ("330106", "330702", "330523", "330203"):
        elder(D(1950, 1, 1), region, categories=["minimum_living"], disability=("mental", 1))
    reports = {region: run(region) for region in ("330106", "330700", "330523", "330200")}
    expected = {
        "330106": [
            "disabled_living_allowance",
            "severe_disability_nursing_allowance",
            "service_subsidy_economic_difficulty",
            "xihu_accident_insurance",
        ],
        "330700": ["jinhua_insurance_contribution_subsidy"],
        "330523": ["anji_accident_insurance"],
        "330200": ["ningbo_accident_insurance", "ningbo_disabled_living_allowance_near_minimum"],
    }
    for region, codes in expected.items():
        for code in codes:
            reasons = skipped(reports[region], code)
            assert reasons and all("not set" in s["reason"] for s in reasons), (region, code)
    assert not PaymentLine.objects.filter(
        scheme__code__in=[c for codes in expected.values() for c in codes]
    ).exists()


@pytest.mark.django_db
def test_a_grade_outside_one_to_four_or_half_a_certificate_is_refused(rulebook):
    person = elder(D(1950, 1, 1))
    person.disability_category, person.disability_grade = "vision", 5
    with pytest.raises(ValidationError) as caught:
        person.full_clean()
    assert "disability_grade" in caught.value.message_dict


@pytest.mark.django_db
def test_policy_gaps_lists_every_new_amount(rulebook):
    from regions.selectors import policy_gaps

    gaps = {(gap.region.code, gap.key) for gap in policy_gaps()}
    assert {
        ("330000", "disabled_living_allowance"),
        ("330000", "severe_disability_nursing_allowance"),
        ("330000", "service_subsidy_economic_difficulty"),
        ("330000", "caregiver_post_allowance"),
        ("330106", "accident_insurance_premium"),
        ("330523", "accident_insurance_premium"),
        ("330200", "accident_insurance_premium"),
        ("330700", "insurance_contribution_subsidy"),
    } <= gaps
