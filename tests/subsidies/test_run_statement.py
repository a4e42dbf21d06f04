"""A chunk of the run is one INSERT … SELECT compiled from the schemes' conditions
(subsidies/run/lines.py), on SQLite and PostgreSQL alike. Its lines must be those the
condition language's Python reading (``regions.conditions.evaluate``, a test oracle only) gives
for the same elders — same people, schemes, amounts and policy values, and inputs that state
the facts read — at every age boundary, category, pension, death, ability level and stay in an
institution (approved by the county or not, open or closed around the 1st); and a rerun adds
nothing."""

import datetime
import random

import pytest

from facilities.models import Stay
from regions import conditions
from regions.models import Region
from residents.ages import age_on
from residents.choices import AbilityLevel, AssessmentStandard
from residents.id_numbers import with_check_character
from residents.models import AbilityAssessment, Elder, ElderCategory
from residents.selectors import latest_assessment_levels
from subsidies.choices import LineStatus
from subsidies.models import PaymentLine
from subsidies.run.lines import categories_held_on
from subsidies.run.plan import plan_of
from subsidies.run.planning import request_allowance_run
from tests.factories import BedFactory
from tests.subsidies.conftest import set_province_amounts

NURSING_KEYS = (
    "nursing_subsidy_home_fully_unable",
    "nursing_subsidy_home_basically_unable",
    "nursing_subsidy_home_partly_unable",
    "nursing_subsidy_institution",
)
REGIONS = ["330106", "330523", "330702", "330203", "330302", "330106001001", "330106002"]
CATEGORIES = ["minimum_living", "lost_only_child", "empty_nest", "living_alone", "destitute"]
CATEGORIES += ["near_minimum_living"]
# Days around the 1st of the months run: stays start, end and are approved on either side.
STAY_DAYS = [
    datetime.date(2020, 1, 1),
    datetime.date(2024, 4, 30),
    datetime.date(2024, 5, 1),
    datetime.date(2024, 5, 2),
    datetime.date(2025, 1, 1),
    datetime.date(2025, 3, 1),
    datetime.date(2025, 3, 2),
]
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
    _stays(rng)


def _stays(rng) -> None:
    """Stays for about a third of the elders, each in a bed of its own: in institution beds
    or home-care beds, open or closed, approved by the county before, on or after the 1st,
    or not at all."""
    county = Region.objects.get(code="330106")
    stays = []
    for elder in Elder.objects.filter(name__startswith="对照").order_by("pk"):
        if rng.random() > 0.35:
            continue
        home_care = rng.random() < 0.2
        bed = BedFactory(
            bed_type="home_care" if home_care else "general",
            **({"home_address": "杭州市某小区1幢101室"} if home_care else {}),
        )
        start = rng.choice(STAY_DAYS[:-1])
        end = rng.choice([None, None, *(d for d in STAY_DAYS if d > start)])
        approved = rng.choice([None, *STAY_DAYS])
        if home_care or (approved is not None and end is not None and approved > end):
            approved = None
        stays.append(
            Stay(
                elder=elder,
                bed=bed,
                start_date=start,
                end_date=end,
                end_reason="" if end is None else "discharged",
                placement_approved_on=approved,
                placement_approval_number="" if approved is None else f"批{elder.pk}",
                placement_approved_by=None if approved is None else county,
            )
        )
    # And 低保 / near-低保 disabled elders placed around the 1st, so the population always has
    # the placements' edges: approved before, on and after it, discharged on it.
    xihu_elders = list(
        Elder.objects.filter(name__startswith="对照", hukou_region__code__startswith="330106")
        .exclude(pk__in=[stay.elder_id for stay in stays])
        .exclude(pk__in=ElderCategory.objects.values("elder_id"))
        .exclude(pk__in=AbilityAssessment.objects.values("elder_id"))
        .exclude(death_date__isnull=False)
        .filter(birth_date__lte=datetime.date(1960, 1, 1))[:8]
    )
    edges = [
        (datetime.date(2024, 4, 30), None),
        (datetime.date(2024, 5, 1), None),
        (datetime.date(2024, 5, 2), None),
        (datetime.date(2020, 1, 1), datetime.date(2024, 5, 1)),
    ]
    for n, elder in enumerate(xihu_elders):
        approved, end = edges[n % len(edges)]
        category = "minimum_living" if n < len(edges) else "near_minimum_living"
        ElderCategory.objects.create(
            elder=elder, category=category, start_date=datetime.date(2020, 1, 1)
        )
        AbilityAssessment.objects.create(
            elder=elder,
            standard=AssessmentStandard.MZ_T_039_2013,
            assessed_on=datetime.date(2023, 6, 1),
            assessor="对照",
            computed_level=AbilityLevel.SEVERE,
            final_level=AbilityLevel.SEVERE,
        )
        stays.append(
            Stay(
                elder=elder,
                bed=BedFactory(),
                start_date=datetime.date(2020, 1, 1),
                end_date=end,
                end_reason="" if end is None else "discharged",
                placement_approved_on=approved,
                placement_approval_number=f"批{elder.pk}",
                placement_approved_by=county,
            )
        )
    Stay.objects.bulk_create(stays)


def _stays_of(elder_ids) -> dict[int, list]:
    """{elder: [(first day, end day, approval day) of each stay in an institution's bed]}."""
    found: dict[int, list] = {}
    for elder_id, first, end, approved, number in (
        conditions.institution_stays()
        .filter(elder_id__in=elder_ids)
        .values_list(
            "elder_id",
            "start_date",
            "end_date",
            "placement_approved_on",
            "placement_approval_number",
        )
    ):
        found.setdefault(elder_id, []).append((first, end, approved, number))
    return found


def _lines():
    return {
        (scheme, elder): (amount, policy_value_id, inputs)
        for scheme, elder, amount, policy_value_id, inputs in PaymentLine.objects.values_list(
            "scheme__code", "elder_id", "amount", "policy_value_id", "inputs"
        )
    }


def _oracle(run) -> dict:
    """{(scheme, elder): (amount, policy value, facts)} by the Python reading of each planned
    scheme's condition, for the run's elders alive on the 1st, each at their nearest rate
    region."""
    plan = plan_of(run).main
    on = run.period
    elders = list(
        Elder.objects.filter(hukou_region__path__startswith=run.region.path)
        .exclude(death_date__lt=on)
        .values_list("id", "birth_date", "pension_type", "hukou_region__path", "hukou_region__code")
    )
    held = categories_held_on([e[0] for e in elders], on)
    levels = latest_assessment_levels([e[0] for e in elders], on)
    stays = _stays_of([e[0] for e in elders])
    expected = {}
    for elder_id, born, pension, path, code in elders:
        node = plan.node_for(path)
        own = stays.get(elder_id, [])
        open_on = [s for s in own if s[0] <= on and (s[1] is None or on < s[1])]
        placed = conditions.placed_on([s[:3] for s in own], on)
        facts = conditions.Facts(
            on=on,
            birth_date=born,
            categories=held.get(elder_id, frozenset()),
            ability_level=levels.get(elder_id),
            pension_type=pension,
            hukou_path=path,
            in_institution=bool(open_on),
            placed_by_county=placed,
        )
        placement = (
            {"placement_approval": open_on[0][3] if placed else None}
            if plan.needs_placements
            else {}
        )
        for planned in node.schemes:
            if conditions.evaluate(planned.condition, facts):
                expected[(planned.scheme, elder_id)] = (
                    planned.amount,
                    planned.policy_value_id,
                    {
                        "on": on.isoformat(),
                        "age": age_on(born, on),
                        "birth_date": born.isoformat(),
                        "categories": sorted(facts.categories),
                        "pension_type": pension,
                        "ability_level": facts.ability_level if plan.needs_levels else None,
                        "hukou_region": code,
                        **placement,
                        **planned.line_inputs(node.region),
                    },
                )
    return expected


@pytest.fixture
def nursing_amounts(rulebook):
    # The seed names these amounts without a number: fill them for the test.
    set_province_amounts(dict(zip(NURSING_KEYS, ("300", "200", "100", "400"), strict=True)))


@pytest.mark.parametrize(
    ("region", "period"),
    [
        ("330000", datetime.date(2024, 5, 1)),
        ("330106", datetime.date(2024, 5, 1)),
        ("330000", datetime.date(2025, 1, 1)),
        ("330000", datetime.date(2025, 3, 1)),
    ],
)
def test_the_statement_pays_whom_the_conditions_name(nursing_amounts, region, period):
    _population()
    run = request_allowance_run(
        region=Region.objects.get(code=region), period=period, sync=True, chunk_size=37
    )
    written, expected = _lines(), _oracle(run)
    assert expected, "the population must produce lines"
    assert written.keys() == expected.keys()
    assert written == expected
    assert (
        run.elders_seen
        == Elder.objects.filter(hukou_region__path__startswith=run.region.path)
        .exclude(death_date__lt=period)
        .count()
    )
    schemes = {scheme for scheme, _ in written}
    if period == datetime.date(2024, 5, 1):
        assert {"high_age_80_89", "high_age_90_99", "nursing_home_basically_unable"} <= schemes
        assert "nursing_institution" in schemes


def test_a_rerun_adds_nothing(nursing_amounts):
    _population(60)
    province = Region.objects.get(code="330000")
    first = request_allowance_run(
        region=province, period=datetime.date(2024, 5, 1), sync=True, chunk_size=11
    )
    before = _lines()
    rerun = request_allowance_run(region=province, period=datetime.date(2024, 5, 1), sync=True)
    assert _lines() == before and before
    # The batch's total counts payable lines; lines whose payee has no account are held
    # (kept, not counted). Together they are every line, the same after the rerun.
    held = PaymentLine.objects.filter(batch=rerun.batch, status=LineStatus.HELD).count()
    assert rerun.lines_total == first.lines_total
    assert rerun.lines_total + held == len(before)
