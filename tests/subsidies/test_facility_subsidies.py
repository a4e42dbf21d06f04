"""Operating subsidies, one-off grants and insurance premiums paid to facilities (docs/policy.md §2):
within the rulebook caps, refused above them naming the cap and its source, paid in batches."""

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from facilities import services as facility_services
from regions.models import Region
from regions.services import set_policy_value
from subsidies import exporting
from subsidies.facility_rules import fraction_to_money
from subsidies.grants import grant_facility_subsidy, set_star_subsidy_rate
from subsidies.models import FacilitySubsidy, PaymentLine
from subsidies.payees import set_payee_account
from subsidies.selectors import batch_totals, payable_and_held
from tests.factories import FacilityFactory
from tests.subsidies.conftest import card_number_for

pytestmark = pytest.mark.django_db
JAN_2025 = datetime.date(2025, 1, 1)


def region(code):
    return Region.objects.get(code=code)


def facility(kind, code="330106", **fields):
    return FacilityFactory(kind=kind, region=region(code), **fields)


def grant(f, kind, **kwargs):
    return grant_facility_subsidy(facility=f, kind=kind, year=2024, period=JAN_2025, **kwargs)


def set_coefficient(code, value):
    set_policy_value(
        region=region(code),
        key="operating_subsidy_transfer_coefficient",
        effective_from=datetime.date(2022, 12, 6),
        value=Decimal(value),
        citation="省对县转移支付系数（测试）",
    )


def refused(field, *fragments, **call):
    with pytest.raises(ValidationError) as error:
        grant(**call)
    message = " ".join(error.value.message_dict[field])
    for fragment in fragments:
        assert fragment in message
    assert not FacilitySubsidy.objects.exists()
    assert not PaymentLine.objects.filter(facility__isnull=False).exists()


# --- province: cap × the county's transfer coefficient ----------------------------------------


def test_province_operating_subsidy_stops_while_the_transfer_coefficient_is_not_set(rulebook):
    centre = facility("street_centre", "330105")
    refused(
        "coefficient",
        "operating_subsidy_transfer_coefficient",
        "浙政办发〔2022〕71号 §10",
        f=centre,
        kind="operating",
    )


def test_street_centre_is_paid_at_most_100000_times_the_coefficient(rulebook):
    set_coefficient("330105", "0.8")
    centre = facility("street_centre", "330105")
    refused(
        "amount",
        "80000.00",
        "operating_subsidy_street_centre_cap",
        "浙政办发〔2022〕71号 §10",
        f=centre,
        kind="operating",
        amount=Decimal("80000.01"),
    )
    subsidy = grant(centre, "operating")
    assert subsidy.amount == Decimal("80000.00")
    assert subsidy.line.inputs["coefficient"] == "0.8"


def test_community_station_is_paid_at_most_15000_times_the_coefficient(rulebook):
    set_coefficient("330105", "0.8")
    station = facility("community_station", "330105")
    assert grant(station, "operating").amount == Decimal("12000.00")


def test_anji_unset_amount_does_not_hide_the_province_cap(rulebook):
    """Anji names the subsidy with no amount (003 §9): until it enters one, the province's
    100,000 × coefficient applies; the stop names the coefficient, not Anji's gap."""
    centre = facility("street_centre", "330523")
    refused("coefficient", "operating_subsidy_transfer_coefficient", f=centre, kind="operating")
    set_coefficient("330523", "1")
    subsidy = grant(centre, "operating")
    assert subsidy.amount == Decimal("100000.00")
    assert subsidy.policy_value.region.code == "330000"
    assert grant(facility("community_station", "330523"), "operating").amount == Decimal("15000.00")


def test_a_county_may_raise_the_standard_above_the_province_cap(rulebook):
    """000 §10 "可适当提高补助标准": a county's own amount is paid as set, above the province's
    100,000 and without the province's transfer coefficient."""
    set_policy_value(
        region=region("330105"),
        key="operating_subsidy_street_centre_cap",
        effective_from=datetime.date(2023, 1, 1),
        value=Decimal("150000"),
        citation="县级提高标准（测试）",
    )
    centre = facility("street_centre", "330105")
    refused(
        "amount",
        "150000.00",
        "县级提高标准（测试）",
        f=centre,
        kind="operating",
        amount=Decimal("150000.01"),
    )
    # The stations of that county keep the province's rule (no coefficient yet: stopped).
    refused("coefficient", f=facility("community_station", "330105"), kind="operating")
    subsidy = grant(centre, "operating")
    assert subsidy.amount == Decimal("150000.00")
    assert subsidy.line.inputs["cap_source_region"] == "330105"


def test_operating_subsidy_is_only_for_home_care_centres_and_stations(rulebook):
    refused("facility", "运行补助", f=facility("institution"), kind="operating")


# --- Xihu: the star table, within 300,000 ------------------------------------------------------


def test_xihu_star_table_refuses_an_amount_above_the_300000_cap(rulebook):
    with pytest.raises(ValidationError) as error:
        set_star_subsidy_rate(
            jurisdiction=region("330106"),
            stars=5,
            amount=Decimal("300000.01"),
            effective_from=datetime.date(2024, 1, 30),
        )
    message = error.value.message_dict["amount"][0]
    assert "300000.00" in message and "西政办〔2023〕46号 §10" in message
    rate = set_star_subsidy_rate(
        jurisdiction=region("330106"),
        stars=5,
        amount=Decimal("300000"),
        effective_from=datetime.date(2024, 1, 30),
    )
    assert rate.amount == Decimal("300000.00")


@pytest.fixture
def rated_xihu_centre(rulebook):
    set_star_subsidy_rate(
        jurisdiction=region("330106"),
        stars=3,
        amount=Decimal("200000"),
        effective_from=datetime.date(2024, 1, 30),
    )
    centre = facility("street_centre", "330106001")
    facility_services.record_rating(facility=centre, stars=3, rated_on=datetime.date(2024, 3, 1))
    return centre


def test_xihu_pays_the_star_table_amount_when_the_annual_assessment_is_passed(rated_xihu_centre):
    subsidy = grant(rated_xihu_centre, "operating", assessment_passed=True)
    assert subsidy.amount == Decimal("200000.00")
    assert subsidy.scheme.code == "xihu_operating_subsidy_home_care_facility"
    assert subsidy.line.inputs["stars"] == 3
    assert subsidy.line.batch.region.code == "330106"  # paid by the county, not the street


def test_xihu_refuses_without_a_passed_assessment_or_above_the_table(rated_xihu_centre):
    refused("assessment_passed", "年度考核", f=rated_xihu_centre, kind="operating")
    refused(
        "amount",
        "3星标准 200000.00",
        "西政办〔2023〕46号 §10",
        f=rated_xihu_centre,
        kind="operating",
        assessment_passed=True,
        amount=Decimal("200000.01"),
    )


def test_xihu_refuses_a_facility_without_a_rating(rulebook):
    refused(
        "facility",
        "星级评定",
        f=facility("community_station"),
        kind="operating",
        assessment_passed=True,
    )


def test_one_operating_subsidy_per_facility_and_year(rated_xihu_centre):
    grant(rated_xihu_centre, "operating", assessment_passed=True)
    with pytest.raises(ValidationError) as error:
        grant(rated_xihu_centre, "operating", assessment_passed=True)
    assert "kind" in error.value.message_dict


# --- Ningbo one-off grants -----------------------------------------------------------------------


def test_ningbo_smart_care_home_gets_at_most_500000_once(rulebook):
    home = facility("smart_care_home", "330203")
    refused(
        "amount",
        "500000.00",
        "smart_care_home_subsidy_cap",
        "甬政办发〔2023〕60号 (六)2",
        f=home,
        kind="smart_care_home",
        amount=Decimal("500000.01"),
    )
    assert grant(home, "smart_care_home", amount=Decimal("500000")).amount == Decimal("500000.00")
    with pytest.raises(ValidationError):
        grant_facility_subsidy(
            facility=home, kind="smart_care_home", year=2025, amount=Decimal("1")
        )


def test_ningbo_smart_terminals_get_at_most_50000_per_centre_however_many_sets(rulebook):
    """004 (六)2 "按每家最高5万元": per centre or station, not per set."""
    station = facility("community_station", "330203")
    refused("terminal_sets", f=station, kind="smart_terminal", amount=Decimal("1"), terminal_sets=0)
    refused(
        "amount",
        "50000.00",
        "smart_terminal_subsidy_cap",
        "甬政办发〔2023〕60号 (六)2",
        f=station,
        kind="smart_terminal",
        amount=Decimal("50000.01"),
        terminal_sets=3,
    )
    subsidy = grant(station, "smart_terminal", amount=Decimal("50000"), terminal_sets=3)
    assert subsidy.cap == Decimal("50000.00") and subsidy.amount == Decimal("50000.00")
    centre = facility("street_centre", "330203")
    assert grant(centre, "smart_terminal", amount=Decimal("50000")).cap == Decimal("50000.00")


def test_smart_care_home_grant_has_no_cap_outside_ningbo(rulebook):
    refused(
        "cap",
        "no value in the rulebook",
        f=facility("smart_care_home"),
        kind="smart_care_home",
        amount=Decimal("1"),
    )


# --- liability insurance: shares as denominators, exact arithmetic -----------------------------


@pytest.mark.parametrize(
    ("code", "for_profit", "premium", "expected"),
    [
        ("330106", False, "10000", "6666.67"),  # province 1/3 + city/county 1/3
        ("330106", True, "10000", "3333.33"),  # for-profit: half of that
        ("330702", False, "9000", "6000.00"),  # Jinhua: the same shares
        ("330702", True, "9000", "3000.00"),  # and the same halving (002 §6)
        ("330203", False, "100.01", "66.67"),  # Ningbo: city 1/3 + district 1/3
        ("330203", True, "1.05", "0.70"),  # not halved: 004 (三)4 makes no distinction
        ("330203", True, "10000", "6666.67"),
    ],
)
def test_liability_insurance_premium_subsidy(rulebook, code, for_profit, premium, expected):
    institution = facility("institution", code, is_for_profit=for_profit)
    subsidy = grant(institution, "liability_insurance", premium=Decimal(premium))
    assert subsidy.amount == Decimal(expected)
    assert subsidy.line.inputs["upper_share"] == "1/3"
    halved = for_profit and not code.startswith("3302")
    assert ("for-profit factor" in subsidy.line.inputs["rule"]) is halved
    if for_profit and not halved:
        assert "浙政办发〔2022〕71号 §9" in subsidy.line.inputs["factor_not_applied"]


def test_liability_insurance_refuses_more_than_the_shares_and_needs_a_premium(rulebook):
    institution = facility("institution", is_for_profit=True)
    refused("premium", f=institution, kind="liability_insurance")
    refused(
        "amount",
        "3333.33",
        "浙政办发〔2022〕71号 §9",
        f=institution,
        kind="liability_insurance",
        premium=Decimal("10000"),
        amount=Decimal("3333.34"),
    )


def test_money_from_fractions_rounds_half_up_exactly():
    assert fraction_to_money(Fraction(1, 200)) == Decimal("0.01")
    assert fraction_to_money(Fraction(2, 3)) == Decimal("0.67")
    assert fraction_to_money(Fraction(1, 3)) == Decimal("0.33")
    assert fraction_to_money(Fraction(99999, 200)) == Decimal("500.00")


# --- into payment batches ------------------------------------------------------------------------


def test_facility_subsidies_are_lines_of_the_county_batch_with_totals_and_export(
    rulebook, tmp_path
):
    institution = facility("institution", uscc="")
    subsidy = grant(institution, "liability_insurance", premium=Decimal("3000"))
    line = subsidy.line
    assert (line.facility, line.elder, line.caregiver) == (institution, None, None)
    assert line.batch.kind == "regular" and line.batch.period == JAN_2025
    # No account recorded for the institution: the line is held, not money to pay.
    assert batch_totals(line.batch) == []
    assert payable_and_held(line.batch.lines.all())[()].held.amount == Decimal("2000.00")
    set_payee_account(
        payee=institution, channel="bank_card", bank="工商银行", account_number=card_number_for(7)
    )
    totals = {t["scheme"]: t for t in batch_totals(line.batch)}
    assert totals["liability_insurance_subsidy"]["amount"] == Decimal("2000.00")
    assert line.inputs["citation"].startswith("浙政办发〔2022〕71号 §9")
    rows = list(exporting.export_rows(line.batch))
    assert rows == [
        [
            line.reference,
            institution.code,
            institution.name,
            "liability_insurance_subsidy",
            "2025-01",
            "2000.00",
            "normal",
            "bank_card",
            "工商银行",
            card_number_for(7),
            institution.name,  # an empty holder is the payee's own name
        ]
    ]


def test_a_payment_line_has_exactly_one_payee(rulebook, make_elder):
    institution = facility("institution")
    subsidy = grant(institution, "liability_insurance", premium=Decimal("3000"))
    line = subsidy.line
    elder = make_elder(datetime.date(1940, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.filter(pk=line.pk).update(elder=elder)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.filter(pk=line.pk).update(facility=None)


def test_an_approved_batch_sends_new_grants_to_the_adjustment_batch(rulebook, django_user_model):
    from django.contrib.auth.models import Permission

    from subsidies.batches import approve_batch

    first = grant(facility("institution"), "liability_insurance", premium=Decimal("300"))
    user = django_user_model.objects.create_user(username="fin", password="x")
    user.user_permissions.add(Permission.objects.get(codename="approve_paymentbatch"))
    user = django_user_model.objects.get(pk=user.pk)
    approve_batch(batch=first.line.batch, by=user)
    second = grant(facility("institution"), "liability_insurance", premium=Decimal("300"))
    assert second.line.batch.kind == "adjustment"
    assert first.line.amount == second.line.amount == Decimal("200.00")
