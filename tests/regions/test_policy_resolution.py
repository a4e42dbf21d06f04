"""The rulebook lookup: nearest ancestor with a value in force on the date (docs/policy.md §0)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from regions.models import PolicyValue, Region
from regions.selectors import (
    PolicyValueNotSet,
    policy_value,
    resolve_policies,
    resolve_policies_for,
    resolve_policy,
)
from regions.services import set_policy_value

D = datetime.date


@pytest.fixture
def xihu(rulebook):
    return Region.objects.get(code="330106")


def test_xihu_street_inherits_xihus_90_99_rate_from_its_district(xihu):
    street = Region.objects.get(code="330106004")  # 翠苑街道
    resolved = resolve_policy("high_age_allowance_90_99", street, D(2024, 3, 1))
    assert resolved.value == Decimal("100")
    assert resolved.source_region == xihu
    assert "西政办〔2023〕46号" in resolved.citation


def test_before_xihus_document_the_province_floor_applies(xihu):
    resolved = resolve_policy("high_age_allowance_90_99", xihu, D(2024, 1, 1))
    assert resolved.value == Decimal("60")
    assert resolved.source_region.code == "330000"


def test_xihu_document_in_force_from_30_january_2024(xihu):
    assert policy_value("high_age_allowance_90_99", xihu, D(2024, 1, 29)) == Decimal("60")
    assert policy_value("high_age_allowance_90_99", xihu, D(2024, 1, 30)) == Decimal("100")


def test_before_the_province_rule_nothing_is_in_force(xihu):
    resolved = resolve_policy("high_age_allowance_80_89", xihu, D(2022, 12, 1))
    assert not resolved.is_set
    with pytest.raises(PolicyValueNotSet, match="no value in the rulebook"):
        resolved.require()


def test_ningbo_inherits_the_province_floor_until_it_sets_its_own(rulebook):
    ningbo_district = Region.objects.get(code="330203")  # 海曙区
    assert policy_value("high_age_allowance_80_89", ningbo_district, D(2024, 6, 1)) == Decimal("60")


def test_a_value_the_seed_does_not_give_is_not_set_and_says_why(rulebook):
    hangzhou_county = Region.objects.get(code="330122")  # 桐庐县
    resolved = resolve_policy("longevity_subsidy_100_plus", hangzhou_county, D(2024, 6, 1))
    assert not resolved.is_set
    with pytest.raises(PolicyValueNotSet, match="not set at 浙江省"):
        resolved.require()


def test_jinhua_county_gets_jinhuas_longevity_minimum(rulebook):
    yiwu = Region.objects.get(code="330782")
    assert policy_value("longevity_subsidy_100_plus", yiwu, D(2023, 2, 1)) == Decimal("400")


def test_ningbo_staffing_ratio_is_stricter_than_the_province(rulebook):
    ningbo = Region.objects.get(code="330200")
    assert policy_value("staffing_ratio_partly_disabled", ningbo, D(2024, 1, 1)) == Decimal("4")
    assert policy_value("staffing_ratio_partly_disabled", ningbo, D(2023, 12, 30)) == Decimal("6")


def test_xihu_visits_childless_alone_daily(xihu):
    community = Region.objects.get(code="330106004001")
    assert policy_value("visit_frequency_childless_alone", community, D(2024, 2, 1)) == "daily"
    assert policy_value("visit_frequency_special_difficulty", community, D(2024, 2, 1)) == "monthly"


def test_a_value_ending_hands_over_to_the_next_period(xihu):
    current = PolicyValue.objects.get(region=xihu, key="high_age_allowance_90_99")
    set_policy_value(
        region=xihu,
        key="high_age_allowance_90_99",
        value=current.value,
        effective_from=current.effective_from,
        effective_to=D(2025, 12, 31),
        citation=current.citation,
    )
    set_policy_value(
        region=xihu,
        key="high_age_allowance_90_99",
        value=Decimal("120"),
        effective_from=D(2026, 1, 1),
        citation="test: a later document",
    )
    assert policy_value("high_age_allowance_90_99", xihu, D(2025, 12, 31)) == Decimal("100")
    assert policy_value("high_age_allowance_90_99", xihu, D(2026, 1, 1)) == Decimal("120")


def test_overlapping_periods_for_one_region_are_refused(xihu):
    with pytest.raises(ValidationError, match="重叠"):
        set_policy_value(
            region=xihu,
            key="high_age_allowance_90_99",
            value=Decimal("110"),
            effective_from=D(2025, 1, 1),
            citation="test",
        )


def test_many_regions_resolve_in_one_query_with_the_same_answers(xihu, django_assert_num_queries):
    communities = list(Region.objects.filter(path__startswith=xihu.path, level="community"))
    communities.append(Region.objects.get(code="330203"))  # a Ningbo district: province values
    keys = ["high_age_allowance_90_99", "visit_frequency_childless_alone"]
    with django_assert_num_queries(1):
        together = resolve_policies_for(keys, communities, D(2024, 3, 1))
    for region in communities:
        one_by_one = resolve_policies(keys, region, D(2024, 3, 1))
        assert {k: r.row for k, r in together[region.pk].items()} == {
            k: r.row for k, r in one_by_one.items()
        }
    assert together[communities[0].pk]["high_age_allowance_90_99"].value == Decimal("100")
    assert not together[communities[-1].pk]["visit_frequency_childless_alone"].is_set
