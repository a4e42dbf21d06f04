"""The condition language (regions/conditions.py): who a rule is for, stated as data.

One definition, two readings: ``to_q`` (SQL, for set-based readers) and ``evaluate`` (Python,
for readers that walk days). A property test holds them equal on random elders, days,
categories with periods and assessments, so that they can never drift apart.
"""

import datetime
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regions import conditions
from regions.conditions import Facts, describe, evaluate, to_q, validate
from regions.models import Region
from regions.selectors import PolicyValueNotSet
from residents.ages import birthday
from residents.assessment_rules import ITEMS
from residents.choices import (
    AbilityLevel,
    AssessmentStandard,
    DisabilityCategory,
    DisabilityGrade,
    PensionType,
)
from residents.models import AbilityAssessment, Elder, ElderCategory

pytestmark = pytest.mark.django_db

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
_serial = itertools.count(1)


# --- validation: a clear error naming the bad node ---------------------------------------


@pytest.mark.parametrize(
    ("condition", "path", "says"),
    [
        ([], "条件", "应为一个条件对象"),
        ({}, "条件", "恰好有一个运算符"),
        ({"category": ["destitute"], "any": []}, "条件", "恰好有一个运算符"),
        ({"older_than": 80}, "条件", "未知的运算符“older_than”"),
        ({"any": []}, "条件.any", "至少需要一个条件"),
        ({"all": {"category": ["destitute"]}}, "条件.all", "应为条件列表"),
        ({"all": [{"category": ["poor"]}]}, "条件.all[0].category[0]", '未知的类别代码 "poor"'),
        (
            {"any": [{"category": ["destitute"]}, {"ability_level": ["medium"]}]},
            "条件.any[1].ability_level[0]",
            "未知的能力等级代码",
        ),
        ({"not": {"ability_level": "moderate"}}, "条件.not.ability_level", "非空的代码列表"),
        ({"category": []}, "条件.category", "非空的代码列表"),
        ({"category": ["destitute", "destitute"]}, "条件.category", "重复"),
        ({"age_at_least": True}, "条件.age_at_least", "整数周岁"),
        ({"age_at_least": 80.5}, "条件.age_at_least", "整数周岁"),
        ({"age_at_most": 800}, "条件.age_at_most", "0–150"),
        ({"age_at_least": {"key": "no_such_key"}}, "条件.age_at_least.key", "未知的政策参数"),
        (
            {"age_at_least": {"key": "high_age_allowance_80_89"}},
            "条件.age_at_least.key",
            "不是年龄",
        ),
        ({"age_at_least": {"value": 80}}, "条件.age_at_least", '{"key": "参数名"}'),
        ({"registered_in": ["Xihu"]}, "条件.registered_in[0]", "不是区划代码"),
        ({"pension_type": ["private"]}, "条件.pension_type[0]", "未知的养老保险类型代码"),
        ({"category": ["destitute"], "as": "Poor People"}, "条件.as", "小写英文代码"),
    ],
)
def test_a_bad_condition_is_refused_naming_the_node_and_what_is_wrong(condition, path, says):
    with pytest.raises(ValidationError) as refused:
        validate(condition)
    message = refused.value.messages[0]
    assert message.startswith(f"{path}："), message
    assert says in message, message


def test_nesting_has_a_limit():
    deep = {"category": ["destitute"]}
    for _ in range(conditions.MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(ValidationError, match="嵌套超过"):
        validate(deep)


def test_a_subject_may_limit_the_facts_its_conditions_read():
    validate({"any": [{"ability_level": ["mild"]}]}, leaves={"ability_level"})
    with pytest.raises(ValidationError, match=r"条件\.any\[1\]\.age_at_least：此类规则不能使用"):
        validate(
            {"any": [{"ability_level": ["mild"]}, {"age_at_least": 80}]}, leaves={"ability_level"}
        )


def test_well_formed_conditions_pass():
    for condition in (
        {"all": []},
        {"age_at_least": {"key": "visit_high_age_threshold"}, "as": "high_age"},
        {"all": [{"age_at_least": 80}, {"age_at_most": 89}, {"pension_type": ["resident"]}]},
        {"not": {"any": [{"registered_in": ["330106"]}, {"resides_in": ["330106004001"]}]}},
    ):
        validate(condition)


# --- in words ------------------------------------------------------------------------------


def test_describe_reads_as_a_sentence():
    condition = {
        "all": [
            {"age_at_least": 80},
            {"age_at_most": 89},
            {"category": ["minimum_living", "near_minimum_living"]},
        ]
    }
    assert describe(condition) == "年满80周岁，且不超过89周岁，且类别为低保、低保边缘之一"
    assert (
        describe({"any": [{"category": ["destitute"]}, {"ability_level": ["moderate"]}]})
        == "类别为特困；或最近一次能力评估等级为中度失能"
    )
    assert describe({"all": []}) == "不限条件（所有人）"
    assert describe({"not": {"pension_type": ["resident"]}}) == (
        "不满足“养老保险类型为城乡居民基本养老保险”"
    )


def test_describe_nests_with_brackets_and_names_regions_and_keys(zhejiang):
    condition = {
        "all": [
            {"registered_in": ["330106"]},
            {"any": [{"ability_level": ["severe", "total"]}, {"age_at_least": 80}]},
        ]
    }
    assert describe(condition) == (
        "户籍在西湖区（330106）（含下级），且（最近一次能力评估等级为重度失能、完全失能之一；"
        "或年满80周岁）"
    )
    by_key = {"age_at_least": {"key": "visit_high_age_threshold"}}
    assert describe(by_key) == "年龄达到“探访对象中高龄老人的起始年龄”"
    assert describe(by_key, values={"visit_high_age_threshold": 80}) == (
        "年满80（探访对象中高龄老人的起始年龄）周岁"
    )


# --- the database: elders written for a test -----------------------------------------------


def _region(code):
    return Region.objects.get(code=code)


def make_elder(
    birth,
    *,
    hukou="330106",
    residence=None,
    pension=PensionType.NONE,
    categories=(),
    levels=(),
    disability=("", None),
):
    """An elder as rows (no service: the tests need arbitrary birth dates and histories).
    ``categories``: (code, start, end or None); ``levels``: (date, level) in entry order."""
    elder = Elder.objects.create(
        id_number=f"T{next(_serial):017d}",
        name="测试",
        sex="F",
        birth_date=birth,
        hukou_region=_region(hukou),
        residence_region=_region(residence) if residence else None,
        pension_type=pension,
        disability_category=disability[0],
        disability_grade=disability[1],
    )
    ElderCategory.objects.bulk_create(
        ElderCategory(elder=elder, category=code, start_date=start, end_date=end)
        for code, start, end in categories
    )
    AbilityAssessment.objects.bulk_create(
        AbilityAssessment(
            elder=elder,
            standard=AssessmentStandard.GB_T_42195_2022,
            assessed_on=day,
            assessor="评估员",
            total_score=0,
            computed_level=level,
            final_level=level,
            **{item.field: 0 for item in ITEMS},
        )
        for day, level in levels
    )
    return elder


def matches(condition, on, **kwargs):
    return set(Elder.objects.filter(to_q(condition, on=on, **kwargs)).values_list("pk", flat=True))


# --- boundaries ----------------------------------------------------------------------------


def test_n_years_or_more_includes_the_birthday(zhejiang):
    elder = make_elder(D(1944, 5, 10))
    assert elder.pk in matches({"age_at_least": 80}, D(2024, 5, 10))
    assert elder.pk not in matches({"age_at_least": 80}, D(2024, 5, 9))
    assert elder.pk in matches({"age_at_most": 79}, D(2024, 5, 9))
    assert elder.pk not in matches({"age_at_most": 79}, D(2024, 5, 10))


def test_born_on_29_february_turns_a_year_older_on_1_march_in_common_years(zhejiang):
    elder = make_elder(D(1943, 3, 1))
    leap = make_elder(D(1944, 2, 29))
    at_least_79 = {"age_at_least": 79}
    assert matches(at_least_79, D(2023, 2, 28)) & {leap.pk} == set()
    assert leap.pk in matches(at_least_79, D(2023, 3, 1))
    assert leap.pk in matches({"age_at_least": 80}, D(2024, 2, 29))
    assert leap.pk not in matches({"age_at_least": 80}, D(2024, 2, 28))
    assert elder.pk in matches({"age_at_least": 80}, D(2023, 3, 1))


def test_ages_around_29_february_agree_in_sql_and_python(zhejiang):
    """Every birth date and day around the end of February, in leap and common years: the
    query's birth-date bound (29 February → 28 February) and the completed years agree."""
    births = [
        D(year, 2, 27) + datetime.timedelta(days=n) for year in (1943, 1944) for n in range(5)
    ]
    births = [b for b in births if b.month in (2, 3)]
    elders = {make_elder(birth).pk: birth for birth in births}
    days = [D(year, 2, 27) + datetime.timedelta(days=n) for year in (2023, 2024) for n in range(5)]
    for on in days:
        for n in (79, 80, 81):
            for operator in ("age_at_least", "age_at_most"):
                condition = {operator: n}
                expected = {
                    pk
                    for pk, birth in elders.items()
                    if evaluate(condition, Facts(on=on, birth_date=birth))
                }
                assert matches(condition, on) & set(elders) == expected, (operator, n, on)


def test_a_category_holds_from_its_first_to_its_last_day(zhejiang):
    elder = make_elder(
        D(1940, 1, 1), categories=[("minimum_living", D(2024, 3, 1), D(2024, 6, 30))]
    )
    poor = {"category": ["minimum_living", "near_minimum_living"]}
    assert elder.pk not in matches(poor, D(2024, 2, 29))
    assert elder.pk in matches(poor, D(2024, 3, 1))
    assert elder.pk in matches(poor, D(2024, 6, 30))
    assert elder.pk not in matches(poor, D(2024, 7, 1))


def test_the_latest_assessment_on_or_before_the_day_decides(zhejiang):
    elder = make_elder(
        D(1940, 1, 1),
        levels=[
            (D(2024, 1, 10), AbilityLevel.SEVERE),
            (D(2024, 5, 1), AbilityLevel.MILD),
            (D(2024, 5, 1), AbilityLevel.MODERATE),  # entered later the same day: it counts
        ],
    )
    never = make_elder(D(1940, 1, 1))
    disabled = {"ability_level": ["moderate", "severe", "total"]}
    assert matches(disabled, D(2024, 1, 9)) & {elder.pk, never.pk} == set()
    assert elder.pk in matches(disabled, D(2024, 4, 30))  # severe
    assert elder.pk in matches(disabled, D(2024, 5, 1))  # moderate, not mild
    # Never assessed has no level: "not disabled" holds for them, in SQL as in Python.
    assert {elder.pk, never.pk} & matches({"not": disabled}, D(2024, 5, 1)) == {never.pk}
    facts = Facts(on=D(2024, 5, 1), birth_date=D(1940, 1, 1))
    assert evaluate({"not": disabled}, facts)


def test_regions_include_everything_below_and_no_residence_is_nowhere(zhejiang):
    street = make_elder(D(1940, 1, 1), hukou="330106004", residence="330106004001")
    homeless = make_elder(D(1940, 1, 1), hukou="330523")
    ids = {street.pk, homeless.pk}
    on = D(2024, 1, 1)
    assert matches({"registered_in": ["330106"]}, on) & ids == {street.pk}
    assert matches({"registered_in": ["330000"]}, on) & ids == ids
    assert matches({"resides_in": ["330106004"]}, on) & ids == {street.pk}
    assert matches({"not": {"resides_in": ["330106"]}}, on) & ids == {homeless.pk}
    # Codes that share a prefix are different regions.
    assert matches({"registered_in": ["330106004001"]}, on) & ids == set()


def test_an_age_from_the_rulebook_is_resolved_for_the_region_and_day(zhejiang):
    elder = make_elder(D(1943, 9, 1))  # 80 on 1 September 2023
    high_age = {"age_at_least": {"key": "visit_high_age_threshold"}}
    anji = _region("330523")
    assert elder.pk in matches(high_age, D(2023, 9, 1), region=anji)
    assert elder.pk not in matches(high_age, D(2023, 8, 31), region=anji)
    # Anji's value (80) is in force from 24 August 2023; Xihu has none: the rule stops.
    with pytest.raises(PolicyValueNotSet):
        to_q(high_age, on=D(2023, 8, 23), region=anji)
    with pytest.raises(PolicyValueNotSet):
        to_q(high_age, on=D(2024, 1, 1), region=_region("330106"))
    assert matches(high_age, D(2023, 9, 1), values={"visit_high_age_threshold": 81}) == set()


def test_reasons_say_which_parts_hold():
    condition = {
        "any": [
            {"category": ["living_alone", "empty_nest"]},
            {"ability_level": ["moderate"], "as": "disabled"},
            {"age_at_least": 80, "as": "high_age"},
        ]
    }
    facts = Facts(
        on=D(2024, 1, 1),
        birth_date=D(1950, 1, 1),
        categories=frozenset({"empty_nest", "destitute"}),
        ability_level="moderate",
    )
    assert conditions.reasons(condition, facts) == ["empty_nest", "disabled"]
    assert (
        conditions.explainer(condition)(Facts(on=D(2024, 1, 1), birth_date=D(1960, 1, 1))) is None
    )


# --- one definition, two readings -----------------------------------------------------------

CATEGORY_POOL = ["living_alone", "minimum_living", "destitute", "lost_only_child"]
REGION_POOL = ["330000", "330106", "330106004", "330523", "330700"]
HUKOU_POOL = ["330106", "330106004001", "330523", "330702"]
RESIDENCE_POOL = [None, "330106004001", "330106001001", "330523"]
BIRTH_POOL = [D(1940, 2, 29), D(1944, 2, 29), D(1943, 2, 28), D(1943, 3, 1), D(1956, 12, 31)]


def _codes(pool):
    return st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)


# Ages and days are drawn mostly from a narrow band, so that a threshold often meets a birthday.
AGES = st.one_of(st.integers(78, 82), st.integers(58, 102))

LEAF = st.one_of(
    st.builds(lambda n: {"age_at_least": n}, AGES),
    st.builds(lambda n: {"age_at_most": n}, AGES),
    st.builds(lambda c: {"category": c}, _codes(CATEGORY_POOL)),
    st.builds(lambda c: {"ability_level": c}, _codes(AbilityLevel.values)),
    st.builds(lambda c: {"pension_type": c}, _codes(PensionType.values)),
    st.builds(lambda c: {"disability_category": c}, _codes(DisabilityCategory.values)),
    st.builds(lambda c: {"disability_grade": c}, _codes(DisabilityGrade.values)),
    st.builds(lambda c: {"registered_in": c}, _codes(REGION_POOL)),
    st.builds(lambda c: {"resides_in": c}, _codes(REGION_POOL)),
)
CONDITION = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)


@st.composite
def populations(draw):
    """A few elders, a day near one of their birthdays (or the end of February), and a period
    around it."""
    elders = []
    for _ in range(draw(st.integers(1, 5))):
        birth = draw(
            st.one_of(st.sampled_from(BIRTH_POOL), st.dates(D(1920, 1, 1), D(1966, 12, 31)))
        )
        categories, open_codes = [], set()
        for code in draw(st.lists(st.sampled_from(CATEGORY_POOL), max_size=4)):
            start = D(2024, 2, 1) + datetime.timedelta(days=draw(st.integers(-400, 60)))
            length = draw(st.one_of(st.none(), st.integers(0, 400)))
            if length is None and code in open_codes:
                length = 0  # one open period per category
            if length is None:
                open_codes.add(code)
            end = None if length is None else start + datetime.timedelta(days=length)
            categories.append((code, start, end))
        levels = [
            (D(2024, 2, 1) + datetime.timedelta(days=draw(st.integers(-400, 60))), level)
            for level in draw(st.lists(st.sampled_from(AbilityLevel.values), max_size=3))
        ]
        elders.append(
            {
                "birth": birth,
                "hukou": draw(st.sampled_from(HUKOU_POOL)),
                "residence": draw(st.sampled_from(RESIDENCE_POOL)),
                "pension": draw(st.sampled_from(PensionType.values)),
                "disability": draw(
                    st.one_of(
                        st.just(("", None)),
                        st.tuples(
                            st.sampled_from(DisabilityCategory.values),
                            st.sampled_from(DisabilityGrade.values),
                        ),
                    )
                ),
                "categories": categories,
                "levels": levels,
            }
        )
    anchor = draw(st.sampled_from(elders))["birth"]
    day = draw(
        st.one_of(
            st.builds(
                lambda years, shift: birthday(anchor, years) + datetime.timedelta(days=shift),
                AGES,
                st.integers(-1, 1),
            ),
            st.sampled_from([D(2023, 2, 28), D(2023, 3, 1), D(2024, 2, 28), D(2024, 2, 29)]),
            st.dates(D(2022, 6, 1), D(2025, 6, 1)),
        )
    )
    start = day - datetime.timedelta(days=draw(st.integers(0, 400)))
    end = day + datetime.timedelta(days=draw(st.integers(0, 400)))
    return elders, day, start, end


def facts_of(spec, day, paths):
    held = frozenset(c for c, s, e in spec["categories"] if s <= day and (e is None or day <= e))
    level = None
    for index, (assessed_on, value) in enumerate(spec["levels"]):
        # Latest date, then latest entered (rows are written in this order).
        if assessed_on <= day and (level is None or (assessed_on, index) >= level[0]):
            level = ((assessed_on, index), value)
    return Facts(
        on=day,
        birth_date=spec["birth"],
        categories=held,
        ability_level=level[1] if level else None,
        pension_type=spec["pension"],
        disability_category=spec["disability"][0],
        disability_grade=spec["disability"][1],
        hukou_path=paths[spec["hukou"]],
        residence_path=paths[spec["residence"]] if spec["residence"] else "",
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(condition=CONDITION, population=populations())
def test_sql_and_python_readings_agree(zhejiang, condition, population):
    """to_q over the database and evaluate over each elder's facts select the same elders, on
    every kind of node; and the period's first cut (candidates_q) never leaves one out."""
    validate(condition)
    specs, day, start, end = population
    paths = dict(Region.objects.values_list("code", "path"))
    with transaction.atomic():
        elders = {
            make_elder(
                spec["birth"],
                hukou=spec["hukou"],
                residence=spec["residence"],
                pension=spec["pension"],
                categories=spec["categories"],
                levels=spec["levels"],
                disability=spec["disability"],
            ).pk: spec
            for spec in specs
        }
        in_sql = set(
            Elder.objects.filter(pk__in=elders)
            .filter(to_q(condition, on=day))
            .values_list("pk", flat=True)
        )
        in_python = {
            pk for pk, spec in elders.items() if evaluate(condition, facts_of(spec, day, paths))
        }
        first_cut = set(
            Elder.objects.filter(pk__in=elders)
            .filter(conditions.candidates_q(condition, start=start, end=end))
            .values_list("pk", flat=True)
        )
        transaction.set_rollback(True)
    assert in_sql == in_python, (condition, day)
    assert in_python <= first_cut, (condition, day, start, end)


def test_disability_leaves_read_the_certificate(zhejiang):
    day = D(2024, 5, 1)
    severe = make_elder(D(1940, 1, 1), disability=("physical", 1))
    mental = make_elder(D(1940, 1, 1), disability=("mental", 4))
    none = make_elder(D(1940, 1, 1))
    nursing = {
        "any": [
            {"disability_grade": [1, 2]},
            {
                "all": [
                    {"disability_category": ["intellectual", "mental"]},
                    {"disability_grade": [3, 4]},
                ]
            },
        ]
    }
    assert matches(nursing, day) >= {severe.pk, mental.pk}
    assert none.pk not in matches(nursing, day)
    assert none.pk in matches({"not": {"disability_grade": [1, 2, 3, 4]}}, day)
    assert describe({"disability_grade": [1]}) == "残疾人证等级为一级"
    with pytest.raises(ValidationError, match="未知的残疾等级代码"):
        validate({"disability_grade": [5]})
    with pytest.raises(ValidationError, match="未知的残疾等级代码"):
        validate({"disability_grade": [True]})
    with pytest.raises(ValidationError, match="未知的残疾类别代码"):
        validate({"disability_category": ["blind"]})


def test_disability_certificate_is_both_or_neither(zhejiang):
    elder = make_elder(D(1940, 1, 1))
    elder.disability_category = "vision"
    with pytest.raises(ValidationError) as caught:
        elder.full_clean()
    assert "disability_grade" in caught.value.message_dict
