"""Staffing checks (docs/policy.md §3): ceil(full/r_full + partial/r_partial + self/r_self) with the
jurisdiction's ratios, in exact arithmetic."""

import datetime
import json
from fractions import Fraction
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from facilities import services
from facilities.rules import required_caregivers
from facilities.selectors import short_staffed_facilities, staffing_report, workforce_figures
from regions.models import Region
from residents.services import record_legacy_assessment
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory

D = datetime.date
PROVINCE = {
    "fully_disabled": Fraction(3),
    "partly_disabled": Fraction(6),
    "self_caring": Fraction(15),
}


def counts(full=0, partial=0, self_caring=0):
    return {"fully_disabled": full, "partly_disabled": partial, "self_caring": self_caring}


@pytest.mark.parametrize(
    ("full", "partial", "self_caring", "required"),
    [
        (3, 0, 0, 1),  # exactly 1: no floating-point 1.0000000000000002 rounding up to 2
        (4, 0, 0, 2),
        (0, 0, 0, 0),
        (1, 0, 0, 1),
        (0, 6, 0, 1),
        (0, 7, 0, 2),
        (0, 0, 15, 1),
        (0, 0, 16, 2),
        (1, 2, 5, 1),  # 1/3 + 2/6 + 5/15 = 1 exactly
        (2, 2, 5, 2),
        (30, 60, 150, 30),
    ],
)
def test_required_caregivers_is_the_exact_ceiling(full, partial, self_caring, required):
    assert required_caregivers(counts(full, partial, self_caring), PROVINCE) == required


def test_float_arithmetic_would_get_the_boundary_wrong_and_fractions_do_not():
    # 0.1 + 0.2 style error: ten self-caring at 1:10 and thirty partly at 1:30 make exactly 2.
    ratios = {
        "fully_disabled": Fraction(3),
        "partly_disabled": Fraction(30),
        "self_caring": Fraction(10),
    }
    assert required_caregivers(counts(0, 30, 10), ratios) == 2


@pytest.fixture
def institution(rulebook):
    return FacilityFactory(name="测试特困供养中心", is_destitute_support=True)


def _resident(facility, level, on=None):
    on = on or D(2024, 1, 1)
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=BedFactory(facility=facility), start_date=on)
    if level:
        record_legacy_assessment(elder=elder, assessed_on=on, assessor="评估员", level=level)
    return elder


def test_facility_report_counts_classes_from_latest_assessment(institution):
    for level in ["severe", "severe", "severe", "severe", "moderate", "mild", "intact"]:
        _resident(institution, level)
    unassessed = _resident(institution, None)
    caregiver = CaregiverFactory()
    services.employ_caregiver(caregiver=caregiver, facility=institution, start_date=D(2023, 1, 1))
    report = staffing_report(institution, D(2024, 6, 1))
    assert report.counts == counts(4, 2, 1)
    # 4/3 + 2/6 + 1/15 = 26/15 → 2
    assert (report.required, report.actual, report.shortfall) == (2, 1, 1)
    assert report.unassessed == [{"elder_code": unassessed.elder_code, "name": unassessed.name}]
    assert "没有能力评估" in report.error
    assert report.ratios["fully_disabled"].citation == "浙政办发〔2022〕71号 §15"
    assert (
        short_staffed_facilities(Region.objects.get(code="330106"), D(2024, 6, 1))[0].facility
        == institution
    )


def test_discharged_residents_and_former_caregivers_do_not_count(institution):
    elder = _resident(institution, "severe")
    services.discharge(elder=elder, end_date=D(2024, 3, 1))
    caregiver = CaregiverFactory()
    employment = services.employ_caregiver(
        caregiver=caregiver, facility=institution, start_date=D(2023, 1, 1)
    )
    services.end_employment(employment=employment, end_date=D(2024, 2, 1))
    report = staffing_report(institution, D(2024, 6, 1))
    assert (report.required, report.actual) == (0, 0)
    assert not report.is_short_staffed


def test_command_planning_form_prints_required_ratios_and_sources(rulebook):
    out = StringIO()
    call_command(
        "staffing_check",
        "--region",
        "330200",
        "--fully-disabled",
        "3",
        "--partially-disabled",
        "4",
        "--self-caring",
        "10",
        "--on",
        "2024-06-01",
        "--format",
        "json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    # Ningbo: 1:3, 1:4, 1:10 → 1 + 1 + 1 = 3
    assert result["required"] == 3
    assert result["ratios"]["partly_disabled"]["residents_per_caregiver"] == "4"
    assert result["ratios"]["partly_disabled"]["citation"] == "甬政办发〔2023〕60号 (四)1"
    assert result["ratios"]["partly_disabled"]["source_region"] == "宁波市 330200"


def test_command_planning_form_inherits_the_province_ratios_in_xihu(rulebook):
    out = StringIO()
    call_command(
        "staffing_check",
        "--region=330106",
        "--fully-disabled=4",
        "--partially-disabled=0",
        "--self-caring=0",
        "--format=json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert result["required"] == 2
    assert result["ratios"]["fully_disabled"]["source_region"] == "浙江省 330000"


def test_command_for_a_facility(institution):
    _resident(institution, "severe")
    out = StringIO()
    call_command("staffing_check", "--facility", institution.code, "--on", "2024-06-01", stdout=out)
    assert "所需护理员 1，实有 0，缺口 1" in out.getvalue()


def test_command_refuses_missing_counts_and_unknown_codes(rulebook):
    with pytest.raises(CommandError, match="--self-caring"):
        call_command(
            "staffing_check", "--region=330106", "--fully-disabled=1", "--partially-disabled=1"
        )
    with pytest.raises(CommandError, match="--facility"):
        call_command("staffing_check", "--facility=NOPE")


def test_workforce_figures_against_xihu_targets(institution):
    for n in range(3):
        caregiver = CaregiverFactory()
        services.employ_caregiver(
            caregiver=caregiver, facility=institution, start_date=D(2023, 1, 1)
        )
        services.add_certificate(
            caregiver=caregiver,
            kind="caregiver_skill",
            grade="senior" if n == 0 else "junior",
            issued_on=D(2022, 1, 1),
        )
        if n < 2:
            services.add_certificate(caregiver=caregiver, kind="first_aid", issued_on=D(2022, 1, 1))
    figures = workforce_figures(Region.objects.get(code="330106"), D(2024, 6, 1))
    assert figures["certified_caregivers"] == 3
    senior = figures["figures"]["target_senior_caregiver_share"]
    assert (senior["actual"], senior["target"], senior["met"]) == ("0.3333", "0.2", True)
    first_aid = figures["figures"]["target_first_aid_share"]
    assert (first_aid["actual"], first_aid["met"]) == ("0.6667", False)
    # Xihu sets no nursing-bed target: reported as not set, never as met.
    assert figures["figures"]["target_nursing_bed_share"]["met"] is None
    assert figures["figures"]["target_nursing_bed_share"]["target_note"]
