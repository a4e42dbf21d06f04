"""Ratings (validity from the rulebook, expiry) and chain-operation contracts (docs/policy.md §2)."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from facilities import services
from facilities.selectors import current_rating
from regions.models import Region
from tests.factories import FacilityFactory

D = datetime.date


@pytest.fixture
def facility(rulebook):
    return FacilityFactory()


def test_rating_is_valid_three_years_from_the_rulebook(facility):
    rating = services.record_rating(facility=facility, stars=4, rated_on=D(2023, 5, 10), score=88)
    assert rating.valid_until == D(2026, 5, 9)
    assert rating.validity_citation == "rating_validity_years = 3"
    assert current_rating(facility, D(2026, 5, 9)).status == "有效"


def test_an_expired_rating_shows_as_expired_not_as_an_older_one(facility):
    services.record_rating(facility=facility, stars=5, rated_on=D(2023, 1, 1))
    latest = services.record_rating(facility=facility, stars=3, rated_on=D(2023, 6, 1))
    assert current_rating(facility, D(2026, 5, 31)).status == "有效"
    current = current_rating(facility, D(2026, 6, 1))
    assert current.rating == latest and current.is_expired and current.status == "已过期"
    assert facility.ratings.count() == 2  # history kept


def test_stars_outside_1_to_5_are_refused(facility):
    with pytest.raises(ValidationError) as error:
        services.record_rating(facility=facility, stars=6, rated_on=D(2024, 1, 1))
    assert "stars" in error.value.message_dict


def test_a_rating_before_the_rulebook_has_a_validity_is_refused_naming_the_date(facility):
    with pytest.raises(ValidationError) as error:
        services.record_rating(facility=facility, stars=3, rated_on=D(2019, 1, 1))
    assert "rating_validity_years" in error.value.message_dict["rated_on"][0]


def test_no_rating_yet(facility):
    assert current_rating(facility, D(2024, 1, 1)).status == "未评定"


def _contract(**overrides):
    fields = {
        "county": Region.objects.get(code="330106"),
        "operator": "连锁运营公司",
        "zone_count": 3,
        "zone_number": 1,
        "start_date": D(2024, 1, 1),
        "end_date": D(2026, 12, 31),
    }
    return services.create_chain_contract(**(fields | overrides))


def test_a_three_year_purchase_contract_is_accepted(rulebook):
    assert _contract().end_date == D(2026, 12, 31)


def test_a_purchase_contract_longer_than_three_years_is_refused(rulebook):
    with pytest.raises(ValidationError) as error:
        _contract(end_date=D(2027, 1, 1))
    assert "3 年" in error.value.message_dict["end_date"][0]
    assert "2026-12-31" in error.value.message_dict["end_date"][0]


def test_a_longer_contract_that_is_not_a_government_purchase_is_allowed(rulebook):
    _contract(end_date=D(2030, 1, 1), is_government_purchase=False)


@pytest.mark.parametrize(("zones", "ok"), [(1, False), (2, True), (5, True), (6, False)])
def test_a_county_is_split_into_two_to_five_zones(rulebook, zones, ok):
    if ok:
        _contract(zone_count=zones)
    else:
        with pytest.raises(ValidationError) as error:
            _contract(zone_count=zones)
        assert "2–5" in error.value.message_dict["zone_count"][0]


def test_zone_number_within_the_zone_count(rulebook):
    with pytest.raises(ValidationError) as error:
        _contract(zone_count=3, zone_number=4)
    assert "zone_number" in error.value.message_dict


def test_unified_social_credit_code_is_validated(rulebook):
    facility = FacilityFactory(uscc="9111 0000 6000 3734 1L")
    assert facility.uscc == "91110000600037341L"
    with pytest.raises(ValidationError) as error:
        FacilityFactory(uscc="91110000600037341M")
    assert "uscc" in error.value.message_dict
