import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from regions.models import PolicyValue, Region
from residents import services
from residents.assessment_rules import ITEMS, MAX_TOTAL, compute_level, level_for_total
from residents.choices import AbilityLevel, AssessmentStandard
from residents.models import AbilityAssessment
from residents.selectors import latest_assessment_levels
from tests.factories import ElderFactory

L = AbilityLevel


def scores_totalling(total: int) -> dict[str, int]:
    """Item scores that add up to ``total``, filling items in form order."""
    scores, left = {}, total
    for item in ITEMS:
        scores[item.field] = min(item.max_score, left)
        left -= scores[item.field]
    assert left == 0
    return scores


def test_the_26_items_add_up_to_90_in_four_dimensions():
    assert len(ITEMS) == 26
    assert MAX_TOTAL == 90
    per_dimension = {}
    for item in ITEMS:
        per_dimension.setdefault(item.dimension, []).append(item.max_score)
    assert {d: (len(v), sum(v)) for d, v in per_dimension.items()} == {
        "self_care": (8, 32),
        "mobility": (4, 15),
        "mental_state": (9, 28),
        "perception_social": (5, 15),
    }


@pytest.mark.parametrize(
    ("total", "level"),
    [
        (0, L.TOTAL),
        (29, L.TOTAL),
        (30, L.SEVERE),
        (45, L.SEVERE),
        (46, L.MODERATE),
        (65, L.MODERATE),
        (66, L.MILD),
        (89, L.MILD),
        (90, L.INTACT),
    ],
)
def test_band_edges(total, level):
    assert level_for_total(total) == level


def _level(total, *, coma=False, dementia=False, events=0, stack=False):
    return compute_level(
        total=total,
        in_coma=coma,
        has_dementia_or_psychiatric_diagnosis=dementia,
        care_risk_events_30_days=events,
        adjustments_stack=stack,
    )


def test_coma_is_total_whatever_the_score():
    outcome = _level(90, coma=True)
    assert (outcome.computed_level, outcome.final_level) == (L.INTACT, L.TOTAL)
    assert "昏迷" in outcome.reason_text


def test_dementia_diagnosis_makes_the_level_one_worse():
    assert _level(70, dementia=True).final_level == L.MODERATE


def test_one_care_risk_event_changes_nothing_two_make_it_one_worse():
    assert _level(70, events=1).final_level == L.MILD
    assert _level(70, events=2).final_level == L.MODERATE


def test_both_adjustments_move_one_step_unless_the_setting_stacks_them():
    assert _level(70, dementia=True, events=3, stack=False).final_level == L.MODERATE
    assert _level(70, dementia=True, events=3, stack=True).final_level == L.SEVERE


def test_adjustments_never_go_past_total():
    assert _level(31, dementia=True, events=2, stack=True).final_level == L.TOTAL
    assert _level(10, dementia=True).final_level == L.TOTAL


@pytest.fixture
def elder(rulebook):
    return ElderFactory()


def test_recorded_assessment_stores_items_dimensions_levels_and_reason(elder):
    a = services.record_assessment(
        elder=elder,
        assessed_on=datetime.date(2024, 5, 1),
        assessor="张评估",
        scores=scores_totalling(66),
        has_dementia_or_psychiatric_diagnosis=True,
    )
    a.refresh_from_db()
    assert a.total_score == 66
    assert (
        a.self_care_score + a.mobility_score + a.mental_state_score + a.perception_social_score
        == 66
    )
    assert (a.computed_level, a.final_level) == (L.MILD, L.MODERATE)
    assert "精神疾病" in a.change_reason
    assert a.standard == AssessmentStandard.GB_T_42195_2022


def test_stacking_follows_the_rulebook_setting(elder):
    PolicyValue.objects.filter(key="assessment_risk_adjustments_stack").update(value=1)
    a = services.record_assessment(
        elder=elder,
        assessed_on=datetime.date(2024, 5, 1),
        assessor="张评估",
        scores=scores_totalling(70),
        has_dementia_or_psychiatric_diagnosis=True,
        care_risk_events_30_days=2,
    )
    assert a.final_level == L.SEVERE


def test_an_item_score_above_its_maximum_is_refused_naming_the_item(elder):
    scores = scores_totalling(50)
    scores["stairs"] = 4
    with pytest.raises(ValidationError) as error:
        services.record_assessment(
            elder=elder, assessed_on=datetime.date(2024, 5, 1), assessor="张", scores=scores
        )
    assert "stairs" in error.value.message_dict


def test_a_missing_item_is_refused(elder):
    scores = scores_totalling(50)
    del scores["vision"]
    with pytest.raises(ValidationError) as error:
        services.record_assessment(
            elder=elder, assessed_on=datetime.date(2024, 5, 1), assessor="张", scores=scores
        )
    assert "vision" in error.value.message_dict


def test_assessor_changing_the_level_needs_a_reason(elder):
    kwargs = {
        "elder": elder,
        "assessed_on": datetime.date(2024, 5, 1),
        "assessor": "张",
        "scores": scores_totalling(70),
        "final_level": L.MODERATE,
    }
    with pytest.raises(ValidationError) as error:
        services.record_assessment(**kwargs)
    assert "change_reason" in error.value.message_dict
    a = services.record_assessment(**kwargs, change_reason="夜间照护需求高")
    assert a.final_level == L.MODERATE and "夜间照护需求高" in a.change_reason


def test_database_refuses_a_level_change_without_reason(elder):
    a = services.record_legacy_assessment(
        elder=elder, assessed_on=datetime.date(2015, 1, 1), assessor="李", level=L.MILD
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AbilityAssessment.objects.filter(pk=a.pk).update(final_level=L.SEVERE)


def test_mzt_records_keep_their_standard_and_four_levels(elder):
    a = services.record_legacy_assessment(
        elder=elder, assessed_on=datetime.date(2015, 1, 1), assessor="李", level=L.SEVERE
    )
    assert a.standard == AssessmentStandard.MZ_T_039_2013
    with pytest.raises(ValidationError):
        services.record_legacy_assessment(
            elder=elder, assessed_on=datetime.date(2015, 1, 1), assessor="李", level=L.TOTAL
        )


def test_latest_assessment_levels_in_one_query(elder, django_assert_num_queries):
    other = ElderFactory()
    never = ElderFactory()
    for day, total in [(datetime.date(2023, 1, 1), 90), (datetime.date(2024, 1, 1), 50)]:
        services.record_assessment(
            elder=elder, assessed_on=day, assessor="张", scores=scores_totalling(total)
        )
    services.record_assessment(
        elder=other,
        assessed_on=datetime.date(2023, 6, 1),
        assessor="张",
        scores=scores_totalling(20),
    )
    ids = [elder.pk, other.pk, never.pk]
    with django_assert_num_queries(1):
        levels = latest_assessment_levels(ids, datetime.date(2024, 6, 1))
    assert levels == {elder.pk: L.MODERATE, other.pk: L.TOTAL}
    assert latest_assessment_levels(ids, datetime.date(2023, 3, 1)) == {elder.pk: L.INTACT}


def test_rulebook_is_read_from_the_elders_household_region(elder):
    assert elder.hukou_region == Region.objects.get(code="330106")
