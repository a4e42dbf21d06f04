"""Each item's rule of who it is for, at its boundaries: the database reading (coverage's) and
the Python reading of the same condition agree, on the day the boundary falls."""

import datetime

import pytest

from regions import conditions
from regions.models import Region
from residents.ages import add_years
from residents.models import Elder, ElderCategory
from servicelist.coverage import entitled_elders
from servicelist.models import ServiceItem

D = datetime.date
DAY = D(2024, 6, 1)
_serial = iter(range(1, 10**6))


def make_elder(age_days_short=0, years=60, *, hukou="330106004001", categories=(), pension="none"):
    """An elder who turns ``years`` on DAY minus ``age_days_short`` days (positive: not yet)."""
    birth = add_years(DAY, -years) + datetime.timedelta(days=age_days_short)
    elder = Elder.objects.create(
        id_number=f"T{next(_serial):017d}",
        name="测试",
        sex="F",
        birth_date=birth,
        hukou_region=Region.objects.get(code=hukou),
        residence_region=None,
        pension_type=pension,
    )
    for code in categories:
        ElderCategory.objects.create(elder=elder, category=code, start_date=D(2020, 1, 1))
    return elder


def entitled(code, elder, area="330106"):
    item = ServiceItem.objects.get(code=code)
    in_sql = entitled_elders(item, Region.objects.get(code=area), DAY).filter(pk=elder.pk).exists()
    facts = conditions.Facts(
        on=DAY,
        birth_date=elder.birth_date,
        categories=frozenset(elder.categories.values_list("category", flat=True)),
        pension_type=elder.pension_type,
        hukou_path=elder.hukou_region.path,
    )
    values = conditions.resolve_values(item.condition, Region.objects.get(code=area), DAY)
    in_python = conditions.evaluate(item.condition, facts, values=values)
    assert in_sql == in_python, code
    return in_sql


# (item, elder's years on DAY, days short of that birthday, categories, registered, expected)
CASES = [
    # Xihu 清单11: e-allowance for ages 70–79 registered in Xihu.
    ("330106:11", 70, 0, (), "330106004001", True),
    ("330106:11", 70, 1, (), "330106004001", False),
    ("330106:11", 79, 0, (), "330106004001", True),
    ("330106:11", 80, 0, (), "330106004001", False),
    ("330106:11", 75, 0, (), "330203", False),
    # Xihu 清单15: high-age allowance from the 80th birthday, Xihu registration.
    ("330106:15", 80, 0, (), "330106004001", True),
    ("330106:15", 80, 1, (), "330106004001", False),
    # Xihu 清单12: 70+ living alone, empty-nest or childless-and-alone; everyone 80+.
    ("330106:12", 70, 0, ("living_alone",), "330106004001", True),
    ("330106:12", 70, 1, ("living_alone",), "330106004001", False),
    ("330106:12", 75, 0, (), "330106004001", False),
    ("330106:12", 80, 0, (), "330106004001", True),
    # Xihu 清单23: 低保 households.
    ("330106:23", 60, 0, ("minimum_living",), "330106004001", True),
    ("330106:23", 60, 0, ("near_minimum_living",), "330106004001", False),
    ("330106:23", 60, 1, ("minimum_living",), "330106004001", False),
    # Xihu 清单26: visits — childless-and-alone and cognitively impaired included.
    ("330106:26", 60, 0, ("childless_alone",), "330106004001", True),
    ("330106:26", 60, 0, ("cognitive_impairment",), "330106004001", True),
    ("330106:26", 60, 0, (), "330106004001", False),
    # Xihu 清单17: newspaper for 80+.
    ("330106:17", 80, 0, (), "330106004001", True),
    ("330106:17", 79, 0, (), "330106004001", False),
    # The province's 清单7 (inherited in Xihu): economically difficult elders.
    ("330000:7", 60, 0, ("destitute",), "330106004001", True),
    ("330000:7", 60, 0, ("living_alone",), "330106004001", False),
]


@pytest.mark.parametrize(("code", "years", "short", "categories", "hukou", "expected"), CASES)
def test_xihu_items_at_their_boundaries(
    service_items, code, years, short, categories, hukou, expected
):
    elder = make_elder(short, years, hukou=hukou, categories=categories)
    assert (
        entitled(code, elder, area="330106" if hukou.startswith("330106") else "330203") is expected
    )


@pytest.mark.parametrize(
    ("years", "short", "expected"), [(65, 0, True), (65, 1, False), (90, 0, True)]
)
def test_jinhua_checks_everyone_from_65(service_items, years, short, expected):
    elder = make_elder(short, years, hukou="330702")
    assert entitled("330700:5", elder, area="330700") is expected


@pytest.mark.parametrize(
    ("years", "categories", "expected"),
    [
        (80, ("minimum_living",), True),  # 幸福养: 低保 and 80+
        (79, ("minimum_living",), False),  # not 80 and not assessed as disabled
        (85, (), False),  # 80+ but not in a difficult household
        (80, ("near_minimum_living",), True),
    ],
)
def test_anji_happy_care_for_difficult_households(service_items, years, categories, expected):
    elder = make_elder(0, years, hukou="330523", categories=categories)
    assert entitled("330523:12", elder, area="330523") is expected


@pytest.mark.parametrize(("years", "expected"), [(60, True), (59, False)])
def test_anji_insures_every_registered_elder_from_60(service_items, years, expected):
    elder = make_elder(0, years, hukou="330523")
    assert entitled("330523:8", elder, area="330523") is expected


def test_every_item_with_a_condition_reads_the_registry_in_both_readings(service_items):
    """Every item's condition compiles for its own region on a day it is in force."""
    for item in ServiceItem.objects.exclude(condition=None).select_related("region"):
        day = max(DAY, item.effective_from)
        entitled_elders(item, item.region, day).count()
