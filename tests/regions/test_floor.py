"""A lower level's rate may never be below the level above's floor (docs/policy.md §0)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from regions.models import PolicyValue, Region
from regions.services import set_policy_value

D = datetime.date


def test_a_county_rate_below_the_province_floor_is_refused_naming_both(rulebook):
    tonglu = Region.objects.get(code="330122")
    with pytest.raises(ValidationError) as refused:
        set_policy_value(
            region=tonglu,
            key="high_age_allowance_80_89",
            value=Decimal("50"),
            effective_from=D(2024, 1, 1),
            citation="桐庐 test document",
        )
    message = " ".join(refused.value.messages)
    assert "50" in message and "60" in message
    assert "桐庐 test document" in message and "浙政办发〔2022〕71号" in message
    assert not PolicyValue.objects.filter(region=tonglu).exists()  # nothing half-written


def test_a_rate_before_the_floor_took_effect_is_not_checked_against_it(rulebook):
    tonglu = Region.objects.get(code="330122")
    set_policy_value(
        region=tonglu,
        key="high_age_allowance_80_89",
        value=Decimal("30"),
        effective_from=D(2020, 1, 1),
        effective_to=D(2022, 12, 31),
        citation="an old rule",
    )


def test_raising_the_province_floor_above_a_district_rate_is_refused(rulebook):
    province = Region.objects.get(code="330000")
    current = PolicyValue.objects.get(region=province, key="high_age_allowance_80_89")
    current.effective_to = D(2025, 12, 31)
    current.save()
    with pytest.raises(ValidationError, match="下级"):
        set_policy_value(
            region=province,
            key="high_age_allowance_80_89",
            value=Decimal("70"),
            effective_from=D(2026, 1, 1),
            citation="a future province rule",
        )


def test_a_looser_staffing_ratio_than_the_province_is_refused(rulebook):
    anji = Region.objects.get(code="330523")
    existing = PolicyValue.objects.get(region=anji, key="staffing_ratio_self_caring")
    with pytest.raises(ValidationError, match="低于上级标准"):
        set_policy_value(
            region=anji,
            key="staffing_ratio_self_caring",
            value=Decimal("20"),
            effective_from=existing.effective_from,
            citation=existing.citation,
        )


def test_a_less_frequent_visit_rule_than_the_level_above_is_refused(rulebook):
    street = Region.objects.get(code="330106004")
    with pytest.raises(ValidationError):
        set_policy_value(
            region=street,
            key="visit_frequency_special_difficulty",
            frequency="quarterly",
            effective_from=D(2024, 6, 1),
            citation="test",
        )
    set_policy_value(
        region=street,
        key="visit_frequency_special_difficulty",
        frequency="weekly",
        effective_from=D(2024, 6, 1),
        citation="test: a street visits more often",
    )


def test_not_set_values_are_not_floors(rulebook):
    xihu = Region.objects.get(code="330106")
    street = Region.objects.get(code="330106004")
    assert PolicyValue.objects.get(region=xihu, key="e_allowance_high_age_universal").value is None
    set_policy_value(
        region=street,
        key="e_allowance_high_age_universal",
        value=Decimal("10"),
        effective_from=D(2025, 1, 1),
        citation="test",
    )


def test_a_frequency_key_refuses_a_number(rulebook):
    xihu = Region.objects.get(code="330106")
    with pytest.raises(ValidationError, match="频次"):
        set_policy_value(
            region=xihu,
            key="visit_frequency_childless_alone",
            value=Decimal("1"),
            effective_from=D(2030, 1, 1),
            citation="test",
        )
