"""``{"placed_by_county": true}``: in a care institution's bed on the day, in a stay whose
placement the county approved on or before it (docs/policy.md §1 nursing subsidy). The query
reading and the Python reading agree at every edge: admission, approval and discharge on either
side of the day, a home-care bed, no approval."""

import datetime

import pytest

from facilities import services as facilities
from regions import conditions
from regions.models import Region
from residents.models import Elder
from tests.factories import BedFactory, ElderFactory, FacilityFactory

D = datetime.date
PLACED = {"placed_by_county": True}
DAYS = [D(2024, 3, d) for d in (4, 5, 9, 10, 11, 19, 20, 21)]


@pytest.fixture
def elders(rulebook):
    """(elder, [(first day, end day, approval day)]) for each case."""
    xihu = Region.objects.get(code="330106")
    cases = [
        # admitted the 5th, approved the 10th, discharged the 20th
        ("general", D(2024, 3, 5), D(2024, 3, 10), D(2024, 3, 20)),
        # approved before the admission on the 10th, still there
        ("general", D(2024, 3, 10), D(2024, 3, 4), None),
        # never approved
        ("general", D(2024, 3, 5), None, None),
        # a home-care bed is at home, whatever else is recorded
        ("home_care", D(2024, 3, 5), None, None),
    ]
    made = []
    for bed_type, first, approved, end in cases:
        elder = ElderFactory()
        home = {"home_address": "杭州市某小区1幢101室"} if bed_type == "home_care" else {}
        bed = BedFactory(facility=FacilityFactory(), bed_type=bed_type, **home)
        stay = facilities.admit_to_bed(elder=elder, bed=bed, start_date=first)
        if approved is not None:
            facilities.record_placement_approval(
                stay=stay, approved_on=approved, approval_number="批1", approved_by=xihu
            )
        if end is not None:
            facilities.discharge(elder=elder, end_date=end)
        made.append((elder, [] if bed_type == "home_care" else [(first, end, approved)]))
    return made


def test_the_query_and_the_python_reading_agree_around_the_stay(elders):
    for day in DAYS:
        by_query = set(
            Elder.objects.filter(conditions.to_q(PLACED, on=day)).values_list("pk", flat=True)
        )
        for elder, stays in elders:
            facts = conditions.Facts(
                on=day,
                birth_date=elder.birth_date,
                placed_by_county=conditions.placed_on(stays, day),
            )
            assert (elder.pk in by_query) == conditions.evaluate(PLACED, facts), (elder, day)
    first, approved_first, never, home_care = (e for e, _ in elders)
    placed_on_the_11th = set(
        Elder.objects.filter(conditions.to_q(PLACED, on=D(2024, 3, 11))).values_list(
            "pk", flat=True
        )
    )
    assert placed_on_the_11th == {first.pk, approved_first.pk}


def test_the_first_cut_keeps_whoever_is_placed_some_day_of_the_period(elders):
    for start, end in [(D(2024, 3, 1), D(2024, 3, 9)), (D(2024, 3, 9), D(2024, 3, 31))]:
        cut = set(
            Elder.objects.filter(conditions.candidates_q(PLACED, start=start, end=end)).values_list(
                "pk", flat=True
            )
        )
        days = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
        for elder, stays in elders:
            if any(conditions.placed_on(stays, day) for day in days):
                assert elder.pk in cut, (elder, start, end)


def test_a_reader_that_did_not_read_stays_cannot_answer():
    with pytest.raises(ValueError):
        conditions.evaluate(PLACED, conditions.Facts(on=D(2024, 3, 1), birth_date=D(1940, 1, 1)))


def test_the_condition_is_validated_and_described():
    conditions.validate(PLACED)
    conditions.validate({"not": PLACED})
    with pytest.raises(Exception, match="应为 true"):
        conditions.validate({"placed_by_county": False})
    assert conditions.describe(PLACED, region_names={}) == "经县级民政部门批准入住养老机构"
