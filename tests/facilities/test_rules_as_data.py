"""Waiting-list precedence and staffing classes are data (regions/data/eligibility.toml, then
the database), inherited down the tree: a jurisdiction's own rule applies to its institutions,
and a change is a rule, never code."""

import datetime

import pytest

from facilities import services
from facilities.choices import Precedence
from facilities.rules import CARE_CLASS_SUBJECT, PRECEDENCE_SUBJECT
from facilities.selectors import staffing_report, staffing_reports, waiting_list
from regions.models import EligibilityRule, Region
from regions.services import add_eligibility_rule, end_eligibility_rule
from residents.id_numbers import with_check_character
from residents.services import record_legacy_assessment, set_category
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date
ON = D(2024, 6, 1)

pytestmark = pytest.mark.django_db


def region(code):
    return Region.objects.get(code=code)


def apply(facility, *categories, applied_on=None, **elder):
    person = ElderFactory(**elder)
    for category in categories:
        set_category(elder=person, category=category, start_date=D(2023, 1, 1))
    services.apply_for_place(
        facility=facility, elder=person, applied_on=applied_on or D(2024, 1, 1)
    )
    return person


def test_bravery_comes_first_in_xihus_institutions_from_xihus_document(rulebook):
    """西政办〔2023〕46号 清单35 is Xihu's: elsewhere the applicant waits with everyone."""
    xihu = FacilityFactory()
    jinhua = FacilityFactory(name="金华市社会福利院", region=region("330702"))
    for home in (xihu, jinhua):
        apply(home, applied_on=D(2023, 12, 1))
        apply(home, "bravery_disabled", applied_on=D(2024, 1, 2))
    assert [e.rule.code for e in waiting_list(xihu, ON)] == ["bravery_disabled", "general"]
    assert waiting_list(xihu, ON)[0].rule.precedence == Precedence.BRAVERY_DISABLED
    assert [e.rule.code for e in waiting_list(jinhua, ON)] == ["general", "general"]
    assert [e.rule.code for e in waiting_list(xihu, D(2024, 1, 29))] == ["general", "general"]


def test_anjis_happy_care_reads_age_at_80_on_the_day(rulebook):
    home = FacilityFactory(name="安吉县福利中心", region=region("330523"))
    elder = apply(home, "minimum_living", id_number=with_check_character("33010619440601001"))
    assert waiting_list(home, D(2024, 5, 31))[0].rule.code == "general"
    assert waiting_list(home, D(2024, 6, 1))[0].rule.code == "anji_happy_care"
    assert "安吉县实施意见 清单12" in waiting_list(home, ON)[0].explanation
    assert elder.pk == waiting_list(home, ON)[0].application.elder_id


def test_a_bureau_adds_a_precedence_rule_as_data(rulebook):
    add_eligibility_rule(
        reason="区民政局：90周岁以上老人优先",
        subject=PRECEDENCE_SUBJECT,
        code="age_90_plus",
        label="90周岁以上老年人",
        region=region("330106"),
        effective_from=D(2024, 3, 1),
        rank=7,
        condition={"age_at_least": 90},
        citation="西湖区民政局决定",
    )
    home = FacilityFactory()
    younger = apply(
        home, applied_on=D(2023, 1, 1), id_number=with_check_character("33010619500101001")
    )
    older = apply(
        home, applied_on=D(2024, 1, 1), id_number=with_check_character("33010619300101001")
    )
    assert [e.application.elder for e in waiting_list(home, ON)] == [older, younger]
    assert waiting_list(home, ON)[0].rule.label == "90周岁以上老年人"
    assert [e.application.elder for e in waiting_list(home, D(2024, 2, 29))] == [younger, older]


def test_the_waiting_list_is_two_queries_whatever_its_length(rulebook, django_assert_num_queries):
    home = FacilityFactory()
    for n in range(6):
        apply(home, ["destitute", "veteran", "lost_only_child"][n % 3])
    with django_assert_num_queries(2):
        entries = waiting_list(home, ON)
    assert len(entries) == 6


def test_applicants_no_rule_places_wait_after_every_rank(rulebook):
    general = EligibilityRule.objects.get(
        subject=PRECEDENCE_SUBJECT, region__code="330000", code="general"
    )
    end_eligibility_rule(row=general, effective_to=D(2024, 5, 31), reason="测试")
    home = FacilityFactory()
    apply(home, "destitute", applied_on=D(2024, 2, 1))
    apply(home, applied_on=D(2024, 1, 1))
    entries = waiting_list(home, ON)
    assert [e.rule.code for e in entries] == ["destitute", ""]
    assert entries[1].precedence == 6 and entries[1].rule.label == "未列入任何顺位"


# --- staffing classes -------------------------------------------------------------------------


def _resident(facility, level):
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=BedFactory(facility=facility), start_date=D(2024, 1, 1))
    record_legacy_assessment(elder=elder, assessed_on=D(2024, 1, 1), assessor="评估员", level=level)


def test_staffing_classes_come_from_the_rules_of_the_facilitys_region(rulebook):
    ningbo = FacilityFactory(name="宁波测试院", region=region("330203"), is_destitute_support=True)
    xihu = FacilityFactory(name="西湖测试院", is_destitute_support=True)
    for home in (ningbo, xihu):
        for level in ("severe", "mild", "intact"):
            _resident(home, level)
    # Ningbo decides that mild disability counts as self-caring.
    add_eligibility_rule(
        reason="测试：轻度失能按自理计",
        subject=CARE_CLASS_SUBJECT,
        code="partly_disabled",
        label="部分失能",
        region=region("330200"),
        effective_from=D(2024, 1, 1),
        rank=2,
        condition={"ability_level": ["moderate"]},
        citation="测试",
    )
    add_eligibility_rule(
        reason="测试：轻度失能按自理计",
        subject=CARE_CLASS_SUBJECT,
        code="self_caring",
        label="自理",
        region=region("330200"),
        effective_from=D(2024, 1, 1),
        rank=3,
        condition={"ability_level": ["intact", "mild"]},
        citation="测试",
    )
    expected = {
        ningbo.pk: {"fully_disabled": 1, "partly_disabled": 0, "self_caring": 2},
        xihu.pk: {"fully_disabled": 1, "partly_disabled": 1, "self_caring": 1},
    }
    for home in (ningbo, xihu):
        assert staffing_report(home, ON).counts == expected[home.pk]
    # The dashboard's batch reads the same rules.
    assert {r.facility.pk: r.counts for r in staffing_reports([ningbo, xihu], ON)} == expected


def test_a_level_no_class_names_is_left_out_and_said(rulebook):
    home = FacilityFactory(is_destitute_support=True)
    _resident(home, "mild")
    _resident(home, "severe")
    partly = EligibilityRule.objects.get(
        subject=CARE_CLASS_SUBJECT, region__code="330000", code="partly_disabled"
    )
    add_eligibility_rule(
        reason="测试",
        subject=CARE_CLASS_SUBJECT,
        code="partly_disabled",
        label=partly.label,
        region=region("330106"),
        effective_from=D(2024, 1, 1),
        rank=2,
        condition={"ability_level": ["moderate"]},
        citation="测试",
    )
    report = staffing_report(home, ON)
    assert report.counts == {"fully_disabled": 1, "partly_disabled": 0, "self_caring": 0}
    assert "轻度失能" in report.error and "未对应配比类别" in report.error
    (batch,) = staffing_reports([home], ON)
    assert batch.error == report.error
