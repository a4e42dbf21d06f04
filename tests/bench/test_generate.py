"""The benchmark generator (bench/generate.py) writes valid registry data: ID numbers that pass
the registry's own validation and agree with the birth date and sex, the ageing pyramid, real
regions, category periods, beds and stays that respect one person, one bed, and visits of
existing elders. No timing here: the benchmarks measure, tests only check."""

import datetime
import random
from collections import Counter

import pytest

from bench import generate
from facilities.models import Bed, Facility, Stay
from regions.models import Region
from residents.id_numbers import parse_id_number
from residents.models import Elder, ElderCategory
from visits.models import Visit

TODAY = datetime.date(2025, 1, 1)


def _age(birth: datetime.date, on: datetime.date = TODAY) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@pytest.fixture
def generated(zhejiang):
    counts = generate.generate(elders=200, seed=7, today=TODAY, log=lambda message: None)
    return counts


def test_every_id_number_is_valid_and_agrees_with_birth_date_and_sex(generated):
    elders = list(Elder.objects.all())
    assert len(elders) == generated["elders"] == 200
    assert len({e.id_number for e in elders}) == 200
    assert len({e.elder_code for e in elders}) == 200
    for elder in elders:
        facts = parse_id_number(elder.id_number, today=TODAY)  # checksum, date, region code
        assert facts.birth_date == elder.birth_date
        assert facts.sex == elder.sex
        assert _age(elder.birth_date) >= 60
        assert elder.full_clean(exclude=["hukou_region", "residence_region"]) is None


def test_elders_are_registered_at_real_regions_of_zhejiang(generated):
    xihu = Region.objects.get(code="330106")
    for elder in Elder.objects.select_related("hukou_region", "residence_region"):
        assert elder.hukou_region.path.startswith("330000/")
        assert elder.hukou_region.level in ("community", "county")
        if elder.hukou_region.path.startswith(xihu.path):
            assert elder.residence_region.path.startswith(xihu.path)
            assert elder.id_number[:6] in generate.XIHU_ID_CODES
        else:
            assert elder.id_number[:6] == elder.hukou_region.code


def test_categories_facilities_stays_and_visits_hold_together(generated):
    periods = ElderCategory.objects.select_related("elder")
    assert periods.count() == generated["categories"] > 0
    for period in periods:
        assert period.end_date is None or period.end_date >= period.start_date
        assert _age(period.elder.birth_date, period.start_date) >= 60
        if period.elder.death_date:
            assert period.end_date == period.elder.death_date
    assert Facility.objects.count() == generated["facilities"] > 0
    assert Bed.objects.count() == generated["beds"] > 0
    stays = list(Stay.objects.select_related("elder", "bed"))
    assert len(stays) == generated["stays"]
    assert len({s.elder_id for s in stays}) == len(stays)  # one stay per elder at most
    open_beds = Counter(s.bed_id for s in stays if s.end_date is None)
    assert all(count == 1 for count in open_beds.values())
    for stay in stays:
        if stay.end_date is None:
            assert stay.elder.death_date is None
        else:
            assert stay.end_date == stay.elder.death_date and stay.end_reason == "died"
            following = [s for s in stays if s.bed_id == stay.bed_id and s.end_date is None]
            assert all(s.start_date >= stay.end_date for s in following)
    visits = Visit.objects.select_related("elder")
    assert visits.count() == generated["visits"]
    for visit in visits:
        assert visit.elder.categories.filter(
            category__in=generate.VISITED_CATEGORIES, end_date__isnull=True
        ).exists()
        assert (visit.latitude is None) == (visit.longitude is None)


def test_the_ids_and_sequences_move_on_so_a_second_load_adds_to_the_first(generated):
    generate.generate(elders=50, seed=8, today=TODAY, log=lambda message: None)
    assert Elder.objects.count() == 250
    Elder.objects.create(
        id_number="330106194001010016",
        name="之后登记",
        sex="M",
        birth_date=datetime.date(1940, 1, 1),
        hukou_region=Region.objects.get(code="330106"),
    )


def test_the_pyramid_has_one_in_eight_aged_80_and_a_few_hundred_centenarians_per_million():
    factory = generate.ElderFactory(random.Random(3), TODAY)
    ages = [factory.age() for _ in range(200_000)]
    assert min(ages) == 60
    assert 0.11 < sum(a >= 80 for a in ages) / len(ages) < 0.14
    per_million = sum(a >= 100 for a in ages) / len(ages) * 1_000_000
    assert 150 < per_million < 600
    assert max(ages) <= 110
