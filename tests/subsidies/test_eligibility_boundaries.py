"""Who is paid for month M: alive, registered in the region, by completed age on the 1st."""

import datetime
from decimal import Decimal

import pytest

from residents import services as residents_services
from subsidies.models import PaymentBatch, PaymentLine
from tests.subsidies.test_allowance_amounts import paid, run

MAY_2024 = datetime.date(2024, 5, 1)


@pytest.mark.parametrize(
    "born,expected",
    [
        (datetime.date(1944, 5, 1), {"high_age_80_89": Decimal("60.00")}),  # 80 on the 1st
        (datetime.date(1944, 5, 2), {}),  # 80 on the 2nd: from June
        (datetime.date(1934, 5, 1), {"high_age_90_99": Decimal("100.00")}),
        (datetime.date(1934, 5, 2), {"high_age_80_89": Decimal("60.00")}),
        (datetime.date(1924, 5, 1), {"longevity_100_plus": Decimal("800.00")}),
        (datetime.date(1924, 5, 2), {"high_age_90_99": Decimal("100.00")}),
    ],
)
def test_birthday_on_the_first_counts_for_that_month_on_the_second_from_the_next(
    make_elder, born, expected
):
    elder = make_elder(born)
    run("330106", MAY_2024)
    assert paid(elder) == expected


def test_a_29_february_birthday_turns_80_on_1_march_in_a_common_year(make_elder):
    elder = make_elder(datetime.date(1944, 2, 29))
    run("330106", datetime.date(2024, 2, 1))  # leap year, birthday not yet on the 1st
    run("330106", datetime.date(2024, 3, 1))
    run("330106", datetime.date(2025, 2, 1))
    # 79 on 1 February 2024 (the 70–79 yearly item is due that month: it came into force on
    # 2024-01-30), 80 on 1 March.
    assert "high_age_80_89" not in paid(elder, datetime.date(2024, 2, 1))
    assert paid(elder, datetime.date(2024, 3, 1)) == {"high_age_80_89": Decimal("60.00")}
    assert paid(elder, datetime.date(2025, 2, 1)) == {"high_age_80_89": Decimal("60.00")}


def test_a_29_february_birthday_reaches_100_in_a_leap_year_from_march(make_elder):
    elder = make_elder(datetime.date(1924, 2, 29))
    run("330106", datetime.date(2024, 2, 1))
    run("330106", datetime.date(2024, 3, 1))
    assert paid(elder, datetime.date(2024, 2, 1)) == {"high_age_90_99": Decimal("100.00")}
    assert paid(elder, datetime.date(2024, 3, 1)) == {"longevity_100_plus": Decimal("800.00")}


def test_death_in_the_month_is_paid_that_month_not_the_next(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1))
    residents_services.record_death(elder=elder, death_date=datetime.date(2024, 5, 15))
    run("330106", MAY_2024)
    run("330106", datetime.date(2024, 6, 1))
    assert paid(elder) == {"high_age_80_89": Decimal("60.00")}
    assert paid(elder, datetime.date(2024, 6, 1)) == {}


def test_death_on_the_last_day_of_the_previous_month_is_not_paid(make_elder):
    elder = make_elder(datetime.date(1939, 1, 1))
    residents_services.record_death(elder=elder, death_date=datetime.date(2024, 4, 30))
    run("330106", MAY_2024)
    assert paid(elder) == {}


def test_registration_in_a_sub_region_is_paid_by_the_district_and_the_city_run(make_elder):
    street = make_elder(datetime.date(1939, 1, 1), "330106001")
    community = make_elder(datetime.date(1929, 1, 1), "330106001001")
    elsewhere = make_elder(datetime.date(1939, 1, 1), "330523")
    run("330106", MAY_2024)
    assert paid(street) == {"high_age_80_89": Decimal("60.00")}
    assert paid(community) == {"high_age_90_99": Decimal("100.00")}
    assert paid(elsewhere) == {}


def test_a_run_for_a_street_pays_only_that_street_at_xihu_rates(make_elder):
    inside = make_elder(datetime.date(1929, 1, 1), "330106001001")
    outside = make_elder(datetime.date(1929, 1, 1), "330106002")
    run("330106001", MAY_2024)
    assert paid(inside) == {"high_age_90_99": Decimal("100.00")}
    assert paid(outside) == {}


def test_a_province_run_pays_each_elder_at_their_own_jurisdictions_rates(make_elder):
    xihu = make_elder(datetime.date(1929, 1, 1), "330106001")
    anji = make_elder(datetime.date(1929, 1, 1), "330523")
    ningbo = make_elder(datetime.date(1929, 1, 1), "330203")
    run("330000", MAY_2024)
    assert paid(xihu) == {"high_age_90_99": Decimal("100.00")}
    assert paid(anji) == {"high_age_90_99": Decimal("150.00")}
    assert paid(ningbo) == {"high_age_90_99": Decimal("60.00")}


def test_rules_not_yet_in_force_are_not_applied(make_elder):
    # Xihu's document is in force from 2024-01-30: on 2024-01-01 the province floor applies,
    # the 100+ amount is not set there (so a centenarian is paid the oldest band in force,
    # docs/policy.md §1), and Xihu's e-allowances do not exist yet; the residents'-pension
    # supplement has applied since 2019-01-01.
    nonagenarian = make_elder(datetime.date(1929, 1, 1), pension="resident")
    centenarian = make_elder(datetime.date(1920, 1, 1))
    poor = make_elder(datetime.date(1955, 6, 1), categories=["minimum_living"])
    result = run("330106", datetime.date(2024, 1, 1))
    january = datetime.date(2024, 1, 1)
    assert paid(nonagenarian, january) == {
        "high_age_90_99": Decimal("60.00"),
        "xihu_resident_pension_80_plus": Decimal("50.00"),
    }
    assert paid(centenarian, january) == {"high_age_90_99": Decimal("60.00")}
    assert paid(poor, january) == {}
    reported = {s["scheme"]: s["reason"] for s in result.report["skipped_schemes"]}
    assert "no value in the rulebook" in reported["xihu_e_allowance_minimum_living"]
    assert "the seed gives no amount" in reported["longevity_100_plus"]


def test_a_month_with_nothing_in_force_yields_an_empty_batch_and_says_so(make_elder):
    make_elder(datetime.date(1929, 1, 1), pension="resident")
    result = run("330106", datetime.date(2018, 6, 1))
    assert result.batch is not None
    assert not PaymentLine.objects.filter(batch=result.batch).exists()
    assert "empty" in result.report
    assert PaymentBatch.objects.filter(pk=result.batch_id).count() == 1


def test_a_category_must_be_in_force_on_the_first(make_elder):
    elder = make_elder(datetime.date(1955, 6, 1))
    residents_services.set_category(
        elder=elder, category="minimum_living", start_date=datetime.date(2024, 5, 2)
    )
    ended = make_elder(datetime.date(1955, 6, 1))
    residents_services.set_category(
        elder=ended,
        category="minimum_living",
        start_date=datetime.date(2023, 1, 1),
        end_date=datetime.date(2024, 5, 1),
    )
    run("330106", MAY_2024)
    run("330106", datetime.date(2024, 6, 1))
    assert paid(elder) == {}
    assert paid(elder, datetime.date(2024, 6, 1)) == {
        "xihu_e_allowance_minimum_living": Decimal("325.00")
    }
    assert paid(ended) == {"xihu_e_allowance_minimum_living": Decimal("325.00")}
    assert paid(ended, datetime.date(2024, 6, 1)) == {}
