"""Indicators that say what they know: staffing that cannot be judged while residents have no
assessment says so and names who needs assessing; an expired certificate is not held; the
assessments due are read by urgency; shares are percentages. And the lists people work from:
the waiting list in rank order, an institution registering the elder it admits."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.scoping import OutOfScopeWrite
from facilities import services
from facilities.models import Stay
from facilities.selectors import (
    certificate_valid_on,
    staffing_report,
    valid_certificates,
    workforce_figures,
)
from regions.models import Region
from residents.id_numbers import with_check_character
from residents.models import Elder
from residents.selectors import free_assessments_due
from residents.services import record_legacy_assessment
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory

D = datetime.date
ON = D(2024, 6, 1)
_serial = iter(range(1, 1000))


@pytest.fixture
def home(rulebook):
    return FacilityFactory(name="西湖颐养院", is_destitute_support=True)


def _resident(facility, level=None):
    elder = ElderFactory()
    services.admit_to_bed(elder=elder, bed=BedFactory(facility=facility), start_date=D(2024, 1, 1))
    if level:
        record_legacy_assessment(
            elder=elder, assessed_on=D(2024, 1, 1), assessor="评估员", level=level
        )
    return elder


def _staff(username, facility):
    group, _ = Group.objects.get_or_create(name="机构")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=("facilities", "residents"))
    )
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    RoleAssignment.objects.create(user=user, role=Role.INSTITUTION_STAFF, facility=facility)
    return user


# --- staffing -------------------------------------------------------------------------------


def test_staffing_with_residents_never_assessed_cannot_be_judged_and_names_them(home):
    _resident(home, "intact")
    missing = [_resident(home) for _ in range(3)]
    for _ in range(12):
        services.employ_caregiver(
            caregiver=CaregiverFactory(), facility=home, start_date=D(2023, 1, 1)
        )
    report = staffing_report(home, ON)
    # 1 required for the one assessed, 12 employed: not "no shortfall" but "cannot say".
    assert (report.required, report.actual) == (1, 12)
    assert report.verdict == "unknown" and not report.can_judge
    assert not report.is_short_staffed
    assert {e["elder_code"] for e in report.unassessed} == {e.elder_code for e in missing}
    assert "无法判断" in report.error and "3 名" in report.error
    assert report.as_dict()["verdict"] == "unknown"


def test_staffing_short_even_counting_only_the_assessed_is_short(home):
    for _ in range(4):
        _resident(home, "severe")
    _resident(home)
    assert staffing_report(home, ON).verdict == "short"


def test_staffing_with_everyone_assessed_and_enough_caregivers_is_enough(home):
    _resident(home, "intact")
    services.employ_caregiver(caregiver=CaregiverFactory(), facility=home, start_date=D(2023, 1, 1))
    assert staffing_report(home, ON).verdict == "enough"


def test_the_staffing_page_lists_who_needs_assessing(client, home):
    elder = _resident(home)
    client.force_login(_staff("carer", home))
    page = client.get(reverse("admin:facilities_facility_staffing"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "无法判断" in body and elder.elder_code in body
    assert page.context["unknown_count"] == 1 and page.context["short_count"] == 0
    board = client.get(reverse("admin:facilities_facility_beds", args=[home.pk])).content.decode()
    assert "无法判断是否缺员" in board and elder.name in board


# --- certificates and shares ----------------------------------------------------------------


def test_an_expired_first_aid_certificate_is_not_held(client, home):
    caregiver = CaregiverFactory(name="王护理")
    services.employ_caregiver(caregiver=caregiver, facility=home, start_date=D(2023, 1, 1))
    expired = services.add_certificate(
        caregiver=caregiver, kind="first_aid", issued_on=D(2020, 1, 1), valid_until=D(2023, 1, 1)
    )
    assert not certificate_valid_on(expired, ON)
    assert not valid_certificates(ON).filter(pk=expired.pk).exists()
    services.add_certificate(
        caregiver=caregiver, kind="caregiver_skill", grade="senior", issued_on=D(2023, 1, 1)
    )
    figures = workforce_figures(Region.objects.get(code="330106"), ON)
    assert figures["certified_caregivers"] == 1 and figures["with_first_aid"] == 0
    client.force_login(_staff("carer", home))
    url = reverse("admin:facilities_caregiver_changelist")
    held = client.get(url, {"holds": "first_aid"})
    assert held.status_code == 200 and "王护理" not in held.content.decode()
    listed = client.get(url).content.decode()
    assert "已过期（2023-01-01）" in listed


def test_shares_are_shown_as_percentages(home):
    for grade in ("senior", "junior", "junior"):
        caregiver = CaregiverFactory()
        services.employ_caregiver(caregiver=caregiver, facility=home, start_date=D(2023, 1, 1))
        services.add_certificate(
            caregiver=caregiver, kind="caregiver_skill", grade=grade, issued_on=D(2023, 1, 1)
        )
    figure = workforce_figures(Region.objects.get(code="330106"), ON)["figures"][
        "target_senior_caregiver_share"
    ]
    assert figure["actual"] == "0.3333"  # the API's exact figure stays
    assert figure["actual_shown"] == "33.33%"
    assert figure["target_shown"].endswith("%")


# --- assessments due ------------------------------------------------------------------------


def _elder(born):
    return ElderFactory(id_number=with_check_character(f"330106{born:%Y%m%d}{next(_serial):03d}"))


def test_assessments_due_read_high_age_first_then_never_assessed(rulebook):
    young_never = _elder(D(1955, 1, 1))
    young_overdue = _elder(D(1955, 1, 1))
    record_legacy_assessment(
        elder=young_overdue, assessed_on=D(2020, 1, 1), assessor="评估员", level="intact"
    )
    old_overdue = _elder(D(1935, 1, 1))
    record_legacy_assessment(
        elder=old_overdue, assessed_on=D(2022, 1, 1), assessor="评估员", level="intact"
    )
    old_never = _elder(D(1935, 1, 1))
    due = free_assessments_due(ON, elders=Elder.objects.all())
    assert [d.elder_id for d in due] == [
        old_never.pk,
        old_overdue.pk,
        young_never.pk,
        young_overdue.pk,
    ]
    assert [d.high_age for d in due] == [True, True, False, False]
    assert [d.never_assessed for d in due] == [True, False, True, False]
    # Never a due date from the distant past for one never assessed (their 60th birthday).
    assert due[0].shown_due_on is None


# --- the waiting list and admissions in the admin -------------------------------------------


def test_the_waiting_list_reads_in_rank_order(client, home, rulebook):
    early = services.apply_for_place(facility=home, elder=ElderFactory(), applied_on=D(2024, 1, 1))
    late = services.apply_for_place(facility=home, elder=ElderFactory(), applied_on=D(2024, 2, 1))
    client.force_login(_staff("carer", home))
    page = client.get(reverse("admin:facilities_application_changelist"))
    rows = list(page.context["cl"].result_list)
    assert [a.pk for a in rows] == [early.pk, late.pk]
    assert [a.waiting_rank for a in rows] == [1, 2]


def test_institution_staff_register_a_newcomer_and_admit_them(client, home):
    bed = BedFactory(facility=home, label="101-1")
    staff = _staff("carer", home)
    client.force_login(staff)
    number = with_check_character("33070219400101123")  # registered in Jinhua, outside any scope
    added = client.post(
        reverse("admin:residents_elder_add"),
        {
            "id_number": number,
            "name": "金华老人",
            "hukou_region": Region.objects.get(code="330702").pk,
            "pension_type": "none",
            "categories-TOTAL_FORMS": 0,
            "categories-INITIAL_FORMS": 0,
            "assessments-TOTAL_FORMS": 0,
            "assessments-INITIAL_FORMS": 0,
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    elder = Elder.objects.get(id_number=number)
    assert f"elder={elder.elder_code}" in added["Location"]
    admit = client.get(added["Location"])
    assert admit.context["form"].initial["elder_code"] == elder.elder_code
    done = client.post(
        reverse("admin:facilities_stay_admit"),
        {"bed_code": bed.code, "elder_code": elder.elder_code, "start_date": "2024-05-01"},
    )
    assert done.status_code == 302
    assert Stay.objects.get(elder=elder).bed == bed
    # An elder someone else registered is not theirs to admit.
    with pytest.raises(OutOfScopeWrite):
        services.admit_to_bed(
            elder=ElderFactory(), bed=BedFactory(facility=home), start_date=D(2024, 5, 1), by=staff
        )
