"""Anji's caregiver post allowance (docs/policy.md §1 — 003 安吉县实施意见 §15): not less than 400 a
month to each certified caregiver employed at an Anji facility on the 1st, paid by the run."""

import datetime
from decimal import Decimal

import pytest

from facilities import services as facility_services
from regions.models import Region
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run
from tests.factories import CaregiverFactory, FacilityFactory

pytestmark = pytest.mark.django_db
MAY_2024 = datetime.date(2024, 5, 1)
SCHEME = "anji_caregiver_post_allowance"


def run(code, period=MAY_2024):
    return request_allowance_run(region=Region.objects.get(code=code), period=period, sync=True)


def caregiver(facility, *, employed=datetime.date(2024, 1, 1), certified=True, valid_until=None):
    person = CaregiverFactory()
    if certified:
        facility_services.add_certificate(
            caregiver=person,
            kind="caregiver_skill",
            grade="junior",
            number=f"C{person.pk}",
            issued_on=datetime.date(2023, 9, 1),
            valid_until=valid_until,
        )
    facility_services.employ_caregiver(caregiver=person, facility=facility, start_date=employed)
    return person


@pytest.fixture
def anji_home(rulebook):
    return FacilityFactory(region=Region.objects.get(code="330523"))


def lines():
    return PaymentLine.objects.filter(scheme__code=SCHEME)


def test_a_certified_caregiver_employed_in_anji_on_the_1st_is_paid_400(anji_home):
    person = caregiver(anji_home)
    result = run("330523")
    line = lines().get()
    assert (line.caregiver, line.elder, line.facility) == (person, None, None)
    assert line.amount == Decimal("400.00")
    assert line.batch == result.batch
    assert line.inputs["citation"] == "安吉县实施意见 §15"
    assert line.inputs["facility"] == anji_home.code
    assert result.report["caregiver_lines_added"] == 1
    assert SCHEME not in {s["scheme"] for s in result.report["skipped_schemes"]}


def test_caregivers_without_a_valid_certificate_or_not_yet_employed_are_not_paid(anji_home):
    caregiver(anji_home, certified=False)
    caregiver(anji_home, employed=datetime.date(2024, 5, 2))
    caregiver(anji_home, valid_until=datetime.date(2024, 4, 30))
    run("330523")
    assert not lines().exists()


def test_a_caregiver_at_two_anji_facilities_is_paid_once_and_a_rerun_adds_nothing(anji_home):
    person = caregiver(anji_home)
    other = FacilityFactory(region=Region.objects.get(code="330523"))
    facility_services.employ_caregiver(
        caregiver=person, facility=other, start_date=datetime.date(2024, 2, 1)
    )
    run("330523")
    run("330523")
    assert lines().count() == 1


def test_caregivers_outside_anji_are_not_paid_the_anji_allowance(rulebook):
    caregiver(FacilityFactory())  # Xihu
    run("330106")
    run("330000")
    assert not lines().exists()


def test_a_caregiver_run_before_the_rule_was_in_force_pays_nothing(anji_home):
    caregiver(anji_home, employed=datetime.date(2023, 1, 1))
    run("330523", datetime.date(2023, 8, 1))  # 安吉县实施意见 in force from 2023-08-24
    assert not lines().exists()
