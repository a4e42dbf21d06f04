"""Demonstration elders: a believable Xihu district (about 3,000 elders).

Ages 60–105 with an ageing pyramid (about one in eight aged 80+, a handful of centenarians);
household registration mostly at Xihu's communities, some elsewhere in Hangzhou; residence at
Xihu's communities; categories, pensions and some ability assessments at believable rates.
ID numbers are valid (MOD 11-2 check character) and carry current or historical codes, as real
elders' numbers do. Fixed random seed; skipped when already loaded; bulk inserts.
"""

from __future__ import annotations

import datetime
import random

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from regions.models import Region
from regions.selectors import policy_value
from residents.assessment_rules import ITEMS, compute_level
from residents.choices import AssessmentStandard, Category, PensionType
from residents.id_numbers import with_check_character
from residents.models import AbilityAssessment, Elder, ElderCategory
from residents.selectors import add_years

SEED = 20240130  # the day 西政办〔2023〕46号 took effect
ELDER_COUNT = 3000

# Share of elders by age band (years from, to inclusive): about one in eight 80+.
AGE_PYRAMID = [
    (60, 64, 0.285),
    (65, 69, 0.255),
    (70, 74, 0.185),
    (75, 79, 0.150),
    (80, 84, 0.072),
    (85, 89, 0.037),
    (90, 94, 0.012),
    (95, 99, 0.0025),
]
CENTENARIANS = 5  # aged 100–105

# Codes an ID number may carry: the Hangzhou districts as they were when numbers were issued
# (下城 330103 and 江干 330104 were abolished in 2021), Zhejiang cities, a few other provinces.
ID_REGION_CODES = (
    ["330106"] * 60
    + ["330103"] * 8
    + ["330104"] * 5
    + ["330102"] * 8
    + ["330105"] * 6
    + ["330108", "330109", "330110", "330122", "330127", "330182"] * 1
    + ["330203", "330302", "330402", "330502", "330602", "330702", "331002"]
    + ["320102", "310101", "340102", "360102"]
)
# Household registration outside Xihu: other Hangzhou districts.
OTHER_HANGZHOU = ["330102", "330105", "330108", "330109", "330110", "330113", "330114"]

# Categories held, as a share of elders (beyond the ones derived below).
CATEGORY_RATES = {
    Category.MINIMUM_LIVING: 0.03,
    Category.NEAR_MINIMUM_LIVING: 0.015,
    Category.DESTITUTE: 0.01,
    Category.LOST_ONLY_CHILD: 0.008,
    Category.SEVERELY_DISABLED: 0.02,
    Category.VETERAN: 0.025,
    Category.MARTYR_FAMILY: 0.003,
    Category.KEY_ENTITLED: 0.006,
    Category.MODEL_WORKER: 0.005,
    Category.RETIRED_CADRE_HARDSHIP: 0.003,
    Category.BRAVERY_DISABLED: 0.0007,
    Category.LEFT_BEHIND: 0.004,
}
# Household situation: mutually exclusive.
HOUSEHOLD_RATES = [
    (Category.CHILDLESS_ALONE, 0.01),
    (Category.LIVING_ALONE, 0.08),
    (Category.EMPTY_NEST, 0.16),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢钟姜崔谭陆汪范金石廖贾夏韦方邵孟俞章"
GIVEN = "秀英桂兰玉珍凤华建国明德福荣美芳淑贞根宝金水阿毛志强伟民海林文娟素琴月娥雪梅春生永康松年银娣彩凤菊英洪兴友良惠珠妙法"


def _age_to_birth(rng: random.Random, today: datetime.date) -> datetime.date:
    low, high, _ = rng.choices(AGE_PYRAMID, weights=[share for *_, share in AGE_PYRAMID])[0]
    age = rng.randint(low, high)
    latest = add_years(today, -age)  # turned ``age`` today at the latest
    return latest - datetime.timedelta(days=rng.randint(0, 364))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return ""
    if rng.random() < 0.2:
        return f"0571-8{rng.randint(0, 9999999):07d}"
    return f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"


def _scores_for(rng: random.Random, frailty: float) -> dict[str, int]:
    """Item scores: each item loses points with probability ``frailty``."""
    return {
        item.field: max(
            0, item.max_score - sum(rng.random() < frailty for _ in range(item.max_score))
        )
        for item in ITEMS
    }


@transaction.atomic
def load_demo(*, stdout) -> None:
    rng = random.Random(SEED)
    today = datetime.date.today().replace(month=1, day=1)
    xihu = Region.objects.get(code="330106")
    communities = list(Region.objects.within(xihu).filter(level="community").order_by("code"))
    others = list(Region.objects.filter(code__in=OTHER_HANGZHOU).order_by("code"))

    births = [_age_to_birth(rng, today) for _ in range(ELDER_COUNT - CENTENARIANS)]
    births += [
        add_years(today, -rng.randint(100, 105)) - datetime.timedelta(days=rng.randint(0, 364))
        for _ in range(CENTENARIANS)
    ]
    numbers: set[str] = set()
    elders: list[Elder] = []
    for birth in births:
        while True:
            sequence = rng.randint(0, 999)
            region_code = rng.choice(ID_REGION_CODES)
            number = with_check_character(f"{region_code}{birth:%Y%m%d}{sequence:03d}")
            if number not in numbers:
                numbers.add(number)
                break
        residence = rng.choice(communities)
        # Most live where they are registered; some registered elsewhere in Xihu or Hangzhou.
        roll = rng.random()
        hukou = residence if roll < 0.78 else rng.choice(communities) if roll < 0.88 else None
        hukou = hukou or rng.choice(others)
        pension = rng.choices(
            [PensionType.EMPLOYEE, PensionType.RESIDENT, PensionType.NONE], [0.62, 0.30, 0.08]
        )[0]
        elders.append(
            Elder(
                id_number=number,
                name=_name(rng),
                sex="M" if int(number[16]) % 2 else "F",
                birth_date=birth,
                phone=_phone(rng),
                hukou_region=hukou,
                residence_region=residence,
                pension_type=pension,
            )
        )

    if Elder.objects.filter(id_number__in=[e.id_number for e in elders[:200]]).exists():
        stdout.write("residents: demonstration elders already loaded")
        return

    # A few deaths in the past year, so that every app shows how it ends its services.
    for elder in rng.sample(elders, 15):
        elder.death_date = today - datetime.timedelta(days=rng.randint(10, 300))

    created = bulk_create_with_history(elders, Elder, batch_size=1000)
    if created[0].pk is None:
        by_number = dict(Elder.objects.filter(id_number__in=numbers).values_list("id_number", "pk"))
        for elder in created:
            elder.pk = by_number[elder.id_number]

    periods: list[ElderCategory] = []

    def give(elder: Elder, category: str) -> None:
        start = max(
            add_years(elder.birth_date, 60), today - datetime.timedelta(days=rng.randint(30, 3000))
        )
        end = elder.death_date if elder.death_date and elder.death_date >= start else None
        if elder.death_date and end is None:
            return
        periods.append(
            ElderCategory(elder=elder, category=category, start_date=start, end_date=end)
        )

    for elder in created:
        held = set()
        roll = rng.random()
        for category, rate in HOUSEHOLD_RATES:
            if roll < rate:
                held.add(category)
                break
            roll -= rate
        for category, rate in CATEGORY_RATES.items():
            if rng.random() < rate:
                held.add(category)
        if Category.LOST_ONLY_CHILD in held or rng.random() < 0.006:
            held.add(Category.FAMILY_PLANNING_SPECIAL)
        age = today.year - elder.birth_date.year
        if rng.random() < (0.01 if age < 75 else 0.05 if age < 85 else 0.15):
            held.add(Category.COGNITIVE_IMPAIRMENT)
        for category in sorted(held):
            give(elder, category)
    bulk_create_with_history(periods, ElderCategory, batch_size=1000)

    # Ability assessments: more of the older elders have one; frailer with age.
    stack = bool(int(policy_value("assessment_risk_adjustments_stack", xihu, today)))
    assessments: list[AbilityAssessment] = []
    for elder in created:
        age = today.year - elder.birth_date.year
        if rng.random() > (0.08 if age < 75 else 0.3 if age < 85 else 0.6):
            continue
        day = today - datetime.timedelta(days=rng.randint(20, 700))
        if elder.death_date and day > elder.death_date:
            continue
        frailty = min(0.9, max(0.0, rng.gauss((age - 62) / 60, 0.15)))
        scores = _scores_for(rng, frailty)
        total = sum(scores.values())
        dementia = rng.random() < (0.02 if age < 80 else 0.1)
        events = rng.choices([0, 1, 2, 3], [0.85, 0.09, 0.04, 0.02])[0]
        outcome = compute_level(
            total=total,
            in_coma=False,
            has_dementia_or_psychiatric_diagnosis=dementia,
            care_risk_events_30_days=events,
            adjustments_stack=stack,
        )
        dimension = {}
        for item in ITEMS:
            dimension[item.dimension] = dimension.get(item.dimension, 0) + scores[item.field]
        assessments.append(
            AbilityAssessment(
                elder=elder,
                standard=AssessmentStandard.GB_T_42195_2022,
                assessed_on=day,
                assessor=rng.choice(["周评估", "陈评估", "沈评估", "钱评估"]),
                assessment_agency="西湖区老年人能力评估中心",
                total_score=total,
                self_care_score=dimension["self_care"],
                mobility_score=dimension["mobility"],
                mental_state_score=dimension["mental_state"],
                perception_social_score=dimension["perception_social"],
                has_dementia_or_psychiatric_diagnosis=dementia,
                care_risk_events_30_days=events,
                computed_level=outcome.computed_level,
                final_level=outcome.final_level,
                change_reason=outcome.reason_text,
                **scores,
            )
        )
    bulk_create_with_history(assessments, AbilityAssessment, batch_size=1000)

    over_80 = sum(1 for e in created if add_years(e.birth_date, 80) <= today)
    stdout.write(
        f"residents: {len(created)} elders ({over_80} aged 80+), {len(periods)} categories, "
        f"{len(assessments)} ability assessments"
    )
