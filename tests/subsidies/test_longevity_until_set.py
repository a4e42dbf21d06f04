"""Where no 100+ amount is in force, a centenarian is paid the oldest high-age band in force
(docs/policy.md §1: 000 §3 pays every elder aged 80+, and 清单6's 不重复享受 means the longevity
subsidy replaces the high-age allowance, not that a missing amount removes it); the run's
report says the 100+ amount is not set."""

import datetime
from decimal import Decimal

from subsidies.models import PaymentLine
from tests.subsidies.test_allowance_amounts import MAY_2024, paid, run

XIHU_IN_FORCE = datetime.date(2024, 1, 30)  # 西政办〔2023〕46号
ANJI_IN_FORCE = datetime.date(2023, 8, 24)  # 安吉县实施意见


def _longevity_report(result, region: str) -> dict:
    return next(
        s
        for s in result.report["skipped_schemes"]
        if s["scheme"] == "longevity_100_plus" and s["region"] == region
    )


def test_ningbo_pays_a_centenarian_the_90_to_99_allowance_and_says_100_plus_is_not_set(
    make_elder,
):
    centenarian = make_elder(datetime.date(1920, 1, 1), "330203")
    nonagenarian = make_elder(datetime.date(1930, 1, 1), "330203")
    result = run("330200", MAY_2024)
    assert paid(centenarian) == {"high_age_90_99": Decimal("60.00")}
    assert paid(nonagenarian) == {"high_age_90_99": Decimal("60.00")}
    skipped = _longevity_report(result, "330200")
    assert "not set" in skipped["reason"]
    assert skipped["paid_as"] == "high_age_90_99"
    line = PaymentLine.objects.get(elder=centenarian)
    assert line.inputs["stands_in_for"] == ["longevity_100_plus"]
    assert line.inputs["age"] == 104
    assert "年满100周岁" in line.inputs["rule"]
    # Here the 90–99 scheme's condition includes the 100+: every line of it says so.
    assert PaymentLine.objects.get(elder=nonagenarian).inputs["stands_in_for"] == [
        "longevity_100_plus"
    ]


def test_xihu_before_its_document_pays_a_centenarian_the_province_90_to_99_then_800(
    make_elder,
):
    centenarian = make_elder(datetime.date(1920, 1, 1))
    january, february = datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)
    before = run("330106", january)
    run("330106", february)
    assert paid(centenarian, january) == {"high_age_90_99": Decimal("60.00")}
    assert _longevity_report(before, "330106")["paid_as"] == "high_age_90_99"
    # From the month after 2024-01-30 the 100+ amount is in force: longevity, not both.
    assert february > XIHU_IN_FORCE
    assert paid(centenarian, february)["longevity_100_plus"] == Decimal("800.00")
    assert "high_age_90_99" not in paid(centenarian, february)


def test_anji_before_2023_08_24_pays_a_centenarian_the_90_to_99_band_then_550(make_elder):
    centenarian = make_elder(datetime.date(1920, 1, 1), "330523")
    august, september = datetime.date(2023, 8, 1), datetime.date(2023, 9, 1)
    run("330523", august)
    run("330523", september)
    assert august < ANJI_IN_FORCE < september
    assert paid(centenarian, august) == {"high_age_90_99": Decimal("60.00")}
    assert paid(centenarian, september) == {"longevity_100_plus": Decimal("550.00")}


def test_a_99_year_old_is_paid_the_band_once_where_the_100_plus_amount_is_not_set(make_elder):
    elder = make_elder(datetime.date(1924, 5, 2), "330203")  # 99 on 1 May 2024
    run("330200", MAY_2024)
    assert paid(elder) == {"high_age_90_99": Decimal("60.00")}
    assert PaymentLine.objects.filter(elder=elder).count() == 1
