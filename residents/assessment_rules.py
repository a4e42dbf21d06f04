"""The ability assessment of GB/T 42195-2022 (老年人能力评估规范), as pure functions.

26 items in 4 dimensions, 90 points in all (附录B): self-care 8 items (32), basic mobility 4
(15), mental state 9 (28), perception and social participation 5 (15). The level bands and the
adjustments are the standard's own (§5.3), not policy rates; whether the two "one level worse"
adjustments stack is left open by the standard and is the rulebook key
``assessment_risk_adjustments_stack``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from residents.choices import ABILITY_LEVEL_ORDER, AbilityLevel, AssessmentDimension

D = AssessmentDimension


@dataclass(frozen=True)
class AssessmentItem:
    field: str  # the model field holding the score
    label: str
    dimension: AssessmentDimension
    max_score: int


# GB/T 42195-2022 附录B, in the order of the form.
ITEMS: list[AssessmentItem] = [
    AssessmentItem("eating", gettext_lazy("进食"), D.SELF_CARE, 4),
    AssessmentItem("grooming", gettext_lazy("修饰"), D.SELF_CARE, 4),
    AssessmentItem("bathing", gettext_lazy("洗澡"), D.SELF_CARE, 4),
    AssessmentItem("dressing_upper", gettext_lazy("穿/脱上衣"), D.SELF_CARE, 4),
    AssessmentItem("dressing_lower", gettext_lazy("穿/脱裤子和鞋袜"), D.SELF_CARE, 4),
    AssessmentItem("urination_control", gettext_lazy("小便控制"), D.SELF_CARE, 4),
    AssessmentItem("defecation_control", gettext_lazy("大便控制"), D.SELF_CARE, 4),
    AssessmentItem("toileting", gettext_lazy("如厕"), D.SELF_CARE, 4),
    AssessmentItem("bed_position_transfer", gettext_lazy("床上体位转移"), D.MOBILITY, 4),
    AssessmentItem("bed_chair_transfer", gettext_lazy("床椅转移"), D.MOBILITY, 4),
    AssessmentItem("level_walking", gettext_lazy("平地行走"), D.MOBILITY, 4),
    AssessmentItem("stairs", gettext_lazy("上下楼梯"), D.MOBILITY, 3),
    AssessmentItem("time_orientation", gettext_lazy("时间定向"), D.MENTAL_STATE, 4),
    AssessmentItem("space_orientation", gettext_lazy("空间定向"), D.MENTAL_STATE, 4),
    AssessmentItem("person_orientation", gettext_lazy("人物定向"), D.MENTAL_STATE, 4),
    AssessmentItem("memory", gettext_lazy("记忆"), D.MENTAL_STATE, 4),
    AssessmentItem("comprehension", gettext_lazy("理解能力"), D.MENTAL_STATE, 4),
    AssessmentItem("expression", gettext_lazy("表达能力"), D.MENTAL_STATE, 4),
    AssessmentItem("aggressive_behaviour", gettext_lazy("攻击行为"), D.MENTAL_STATE, 1),
    AssessmentItem("depressive_symptoms", gettext_lazy("抑郁症状"), D.MENTAL_STATE, 1),
    AssessmentItem("consciousness", gettext_lazy("意识水平"), D.MENTAL_STATE, 2),
    AssessmentItem("vision", gettext_lazy("视力"), D.PERCEPTION_SOCIAL, 2),
    AssessmentItem("hearing", gettext_lazy("听力"), D.PERCEPTION_SOCIAL, 2),
    AssessmentItem("daily_affairs", gettext_lazy("执行日常事务"), D.PERCEPTION_SOCIAL, 4),
    AssessmentItem("transport_outing", gettext_lazy("使用交通工具外出"), D.PERCEPTION_SOCIAL, 3),
    AssessmentItem("social_interaction", gettext_lazy("社会交往能力"), D.PERCEPTION_SOCIAL, 4),
]
ITEM_FIELDS = [item.field for item in ITEMS]
MAX_TOTAL = sum(item.max_score for item in ITEMS)  # 90

# Lowest total of each band, best first (GB/T 42195-2022 §5.3): 90 intact; 66–89 mild;
# 46–65 moderate; 30–45 severe; 0–29 total.
BAND_FLOORS: list[tuple[int, AbilityLevel]] = [
    (90, AbilityLevel.INTACT),
    (66, AbilityLevel.MILD),
    (46, AbilityLevel.MODERATE),
    (30, AbilityLevel.SEVERE),
    (0, AbilityLevel.TOTAL),
]


def level_for_total(total: int) -> AbilityLevel:
    if not 0 <= total <= MAX_TOTAL:
        raise ValueError(f"total score {total} is outside 0–{MAX_TOTAL}")
    for floor, level in BAND_FLOORS:
        if total >= floor:
            return level
    raise AssertionError("unreachable: the last band starts at 0")


def one_level_worse(level: str, steps: int = 1) -> AbilityLevel:
    """Never past 完全失能."""
    index = min(ABILITY_LEVEL_ORDER.index(level) + steps, len(ABILITY_LEVEL_ORDER) - 1)
    return AbilityLevel(ABILITY_LEVEL_ORDER[index])


@dataclass(frozen=True)
class LevelOutcome:
    computed_level: AbilityLevel  # from the total alone
    final_level: AbilityLevel  # after coma / diagnosis / care-risk adjustments
    reasons: list[str]

    @property
    def reason_text(self) -> str:
        return "；".join(self.reasons)


# Two or more care-risk events (跌倒、噎食、自杀、走失) within 30 days (GB/T 42195-2022 §5.3).
CARE_RISK_EVENTS_FOR_ADJUSTMENT = 2


def compute_level(
    *,
    total: int,
    in_coma: bool,
    has_dementia_or_psychiatric_diagnosis: bool,
    care_risk_events_30_days: int,
    adjustments_stack: bool,
) -> LevelOutcome:
    """The level from the total, then the standard's adjustments (§5.3)."""
    computed = level_for_total(total)
    if in_coma:
        return LevelOutcome(computed, AbilityLevel.TOTAL, ["处于昏迷状态，直接评定为完全失能"])
    reasons = []
    if has_dementia_or_psychiatric_diagnosis:
        reasons.append("确诊认知障碍/痴呆或其他精神疾病，能力等级降低一个等级")
    if care_risk_events_30_days >= CARE_RISK_EVENTS_FOR_ADJUSTMENT:
        reasons.append(
            f"近30天内发生{care_risk_events_30_days}次照护风险事件，能力等级降低一个等级"
        )
    if not reasons:
        return LevelOutcome(computed, computed, [])
    steps = len(reasons) if adjustments_stack else 1
    if len(reasons) > 1 and not adjustments_stack:
        reasons.append("两项降级不叠加，共降低一个等级")
    final = one_level_worse(computed, steps)
    if final == computed:
        reasons.append("已为完全失能，不再降级")
    return LevelOutcome(computed, final, reasons)
