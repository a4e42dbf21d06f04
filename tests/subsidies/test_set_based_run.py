"""On PostgreSQL a chunk of the run is one INSERT … SELECT (subsidies/setbased.py): it must
write exactly the lines the Python rules write — same people, schemes, amounts, policy values
and the same "why this amount" inputs — at every age boundary, category, pension, death and
ability level, and add nothing on a rerun."""

import datetime
import random
from decimal import Decimal

import pytest

from regions.models import PolicyValue, Region
from regions.services import set_policy_value
from residents.choices import AbilityLevel, AssessmentStandard
from residents.id_numbers import with_check_character
from residents.models import AbilityAssessment, Elder, ElderCategory
from subsidies import setbased
from subsidies.models import AllowanceRun, AllowanceRunChunk, PaymentBatch, PaymentLine
from subsidies.run.planning import request_allowance_run

pytestmark = pytest.mark.postgres

NURSING_KEYS = (
    "nursing_subsidy_home_fully_unable",
    "nursing_subsidy_home_basically_unable",
    "nursing_subsidy_home_partly_unable",
)
REGIONS = ["330106", "330523", "330702", "330203", "330302", "330106001001", "330106002"]
CATEGORIES = ["minimum_living", "lost_only_child", "empty_nest", "living_alone", "destitute"]
LEVELS = [AbilityLevel.MODERATE, AbilityLevel.SEVERE, AbilityLevel.MILD]


def _population(count: int = 240) -> None:
    """Elders around every age boundary (the 1st of the month, 29 February), in several rate
    regions, with categories open, closed and not yet started, deaths before, on and after
    the 1st, and ability assessments before and after it."""
    rng = random.Random(8)
    regions = {
        code: Region.objects.get(code=code)
        for code in REGIONS
        if Region.objects.filter(code=code).exists()
    }
    boundaries = []
    for age in (60, 69, 70, 79, 80, 89, 90, 99, 100, 104):
        for year_offset, month, day in ((0, 5, 1), (0, 5, 2), (0, 4, 30), (0, 3, 1), (0, 2, 28)):
            boundaries.append(datetime.date(2024 - age + year_offset, month, day))
    boundaries += [
        datetime.date(1944, 2, 29),
        datetime.date(1924, 2, 29),
        datetime.date(1964, 2, 29),
    ]
    elders = []
    for n in range(count):
        born = boundaries[n % len(boundaries)]
        code = rng.choice(list(regions))
        death = rng.choice(
            [None] * 6
            + [datetime.date(2024, 4, 30), datetime.date(2024, 5, 1), datetime.date(2025, 2, 1)]
        )
        elders.append(
            Elder(
                id_number=with_check_character(f"{code[:6]}{born:%Y%m%d}{n:03d}"),
                name=f"对照{n}",
                sex="M" if n % 2 else "F",
                birth_date=born,
                hukou_region=regions[code],
                pension_type=rng.choice(["resident", "employee", "none"]),
                death_date=death,
            )
        )
    Elder.objects.bulk_create(elders)
    periods, assessments = [], []
    for elder in Elder.objects.filter(name__startswith="对照"):
        for category in rng.sample(CATEGORIES, rng.randint(0, 2)):
            start = rng.choice(
                [datetime.date(2020, 1, 1), datetime.date(2024, 5, 1), datetime.date(2024, 5, 2)]
            )
            end = rng.choice([None, None, datetime.date(2024, 5, 1), datetime.date(2024, 4, 30)])
            if end is not None and end < start:
                end = None
            periods.append(
                ElderCategory(elder=elder, category=category, start_date=start, end_date=end)
            )
        for assessed_on in rng.sample(
            [datetime.date(2023, 1, 1), datetime.date(2024, 5, 1), datetime.date(2024, 6, 1)],
            rng.randint(0, 2),
        ):
            level = rng.choice(LEVELS)
            assessments.append(
                AbilityAssessment(
                    elder=elder,
                    standard=AssessmentStandard.MZ_T_039_2013,
                    assessed_on=assessed_on,
                    assessor="对照",
                    computed_level=level,
                    final_level=level,
                )
            )
    ElderCategory.objects.bulk_create(periods)
    AbilityAssessment.objects.bulk_create(assessments)


def _lines():
    return sorted(
        PaymentLine.objects.values_list(
            "scheme__code",
            "period",
            "elder_id",
            "amount",
            "kind",
            "status",
            "policy_value_id",
            "inputs",
        ),
        key=lambda row: (row[0], row[1], row[2]),
    )


def _forget_runs():
    PaymentLine.objects.all().delete()
    AllowanceRunChunk.objects.all().delete()
    AllowanceRun.objects.all().delete()
    PaymentBatch.objects.all().delete()


def _both_ways(monkeypatch, region: str, period: datetime.date, chunk_size: int = 37):
    region = Region.objects.get(code=region)
    with monkeypatch.context() as patch:
        patch.setattr(setbased, "available", lambda: False)
        request_allowance_run(region=region, period=period, sync=True, chunk_size=chunk_size)
    in_python = _lines()
    _forget_runs()
    run = request_allowance_run(region=region, period=period, sync=True, chunk_size=chunk_size)
    return in_python, _lines(), run


@pytest.fixture
def nursing_amounts(rulebook):
    province = Region.objects.get(code="330000")
    for key, amount in zip(NURSING_KEYS, ("300", "200", "100"), strict=True):
        # The seed names these amounts without a number: fill them for the test.
        row = PolicyValue.objects.get(region=province, key=key)
        set_policy_value(
            region=province,
            key=key,
            value=Decimal(amount),
            effective_from=row.effective_from,
            citation=row.citation,
        )


@pytest.mark.parametrize(
    ("region", "period"),
    [
        ("330000", datetime.date(2024, 5, 1)),
        ("330106", datetime.date(2024, 5, 1)),
        ("330000", datetime.date(2025, 1, 1)),
        ("330000", datetime.date(2025, 3, 1)),
    ],
)
def test_one_statement_writes_the_lines_the_python_rules_write(
    monkeypatch, nursing_amounts, region, period
):
    _population()
    in_python, in_sql, run = _both_ways(monkeypatch, region, period)
    assert in_python, "the population must produce lines"
    assert in_sql == in_python
    assert (
        run.elders_seen
        == Elder.objects.filter(hukou_region__path__startswith=run.region.path)
        .exclude(death_date__lt=period)
        .count()
    )
    schemes = {row[0] for row in in_sql}
    if period == datetime.date(2024, 5, 1):
        assert {"high_age_80_89", "high_age_90_99", "nursing_home_basically_unable"} <= schemes


def test_a_set_based_rerun_adds_nothing(nursing_amounts):
    _population(60)
    province = Region.objects.get(code="330000")
    request_allowance_run(
        region=province, period=datetime.date(2024, 5, 1), sync=True, chunk_size=11
    )
    before = _lines()
    rerun = request_allowance_run(region=province, period=datetime.date(2024, 5, 1), sync=True)
    assert _lines() == before and before
    assert rerun.lines_total == len(before)
