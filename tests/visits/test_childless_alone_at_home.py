"""At home, a childless-and-alone (孤寡) elder lives alone: the province's group (000 清单14) and
the lists restating it take them as living alone even when not tagged so (issue 16,
docs/policy.md §6). In a care institution they are not; a home-care bed is at home. The day a
stay starts the elder is in the institution; the day it ends, at home again."""

import datetime

import pytest

from facilities import services as facilities
from regions import conditions
from regions.models import Region
from residents.models import Elder
from tests.factories import BedFactory, FacilityFactory
from tests.visits.conftest import ANJI, JINHUA_DISTRICT, NINGBO_DISTRICT, XIHU_COMMUNITY
from visits.selectors import compliance, elders_to_visit

pytestmark = pytest.mark.django_db

D = datetime.date
ON = D(2024, 3, 5)
XIHU_DOC_IN_FORCE = D(2024, 1, 30)


def schedule_of(elder, on):
    rows = {
        r.elder_id: r for r in elders_to_visit(areas=[Region.objects.get(code="330000")], on=on)
    }
    row = rows.get(elder.pk)
    return None if row is None else (row.frequency, set(row.groups))


@pytest.mark.parametrize("lives", [NINGBO_DISTRICT, JINHUA_DISTRICT, ANJI])
def test_outside_xihu_a_childless_alone_elder_at_home_is_visited_as_living_alone(make_elder, lives):
    untagged = make_elder("childless_alone", lives=lives)
    frequency, groups = schedule_of(untagged, ON)
    # Anji's list also names the high-aged (高龄), which an elder of the factory may be.
    assert frequency == "monthly" and groups - {"high_age"} == {"living_alone"}


def test_a_tagged_one_is_listed_once_for_the_same_reason(make_elder):
    both = make_elder("childless_alone", "living_alone", lives=NINGBO_DISTRICT)
    assert schedule_of(both, ON) == ("monthly", {"living_alone"})


@pytest.fixture
def stay(zhejiang):
    """An admission of ``elder`` from ``first`` to ``end`` (None: still there)."""

    def admit(elder, first, end=None, bed_type="general"):
        home = {"home_address": "杭州市某小区1幢101室"} if bed_type == "home_care" else {}
        bed = BedFactory(facility=FacilityFactory(), bed_type=bed_type, **home)
        facilities.admit_to_bed(elder=elder, bed=bed, start_date=first)
        if end is not None:
            facilities.discharge(elder=elder, end_date=end)

    return admit


def test_in_an_institution_they_are_not_living_alone(make_elder, stay):
    elder = make_elder("childless_alone", lives=NINGBO_DISTRICT)
    stay(elder, D(2024, 3, 10), D(2024, 3, 20))
    assert schedule_of(elder, D(2024, 3, 9)) == ("monthly", {"living_alone"})
    assert schedule_of(elder, D(2024, 3, 10)) is None  # admitted that day
    assert schedule_of(elder, D(2024, 3, 19)) is None
    assert schedule_of(elder, D(2024, 3, 20)) == ("monthly", {"living_alone"})  # home again


def test_a_home_care_bed_is_at_home(make_elder, stay):
    elder = make_elder("childless_alone", lives=NINGBO_DISTRICT)
    stay(elder, D(2024, 1, 1), bed_type="home_care")
    assert schedule_of(elder, ON) == ("monthly", {"living_alone"})


def test_tagged_as_living_alone_they_are_listed_wherever_they_are(make_elder, stay):
    # The tag is the register's word; only the inference from 孤寡 needs the home.
    elder = make_elder("childless_alone", "living_alone", lives=NINGBO_DISTRICT)
    stay(elder, D(2024, 1, 1))
    assert schedule_of(elder, ON) == ("monthly", {"living_alone"})


def test_xihu_visits_them_daily_under_its_own_list(make_elder, stay):
    at_home = make_elder("childless_alone", lives=XIHU_COMMUNITY)
    assert schedule_of(at_home, XIHU_DOC_IN_FORCE) == ("daily", {"childless_alone"})
    # Before Xihu's document, Xihu had the province's list: at home, as living alone.
    assert schedule_of(at_home, XIHU_DOC_IN_FORCE - datetime.timedelta(days=1)) == (
        "monthly",
        {"living_alone"},
    )


def test_compliance_owes_the_months_spent_at_home(make_elder, stay):
    elder = make_elder("childless_alone", lives=NINGBO_DISTRICT)
    stay(elder, D(2024, 2, 1), D(2024, 4, 1))  # February and March in the institution
    report = compliance(
        area=Region.objects.get(code=NINGBO_DISTRICT), start=D(2024, 1, 1), end=D(2024, 4, 30)
    )
    assert report.total.monthly_owed == 2  # January and April
    assert [o.missed for o in report.overdue if o.elder_id == elder.pk] == [2]


def test_the_query_and_the_python_reading_agree_around_a_stay(make_elder, stay):
    elder = make_elder("childless_alone", lives=NINGBO_DISTRICT)
    stay(elder, D(2024, 3, 10), D(2024, 3, 20))
    home_bed = make_elder("childless_alone", lives=NINGBO_DISTRICT)
    stay(home_bed, D(2024, 3, 1), bed_type="home_care")
    condition = {"lives_at_home": True}
    for day in [D(2024, 3, d) for d in (9, 10, 11, 19, 20, 21)]:
        by_query = set(
            Elder.objects.filter(conditions.to_q(condition, on=day)).values_list("pk", flat=True)
        )
        for who in (elder, home_bed):
            in_institution = who == elder and D(2024, 3, 10) <= day < D(2024, 3, 20)
            facts = conditions.Facts(
                on=day, birth_date=who.birth_date, in_institution=in_institution
            )
            assert (who.pk in by_query) == conditions.evaluate(condition, facts), (who, day)
    # A reader that did not read stays cannot answer.
    with pytest.raises(ValueError):
        conditions.evaluate(condition, conditions.Facts(on=ON, birth_date=D(1940, 1, 1)))


def test_the_condition_is_validated_and_described():
    conditions.validate({"lives_at_home": True})
    with pytest.raises(Exception, match="应为 true"):
        conditions.validate({"lives_at_home": False})
    assert conditions.describe({"lives_at_home": True}, region_names={}) == "居家（未入住养老机构）"
