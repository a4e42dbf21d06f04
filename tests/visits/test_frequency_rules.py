"""Who must be visited and how often (docs/policy.md §6), by residence, on a date."""

import datetime

import pytest

from regions.models import PolicyValue, Region
from residents import services as residents
from residents.id_numbers import with_check_character
from tests.visits.conftest import (
    ANJI,
    JINHUA_DISTRICT,
    NINGBO_DISTRICT,
    XIHU_COMMUNITY,
)
from visits.selectors import elders_to_visit

XIHU_DOC_IN_FORCE = datetime.date(2024, 1, 30)  # 西政办〔2023〕46号
DAY_BEFORE_XIHU = datetime.date(2024, 1, 29)
JINHUA_IN_FORCE = datetime.date(2023, 5, 1)  # 金政办发〔2023〕18号
ANJI_IN_FORCE = datetime.date(2023, 8, 24)  # 安吉县实施意见

pytestmark = pytest.mark.django_db


def schedule_of(elder, on, area_code="330000"):
    """The elder's (frequency, groups) on ``on``, or None when not on the list."""
    area = Region.objects.get(code=area_code)
    rows = {r.elder_id: r for r in elders_to_visit(areas=[area], on=on)}
    row = rows.get(elder.pk)
    return None if row is None else (row.frequency, set(row.groups))


# --- Xihu -----------------------------------------------------------------------------------


def test_xihu_childless_alone_are_visited_daily_from_the_documents_date(make_elder):
    elder = make_elder("childless_alone")
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("daily", {"childless_alone"})


def test_xihu_childless_alone_are_the_provinces_living_alone_before_that_date(make_elder):
    # Before 2024-01-30 Xihu inherits the province's list (清单14), which does not name 孤寡 but
    # takes one living at home as living alone (test_childless_alone_at_home.py).
    elder = make_elder("childless_alone")
    assert schedule_of(elder, DAY_BEFORE_XIHU) == ("monthly", {"living_alone"})


def test_xihu_childless_alone_living_alone_is_monthly_before_and_daily_after(make_elder):
    elder = make_elder("childless_alone", "living_alone")
    assert schedule_of(elder, DAY_BEFORE_XIHU) == ("monthly", {"living_alone"})
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == (
        "daily",
        {"childless_alone", "living_alone"},
    )


@pytest.mark.parametrize(
    "category",
    [
        "living_alone",
        "empty_nest",
        "left_behind",
        "severely_disabled",
        "family_planning_special",
        "lost_only_child",
    ],
)
def test_xihu_special_difficulty_groups_are_visited_monthly_before_and_after(make_elder, category):
    elder = make_elder(category)
    assert schedule_of(elder, DAY_BEFORE_XIHU) == ("monthly", {category})
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("monthly", {category})


def test_xihu_adds_the_cognitively_impaired_monthly_from_the_documents_date(make_elder):
    elder = make_elder("cognitive_impairment")
    assert schedule_of(elder, DAY_BEFORE_XIHU) is None
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("monthly", {"cognitive_impairment"})


def test_xihu_does_not_list_the_economically_difficult(make_elder):
    elder = make_elder("minimum_living", "destitute")
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) is None


@pytest.mark.parametrize(
    ("level", "listed"),
    [("intact", False), ("mild", False), ("moderate", True), ("severe", True)],
)
def test_disabled_means_moderate_or_worse_by_the_latest_assessment(make_elder, level, listed):
    elder = make_elder()
    residents.record_legacy_assessment(
        elder=elder, assessed_on=datetime.date(2023, 6, 1), assessor="评估员", level=level
    )
    expected = ("monthly", {"disabled"}) if listed else None
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == expected


def test_a_later_better_assessment_takes_the_elder_off_the_list(make_elder):
    elder = make_elder()
    for day, level in [(datetime.date(2023, 6, 1), "severe"), (datetime.date(2024, 3, 1), "mild")]:
        residents.record_legacy_assessment(
            elder=elder, assessed_on=day, assessor="评估员", level=level
        )
    assert schedule_of(elder, datetime.date(2024, 2, 29)) == ("monthly", {"disabled"})
    assert schedule_of(elder, datetime.date(2024, 3, 1)) is None


def test_an_ended_category_no_longer_lists_the_elder(make_elder):
    elder = make_elder("empty_nest")
    residents.end_category(elder=elder, category="empty_nest", end_date=datetime.date(2024, 3, 10))
    assert schedule_of(elder, datetime.date(2024, 3, 10)) == ("monthly", {"empty_nest"})
    assert schedule_of(elder, datetime.date(2024, 3, 11)) is None


def test_frequencies_are_read_from_the_rulebook_not_the_code(make_elder):
    elder = make_elder("living_alone")
    PolicyValue.objects.filter(
        region__code="330106", key="visit_frequency_special_difficulty"
    ).update(frequency="daily")
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("daily", {"living_alone"})


# --- Jinhua, Anji, Ningbo -------------------------------------------------------------------


@pytest.mark.parametrize("category", ["destitute", "minimum_living", "near_minimum_living"])
def test_jinhua_adds_the_economically_difficult_from_its_documents_date(make_elder, category):
    elder = make_elder(category, lives=JINHUA_DISTRICT)
    assert schedule_of(elder, JINHUA_IN_FORCE - datetime.timedelta(days=1)) is None
    assert schedule_of(elder, JINHUA_IN_FORCE) == ("monthly", {category})


def test_jinhua_childless_alone_are_not_visited_daily(make_elder):
    elder = make_elder("childless_alone", "living_alone", lives=JINHUA_DISTRICT)
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("monthly", {"living_alone"})


def anji_elder(make_elder, birth: datetime.date):
    id_number = with_check_character(f"330523{birth:%Y%m%d}001")
    return make_elder(lives=ANJI, registered=ANJI, id_number=id_number)


def test_anji_adds_high_age_elders_from_the_rulebook_threshold(make_elder):
    on = datetime.date(2024, 5, 10)
    turned_80_that_day = anji_elder(make_elder, datetime.date(1944, 5, 10))
    assert schedule_of(turned_80_that_day, on) == ("monthly", {"high_age"})
    assert schedule_of(turned_80_that_day, on - datetime.timedelta(days=1)) is None


def test_anji_high_age_rule_starts_with_its_document(make_elder):
    elder = anji_elder(make_elder, datetime.date(1930, 3, 3))
    assert schedule_of(elder, ANJI_IN_FORCE - datetime.timedelta(days=1)) is None
    assert schedule_of(elder, ANJI_IN_FORCE) == ("monthly", {"high_age"})


def test_high_age_alone_lists_nobody_outside_anji(make_elder):
    elder = make_elder(id_number=with_check_character("33010619300303002"))
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) is None


def test_ningbo_follows_the_provinces_groups(make_elder):
    alone = make_elder("living_alone", lives=NINGBO_DISTRICT)
    poor = make_elder("minimum_living", lives=NINGBO_DISTRICT)
    assert schedule_of(alone, XIHU_DOC_IN_FORCE) == ("monthly", {"living_alone"})
    assert schedule_of(poor, XIHU_DOC_IN_FORCE) is None


# --- residence, not registration ------------------------------------------------------------


def test_the_rules_of_the_residence_apply_not_those_of_the_registration(make_elder):
    lives_in_jinhua = make_elder("minimum_living", lives=JINHUA_DISTRICT, registered="330106")
    lives_in_xihu = make_elder("minimum_living", lives=XIHU_COMMUNITY, registered="330702")
    assert schedule_of(lives_in_jinhua, XIHU_DOC_IN_FORCE) == ("monthly", {"minimum_living"})
    assert schedule_of(lives_in_xihu, XIHU_DOC_IN_FORCE) is None


def test_an_area_lists_who_lives_there_not_who_is_registered_there(make_elder):
    registered_here_lives_elsewhere = make_elder(
        "living_alone", lives=JINHUA_DISTRICT, registered="330106"
    )
    lives_here = make_elder("living_alone", lives=XIHU_COMMUNITY, registered="330702")
    listed = {
        r.elder_id
        for r in elders_to_visit(areas=[Region.objects.get(code="330106")], on=XIHU_DOC_IN_FORCE)
    }
    assert lives_here.pk in listed
    assert registered_here_lives_elsewhere.pk not in listed


def test_elders_without_a_recorded_residence_are_listed_by_their_registration(make_elder):
    elder = make_elder("living_alone", lives=None, registered=NINGBO_DISTRICT)
    assert schedule_of(elder, XIHU_DOC_IN_FORCE) == ("monthly", {"living_alone"})
    assert schedule_of(elder, XIHU_DOC_IN_FORCE, area_code="330106") is None


# --- the dead -------------------------------------------------------------------------------


def test_the_dead_are_never_listed_from_the_day_of_death(make_elder):
    elder = make_elder("childless_alone")
    residents.record_death(elder=elder, death_date=datetime.date(2024, 3, 15))
    assert schedule_of(elder, datetime.date(2024, 3, 14)) == ("daily", {"childless_alone"})
    assert schedule_of(elder, datetime.date(2024, 3, 15)) is None
    assert schedule_of(elder, datetime.date(2024, 6, 1)) is None
