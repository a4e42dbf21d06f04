"""The visit lists are data (regions/data/eligibility.toml, then the database): changing who
is visited is a change to the data, never to the code."""

import datetime
import io

import pytest
from django.core.management import call_command

from regions.eligibility import RULES_FILE
from regions.models import EligibilityRule, Region
from regions.services import add_eligibility_rule, end_eligibility_rule
from residents.id_numbers import with_check_character
from tests.visits.conftest import XIHU_COMMUNITY, XIHU_OTHER_STREET_COMMUNITY
from visits import rules
from visits.selectors import elders_to_visit

D = datetime.date
FROM = D(2026, 1, 1)

pytestmark = pytest.mark.django_db

# Xihu's monthly list, from a later date, with one category more: the whole change.
VETERANS_JOIN_XIHU_MONTHLY = """
[[rule]]
subject = "visit_list"
code = "special_difficulty"
label = "独居、空巢、失能、失智等特殊困难老年人（月访）"
region = "330106"
from = "2026-01-01"
params = { frequency_key = "visit_frequency_special_difficulty" }
condition = { any = [
  { category = ["living_alone", "empty_nest", "left_behind", "severely_disabled", "cognitive_impairment", "family_planning_special", "lost_only_child", "veteran"] },
  { ability_level = ["moderate", "severe", "total"], as = "disabled" },
] }
citation = "a later Xihu document"
"""


def schedule_of(elder, on):
    rows = {
        r.elder_id: r for r in elders_to_visit(areas=[Region.objects.get(code="330000")], on=on)
    }
    row = rows.get(elder.pk)
    return None if row is None else (row.frequency, set(row.groups), row.citation)


def test_a_category_joining_xihus_monthly_list_is_one_block_of_data(make_elder, tmp_path):
    path = tmp_path / "eligibility.toml"
    path.write_text(RULES_FILE.read_text(encoding="utf-8") + VETERANS_JOIN_XIHU_MONTHLY)
    out = io.StringIO()
    call_command("load_eligibility", "--file", str(path), stdout=out)
    assert "created 1" in out.getvalue() and "differing 0" in out.getvalue()

    veteran = make_elder("veteran")
    alone = make_elder("living_alone")
    assert schedule_of(veteran, FROM - datetime.timedelta(days=1)) is None
    assert schedule_of(veteran, FROM) == ("monthly", {"veteran"}, "a later Xihu document")
    assert schedule_of(alone, FROM - datetime.timedelta(days=1))[:2] == (
        "monthly",
        {"living_alone"},
    )
    assert schedule_of(alone, FROM)[:2] == ("monthly", {"living_alone"})
    # The phone page names the new reason like any other.
    assert rules.group_labels()["veteran"] == "退役军人/残疾军人"


def test_a_street_may_add_a_list_of_its_own_and_its_neighbours_keep_the_districts(make_elder):
    add_eligibility_rule(
        reason="街道试点：每天电话问候80岁以上空巢老人",
        subject=rules.SUBJECT,
        code="empty_nest_80",
        label="80岁以上空巢老人（日访）",
        region=Region.objects.get(code="330106004"),  # 翠苑街道
        effective_from=FROM,
        condition={"all": [{"category": ["empty_nest"]}, {"age_at_least": 80, "as": "high_age"}]},
        params={"frequency_key": "visit_frequency_childless_alone"},
        citation="翠苑街道试点",
    )
    # Both born on 1 January 1940: 86 on the day.
    here = make_elder(
        "empty_nest", lives=XIHU_COMMUNITY, id_number=with_check_character("33010619400101001")
    )
    there = make_elder(
        "empty_nest",
        lives=XIHU_OTHER_STREET_COMMUNITY,
        id_number=with_check_character("33010619400101002"),
    )
    assert schedule_of(here, FROM)[:2] == ("daily", {"empty_nest", "high_age"})
    assert "翠苑街道试点" in schedule_of(here, FROM)[2]
    assert schedule_of(there, FROM)[:2] == ("monthly", {"empty_nest"})


def test_ending_a_list_in_the_database_takes_its_people_off_from_the_next_day(make_elder):
    daily = EligibilityRule.objects.get(
        subject=rules.SUBJECT, region__code="330106", code="childless_alone"
    )
    end_eligibility_rule(row=daily, effective_to=D(2025, 6, 30), reason="改由网格员每周走访")
    elder = make_elder("childless_alone")
    assert schedule_of(elder, D(2025, 6, 30))[:2] == ("daily", {"childless_alone"})
    assert schedule_of(elder, D(2025, 7, 1)) is None


def test_a_list_may_name_the_disability_certificate(make_elder):
    """A condition on the certificate (残疾人证) reads the same for visits as for coverage
    and the allowances: a street's list of elders with a grade 1 or 2 certificate."""
    add_eligibility_rule(
        reason="街道试点：一二级残疾老年人每日探访",
        subject=rules.SUBJECT,
        code="severe_disability_certificate",
        label="一、二级残疾老年人（日访）",
        region=Region.objects.get(code="330106004"),  # 翠苑街道
        effective_from=FROM,
        condition={"disability_grade": [1, 2], "as": "disability_certificate"},
        params={"frequency_key": "visit_frequency_childless_alone"},
        citation="翠苑街道试点",
    )
    certified = make_elder(
        disability_category="physical",
        disability_grade=1,
        id_number=with_check_character("33010619400101003"),
    )
    grade_four = make_elder(
        disability_category="physical",
        disability_grade=4,
        id_number=with_check_character("33010619400101004"),
    )
    assert schedule_of(certified, FROM)[:2] == ("daily", {"disability_certificate"})
    assert schedule_of(grade_four, FROM) is None
