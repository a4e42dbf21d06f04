import datetime

import pytest

from residents import services
from residents.id_numbers import with_check_character
from residents.selectors import (
    FreeAssessmentRule,
    free_assessment_rule,
    free_assessments_due,
    next_free_assessment_due,
)
from tests.factories import ElderFactory
from tests.residents.test_assessment_levels import scores_totalling

RULE = FreeAssessmentRule(age_threshold=80, interval_above=1, interval_below=2)
D = datetime.date


def test_the_rulebook_gives_yearly_at_80_and_two_yearly_below(rulebook):
    from regions.models import Region

    assert free_assessment_rule(Region.objects.get(code="330106"), D(2024, 6, 1)) == RULE


def test_under_80_the_next_free_assessment_is_two_years_later():
    due = next_free_assessment_due(
        birth_date=D(1950, 6, 1), last_assessed_on=D(2023, 3, 1), rule=RULE
    )
    assert due == D(2025, 3, 1)


def test_at_80_and_over_it_is_yearly():
    due = next_free_assessment_due(
        birth_date=D(1940, 6, 1), last_assessed_on=D(2023, 3, 1), rule=RULE
    )
    assert due == D(2024, 3, 1)


def test_reaching_80_between_assessments_brings_the_due_date_to_the_80th_birthday():
    due = next_free_assessment_due(
        birth_date=D(1944, 9, 1), last_assessed_on=D(2023, 3, 1), rule=RULE
    )
    assert due == D(2024, 9, 1)


def test_never_assessed_is_due_since_the_60th_birthday():
    due = next_free_assessment_due(birth_date=D(1950, 6, 1), last_assessed_on=None, rule=RULE)
    assert due == D(2010, 6, 1)


@pytest.fixture
def xihu(rulebook):
    from regions.models import Region

    return Region.objects.get(code="330106")


def test_due_list_names_due_and_overdue_living_elders_only(xihu):
    on = D(2024, 6, 1)
    young_recent = ElderFactory(id_number=with_check_character("33010619550101001"))
    young_old = ElderFactory(id_number=with_check_character("33010619550101011"))
    old_recent = ElderFactory(id_number=with_check_character("33010619400101021"))
    never = ElderFactory(id_number=with_check_character("33010619600101031"))
    dead = ElderFactory(id_number=with_check_character("33010619300101041"))
    for elder, day in [
        (young_recent, D(2023, 1, 1)),
        (young_old, D(2022, 5, 1)),
        (old_recent, D(2023, 6, 1)),
    ]:
        services.record_assessment(
            elder=elder, assessed_on=day, assessor="张", scores=scores_totalling(80)
        )
    services.record_death(elder=dead, death_date=D(2024, 1, 1))
    due = {d.elder_id: d for d in free_assessments_due(on)}
    assert set(due) == {young_old.pk, old_recent.pk, never.pk}
    assert due[old_recent.pk].due_on == D(2024, 6, 1) and not due[old_recent.pk].is_overdue(on)
    assert due[young_old.pk].due_on == D(2024, 5, 1) and due[young_old.pk].is_overdue(on)
    assert due[never.pk].last_assessed_on is None
