"""The catalogue of policy keys: what each value means, its unit, how it inherits, who uses it.

The *values* are data (PolicyValue rows, loaded from regions/data/rulebook.toml and edited in the
admin); this module only names the keys so that code and data agree on spelling and meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from regions.choices import FloorDirection, PolicyUnit


@dataclass(frozen=True)
class PolicyKey:
    key: str
    label: str  # Chinese, as the documents say it (the interface's default language)
    label_en: str
    unit: PolicyUnit
    direction: FloorDirection
    used_by: str

    @property
    def is_frequency(self) -> bool:
        return self.unit == PolicyUnit.FREQUENCY


_M, _X, _N = FloorDirection.MINIMUM, FloorDirection.MAXIMUM, FloorDirection.NONE
U = PolicyUnit

KEYS: dict[str, PolicyKey] = {
    k.key: k
    for k in [
        # --- cash allowances (subsidies) -------------------------------------------------
        PolicyKey(
            "high_age_allowance_80_89",
            "高龄津贴（80–89周岁）",
            "High-age allowance (aged 80–89)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "high_age_allowance_90_99",
            "高龄津贴（90–99周岁）",
            "High-age allowance (aged 90–99)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "longevity_subsidy_100_plus",
            "长寿保健补助金（100周岁及以上）",
            "Longevity health subsidy (aged 100 and over)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "high_age_resident_pension_supplement",
            "高龄补贴（80周岁以上城乡居民养老金领取者）",
            "High-age supplement for resident-pension recipients aged 80+",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "e_allowance_age_70_79",
            "养老服务电子津贴（70–79周岁）",
            "Electronic care allowance (aged 70–79)",
            U.YUAN_PER_YEAR,
            _M,
            "subsidies: yearly allowance",
        ),
        PolicyKey(
            "e_allowance_minimum_living",
            "养老服务电子津贴（低保家庭）",
            "Electronic care allowance (minimum-living households)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "e_allowance_lost_only_child",
            "养老服务电子津贴（失独家庭）",
            "Electronic care allowance (families that lost their only child)",
            U.YUAN_PER_YEAR,
            _M,
            "subsidies: yearly allowance",
        ),
        PolicyKey(
            "e_allowance_entitled_groups",
            "养老服务电子津贴（重点优抚对象、老劳模、困难老居(村)干部）",
            "Electronic care allowance (entitled groups, model workers, former village cadres in difficulty)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "e_allowance_solitary_70_plus",
            "智能设备或养老服务电子津贴（70周岁以上空巢、独居、孤寡及80周岁以上）",
            "Smart device or electronic allowance (70+ empty-nest, alone or childless; all 80+)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "e_allowance_high_age_universal",
            "高龄普惠服务电子津贴（80周岁及以上）",
            "Universal high-age electronic service allowance (aged 80+)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "nursing_subsidy_home_fully_unable",
            "护理补贴（低保居家，生活完全不能自理）",
            "Nursing subsidy (minimum-living, at home, fully unable to care for self)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: nursing subsidy",
        ),
        PolicyKey(
            "nursing_subsidy_home_basically_unable",
            "护理补贴（低保居家，基本不能自理）",
            "Nursing subsidy (minimum-living, at home, basically unable to care for self)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: nursing subsidy",
        ),
        PolicyKey(
            "nursing_subsidy_home_partly_unable",
            "护理补贴（低保居家，部分不能自理）",
            "Nursing subsidy (minimum-living, at home, partly unable to care for self)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: nursing subsidy",
        ),
        PolicyKey(
            "nursing_subsidy_institution",
            "护理补贴（低保入住机构，参照特困供养人员护理费）",
            "Nursing subsidy (minimum-living, in an institution; destitute-support nursing fee)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: nursing subsidy",
        ),
        PolicyKey(
            "nursing_subsidy_near_minimum_share",
            "低保边缘家庭护理补贴占低保标准的比例",
            "Near-minimum-living nursing subsidy as a share of the minimum-living amount",
            U.SHARE,
            _M,
            "subsidies: nursing subsidy",
        ),
        PolicyKey(
            "disabled_living_allowance",
            "困难残疾人生活补贴",
            "Living allowance for disabled people in difficulty",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "severe_disability_nursing_allowance",
            "重度残疾人护理补贴",
            "Nursing allowance for the severely disabled",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "service_subsidy_economic_difficulty",
            "养老服务补贴（经济困难的老年人）",
            "Elderly-care service subsidy (economically difficult elders)",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: monthly allowance run",
        ),
        PolicyKey(
            "accident_insurance_premium",
            "老年人意外伤害保险保费",
            "Accident-insurance premium bought for an elder",
            U.YUAN_PER_YEAR,
            _M,
            "subsidies: yearly run (paid to the insurer)",
        ),
        PolicyKey(
            "insurance_contribution_subsidy",
            "保险缴费补贴（特困、低保、低边家庭老年人）",
            "Insurance contribution subsidy (destitute, minimum-living, near-minimum households)",
            U.YUAN_PER_YEAR,
            _M,
            "subsidies: yearly run",
        ),
        PolicyKey(
            "caregiver_post_allowance",
            "养老护理员特殊岗位津贴",
            "Caregiver special post allowance",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: caregiver post allowance",
        ),
        PolicyKey(
            "yearly_allowance_payment_month",
            "年度津贴发放月份",
            "Month in which yearly allowances are paid",
            U.MONTH_OF_YEAR,
            _N,
            "subsidies: yearly allowance",
        ),
        PolicyKey(
            "allowance_arrears_months",
            "补发追溯月数上限",
            "Maximum months of arrears paid back",
            U.MONTHS,
            _N,
            "subsidies: arrears",
        ),
        # --- operating subsidies and premiums (subsidies, facilities) ----------------------
        PolicyKey(
            "operating_subsidy_street_centre_cap",
            "乡镇（街道）居家养老服务中心运行补助上限",
            "Operating subsidy cap, street home-care service centre",
            U.YUAN_CAP_PER_YEAR,
            _M,
            "subsidies: operating subsidies",
        ),
        PolicyKey(
            "operating_subsidy_community_station_cap",
            "村（社区）居家养老服务照料中心运行补助上限",
            "Operating subsidy cap, community day-care station",
            U.YUAN_CAP_PER_YEAR,
            _M,
            "subsidies: operating subsidies",
        ),
        PolicyKey(
            "operating_subsidy_home_care_facility_cap",
            "居家养老服务设施运行补助上限（按星级和考核）",
            "Operating subsidy cap, home-care facility (by star rating and review)",
            U.YUAN_CAP_PER_YEAR,
            _M,
            "subsidies: operating subsidies",
        ),
        PolicyKey(
            "smart_care_home_subsidy_cap",
            "智慧养老院一次性补助上限",
            "One-off subsidy cap, smart care home",
            U.YUAN_ONE_OFF_CAP,
            _M,
            "subsidies: operating subsidies",
        ),
        PolicyKey(
            "smart_terminal_subsidy_cap",
            "居家养老服务中心（站）无感智能终端一次性补助上限",
            "One-off subsidy cap, contactless smart terminals of a home-care centre",
            U.YUAN_ONE_OFF_CAP,
            _M,
            "subsidies: operating subsidies",
        ),
        PolicyKey(
            "respite_and_home_bed_service_subsidy",
            "短期托养及家庭养老床位服务补贴",
            "Respite care and home-care bed service subsidy",
            U.YUAN_PER_MONTH,
            _M,
            "subsidies: operating subsidies",
        ),
        # Shares of "1/3" are stored as their denominator so that the arithmetic stays exact.
        PolicyKey(
            "liability_insurance_upper_share_denominator",
            "非营利机构综合责任险上级财政分担（1/N，填N）",
            "Liability insurance, non-profit: upper-level share (1/N, enter N)",
            U.SHARE_DENOMINATOR,
            _X,
            "subsidies: liability insurance",
        ),
        PolicyKey(
            "liability_insurance_local_share_denominator",
            "非营利机构综合责任险本级财政分担（1/N，填N）",
            "Liability insurance, non-profit: local share (1/N, enter N)",
            U.SHARE_DENOMINATOR,
            _X,
            "subsidies: liability insurance",
        ),
        PolicyKey(
            "liability_insurance_for_profit_factor",
            "营利性机构综合责任险补助折算系数",
            "Liability insurance: factor applied for for-profit institutions",
            U.SHARE,
            _N,
            "subsidies: liability insurance",
        ),
        # --- facilities -----------------------------------------------------------------
        PolicyKey(
            "staffing_ratio_fully_disabled",
            "护理员配比（完全失能，1名护理员对应人数）",
            "Staffing ratio (fully disabled residents per caregiver)",
            U.RESIDENTS_PER_CAREGIVER,
            _X,
            "facilities: staffing check",
        ),
        PolicyKey(
            "staffing_ratio_partly_disabled",
            "护理员配比（部分失能，1名护理员对应人数）",
            "Staffing ratio (partly disabled residents per caregiver)",
            U.RESIDENTS_PER_CAREGIVER,
            _X,
            "facilities: staffing check",
        ),
        PolicyKey(
            "staffing_ratio_self_caring",
            "护理员配比（自理，1名护理员对应人数）",
            "Staffing ratio (self-caring residents per caregiver)",
            U.RESIDENTS_PER_CAREGIVER,
            _X,
            "facilities: staffing check",
        ),
        PolicyKey(
            "rating_validity_years",
            "养老机构等级评定有效期",
            "Validity of an institution's star rating",
            U.YEARS,
            _X,
            "facilities: ratings",
        ),
        PolicyKey(
            "purchase_contract_max_years",
            "政府购买服务合同最长期限",
            "Maximum length of a government service-purchase contract",
            U.YEARS,
            _X,
            "facilities: chain-operation contracts",
        ),
        PolicyKey(
            "chain_zones_min",
            "连锁运营片区数下限",
            "Minimum number of chain-operation zones",
            U.COUNT,
            _N,
            "facilities: chain-operation contracts",
        ),
        PolicyKey(
            "chain_zones_max",
            "连锁运营片区数上限",
            "Maximum number of chain-operation zones",
            U.COUNT,
            _N,
            "facilities: chain-operation contracts",
        ),
        PolicyKey(
            "target_caregivers_per_10k",
            "每万名老年人拥有持证养老护理员数（2025年目标）",
            "Certified caregivers per 10,000 elders (2025 target)",
            U.PER_10K_ELDERS,
            _M,
            "dashboards: caregiver targets",
        ),
        PolicyKey(
            "target_senior_caregiver_share",
            "高级及以上护理员占比（目标）",
            "Share of senior-grade caregivers (target)",
            U.SHARE,
            _M,
            "dashboards: caregiver targets",
        ),
        PolicyKey(
            "target_first_aid_share",
            "持证护理员中持救护员证比例（目标）",
            "Share of certified caregivers holding a first-aid certificate (target)",
            U.SHARE,
            _M,
            "dashboards: caregiver targets",
        ),
        PolicyKey(
            "target_nursing_bed_share",
            "护理型床位占比（目标）",
            "Share of nursing-type beds (target)",
            U.SHARE,
            _M,
            "dashboards: bed targets",
        ),
        PolicyKey(
            "target_cognitive_beds_per_10k",
            "每万名老年人认知障碍照护床位（目标）",
            "Dementia-care beds per 10,000 elders (target)",
            U.PER_10K_ELDERS,
            _M,
            "dashboards: bed targets",
        ),
        # --- items of the service lists delivered in kind (servicelist) ---------------
        PolicyKey(
            "meal_point_community_coverage_target",
            "助餐服务村（社区）覆盖率（目标）",
            "Share of villages and communities with a meal point (target)",
            U.SHARE,
            _M,
            "servicelist: meal points",
        ),
        PolicyKey(
            "home_adaptation_subsidy",
            "困难老年人家庭适老化改造一次性补贴（每户上限）",
            "One-off home adaptation subsidy per household (cap)",
            U.YUAN_ONE_OFF_CAP,
            _M,
            "servicelist: home adaptations",
        ),
        PolicyKey(
            "respite_days_per_year",
            "喘息服务每人每年可用天数",
            "Respite care days per elder per year",
            U.DAYS_PER_YEAR,
            _M,
            "servicelist: respite stays",
        ),
        # --- residents ------------------------------------------------------------------
        PolicyKey(
            "free_assessment_age_threshold",
            "免费能力评估按年评估的起始年龄",
            "Age from which the free ability assessment is yearly",
            U.AGE,
            _X,
            "residents: assessment due list",
        ),
        PolicyKey(
            "free_assessment_interval_years_above",
            "免费能力评估间隔（达到起始年龄）",
            "Free assessment interval (at or above the threshold age)",
            U.YEARS,
            _X,
            "residents: assessment due list",
        ),
        PolicyKey(
            "free_assessment_interval_years_below",
            "免费能力评估间隔（起始年龄以下）",
            "Free assessment interval (below the threshold age)",
            U.YEARS,
            _X,
            "residents: assessment due list",
        ),
        PolicyKey(
            "assessment_risk_adjustments_stack",
            "精神障碍与照护风险事件是否叠加降级（0/1）",
            "Mental disorder and care-risk downgrades stack (0/1)",
            U.COUNT,
            _N,
            "residents: ability assessment",
        ),
        # --- visits ---------------------------------------------------------------------
        PolicyKey(
            "visit_frequency_childless_alone",
            "孤寡老人探访频次",
            "Visit frequency, childless elders living alone",
            U.FREQUENCY,
            _M,
            "visits: schedules",
        ),
        PolicyKey(
            "visit_frequency_special_difficulty",
            "特殊困难老年人探访频次",
            "Visit frequency, elders in special difficulty",
            U.FREQUENCY,
            _M,
            "visits: schedules",
        ),
        PolicyKey(
            "visit_high_age_threshold",
            "探访对象中高龄老人的起始年龄",
            "Age from which an elder counts as high-age for visits",
            U.AGE,
            _X,
            "visits: schedules",
        ),
        PolicyKey(
            "health_check_frequency_special_difficulty",
            "特殊困难老年人免费健康体检频次",
            "Free health check frequency, elders in special difficulty",
            U.FREQUENCY,
            _M,
            "visits: health checks",
        ),
        PolicyKey(
            "health_check_frequency_65_plus",
            "65周岁以上老年人免费健康体检频次",
            "Free health check frequency, aged 65 and over",
            U.FREQUENCY,
            _M,
            "visits: health checks",
        ),
        PolicyKey(
            "visit_coverage_target",
            "特殊困难老年人探访率目标（日访率、月访率）",
            "Visit coverage target for elders in special difficulty (daily, monthly)",
            U.SHARE,
            _M,
            "visits: compliance",
        ),
        # The province's caps for operating subsidies are "times the county's transfer
        # coefficient" (000 §10); the coefficients are set per county by the province.
        PolicyKey(
            "operating_subsidy_transfer_coefficient",
            "运行补助省对县（市、区）转移支付系数",
            "Province-to-county transfer coefficient for operating subsidies",
            U.SHARE,
            _N,
            "subsidies: operating subsidies",
        ),
    ]
}


def get_key(key: str) -> PolicyKey:
    try:
        return KEYS[key]
    except KeyError:
        raise KeyError(f"Unknown policy key {key!r}; known keys are listed in regions/catalog.py")


KEY_CHOICES = [(k.key, k.label) for k in KEYS.values()]


def search_keys(text: str) -> list[str]:
    """Keys whose identifier, Chinese name or English name contains ``text`` (any case), so
    that people find a rule by the name they know it by."""
    needle = text.strip().casefold()
    if not needle:
        return []
    return [
        k.key
        for k in KEYS.values()
        if needle in k.key.casefold()
        or needle in k.label.casefold()
        or needle in k.label_en.casefold()
    ]


def validate_policy_key(value: str) -> None:
    """Model-field validator. Keys are checked against the catalogue rather than declared as
    field choices, so that adding a key to the catalogue needs no database migration."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext

    if value not in KEYS:
        raise ValidationError(
            gettext("未知的政策参数 %(key)s（见 regions/catalog.py）。") % {"key": repr(value)},
            code="unknown_key",
        )
