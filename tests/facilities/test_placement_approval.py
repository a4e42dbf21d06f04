"""The county's approval of placing an elder in institutional care (经县级民政部门批准纳入机构
养老, docs/policy.md §1 nursing subsidy — 000 §12) is recorded on the stay: by a civil-affairs
bureau of the elder's registration county, dated within the stay and the elder's life, kept in
the history; the admin and the API show and change it; the database keeps it whole."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.scoping import OutOfScopeWrite
from facilities import services
from facilities.models import Stay
from regions.models import Region
from residents.id_numbers import with_check_character
from tests.factories import BedFactory, ElderFactory, FacilityFactory
from tests.openapi_conformance import assert_matches_schema

D = datetime.date


def county(code):
    return Region.objects.get(code=code)


def staff(username, role, region_code=None, facility=None):
    group, _ = Group.objects.get_or_create(name=f"facilities-{role}")
    group.permissions.set(Permission.objects.filter(content_type__app_label="facilities"))
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    RoleAssignment.objects.create(
        user=user,
        role=role,
        region=county(region_code) if region_code else None,
        facility=facility,
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def stay(rulebook):
    """An elder registered in Xihu, in a bed of a Xihu institution since 2024-03-10."""
    elder = ElderFactory(id_number=with_check_character("33010619400501001"))
    bed = BedFactory(facility=FacilityFactory(name="西湖福利院"), label="201-1")
    return services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 10))


@pytest.fixture
def bureau(rulebook):
    return staff("xihu-bureau-placement", Role.BUREAU, "330106")


APPROVED = D(2024, 3, 20)


def approve(stay, on=APPROVED, *, by=None, **kwargs):
    values = {"approval_number": "西民批〔2024〕12号", "approved_by": county("330106")} | kwargs
    return services.record_placement_approval(stay=stay, approved_on=on, by=by, **values)


def refused(field, call):
    with pytest.raises(ValidationError) as error:
        call()
    return " ".join(error.value.message_dict[field])


def test_a_bureau_records_the_approval_on_the_stay_with_its_history(stay, bureau):
    approve(stay, by=bureau)
    stay.refresh_from_db()
    assert stay.placement_approved_on == D(2024, 3, 20)
    assert stay.placement_approval_number == "西民批〔2024〕12号"
    assert stay.placement_approved_by.code == "330106"
    latest = stay.history.latest("history_date")
    assert latest.history_user == bureau and latest.placement_approved_on == D(2024, 3, 20)


def test_an_approval_may_precede_the_admission(stay):
    approve(stay, D(2024, 2, 1))
    assert Stay.objects.get(pk=stay.pk).placement_approved_on == D(2024, 2, 1)


def test_dates_are_checked_against_today_the_life_and_the_stay(stay):
    assert "晚于今天" in refused("placement_approved_on", lambda: approve(stay, D(2999, 1, 1)))
    assert "出生日期" in refused("placement_approved_on", lambda: approve(stay, D(1939, 1, 1)))
    services.discharge(elder=stay.elder, end_date=D(2024, 4, 1))
    message = refused("placement_approved_on", lambda: approve(stay, D(2024, 4, 2)))
    assert "退住日期 2024-04-01" in message
    # On the day it ends is still within it (the constraint's bound); not after.
    approve(stay, D(2024, 4, 1))
    assert Stay.objects.get(pk=stay.pk).placement_approved_on == D(2024, 4, 1)


def test_no_approval_after_the_elders_death(stay):
    from residents.services import record_death

    record_death(elder=stay.elder, death_date=D(2024, 5, 1))
    stay.refresh_from_db()
    assert "死亡" in refused("placement_approved_on", lambda: approve(stay, D(2024, 5, 2)))


def test_the_number_and_the_registration_county_are_required(stay):
    assert refused("placement_approval_number", lambda: approve(stay, approval_number=" "))
    assert refused("placement_approved_by", lambda: approve(stay, approved_by=None))
    assert refused("placement_approved_by", lambda: approve(stay, approved_by=county("330100")))
    message = refused("placement_approved_by", lambda: approve(stay, approved_by=county("330523")))
    assert "户籍" in message


def test_only_a_bureau_of_the_county_records_it(stay, rulebook):
    street = staff("street-placement", Role.STREET_WORKER, "330106")
    home = staff("home-staff-placement", Role.INSTITUTION_STAFF, facility=stay.bed.facility)
    anji = staff("anji-bureau-placement", Role.BUREAU, "330523")
    city = staff("hangzhou-bureau-placement", Role.BUREAU, "330100")
    for writer in (street, home):
        assert "民政部门" in refused("placement_approved_by", lambda w=writer: approve(stay, by=w))
    with pytest.raises(OutOfScopeWrite):
        approve(stay, by=anji)
    approve(stay, by=city)  # the city's bureau covers Xihu
    assert Stay.objects.get(pk=stay.pk).placement_approved_on is not None


def test_a_home_care_bed_is_not_institutional_care(rulebook):
    elder = ElderFactory(id_number=with_check_character("33010619400501002"))
    bed = BedFactory(bed_type="home_care", home_address="杭州市某小区1幢101室")
    at_home = services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 3, 10))
    assert "家庭养老床位" in refused("stay", lambda: approve(at_home))


def test_a_change_or_a_withdrawal_needs_a_reason_and_is_kept(stay, bureau):
    approve(stay, by=bureau)
    assert refused("reason", lambda: approve(stay, D(2024, 3, 21), by=bureau))
    approve(stay, D(2024, 3, 21), by=bureau, reason="批准日期录入错误")
    services.record_placement_approval(
        stay=stay, approved_on=None, reason="登记在错误的入住上", by=bureau
    )
    stay.refresh_from_db()
    assert stay.placement_approved_on is None and stay.placement_approval_number == ""
    assert stay.placement_approved_by is None
    dates = [h.placement_approved_on for h in stay.history.order_by("history_date")]
    assert dates[-3:] == [D(2024, 3, 20), D(2024, 3, 21), None]
    assert "登记在错误的入住上" in stay.history.latest("history_date").history_change_reason


def test_a_discharge_before_the_approval_is_refused(stay):
    approve(stay, D(2024, 3, 20))
    message = refused(
        "end_date", lambda: services.discharge(elder=stay.elder, end_date=D(2024, 3, 15))
    )
    assert "批准" in message
    assert Stay.objects.get(pk=stay.pk).end_date is None


def test_a_transfer_keeps_the_approval_but_not_into_a_home_care_bed(stay):
    approve(stay)
    other = BedFactory(facility=stay.bed.facility, label="202-1")
    moved = services.transfer(elder=stay.elder, to_bed=other, on=D(2024, 4, 1))
    assert (moved.placement_approved_on, moved.placement_approval_number) == (
        D(2024, 3, 20),
        "西民批〔2024〕12号",
    )
    home = BedFactory(bed_type="home_care", home_address="杭州市某小区2幢202室")
    back_home = services.transfer(elder=stay.elder, to_bed=home, on=D(2024, 5, 1))
    assert back_home.placement_approved_on is None


def test_the_database_keeps_the_approval_whole_and_within_the_stay(stay):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stay.objects.filter(pk=stay.pk).update(placement_approved_on=D(2024, 3, 20))
    approve(stay)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stay.objects.filter(pk=stay.pk).update(end_date=D(2024, 3, 15), end_reason="discharged")


# --- the admin and the API --------------------------------------------------------------------


def test_the_api_shows_and_records_the_approval(stay, bureau):
    client = APIClient()
    client.force_authenticate(bureau)
    url = f"/api/facilities/stays/{stay.pk}/placement-approval/"
    response = client.post(
        url,
        {
            "approved_on": "2024-03-20",
            "approval_number": "西民批〔2024〕12号",
            "approved_by": "330106",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["placement_approved_on"] == "2024-03-20"
    assert body["placement_approved_by"] == "330106"
    assert_matches_schema("post", "/api/facilities/stays/{id}/placement-approval/", response)
    listed = client.get("/api/facilities/stays/", {"elder": stay.elder_id}).json()["results"]
    assert listed[0]["placement_approval_number"] == "西民批〔2024〕12号"
    # Bad input names the field; nothing is written.
    bad = client.post(url, {"approved_on": "2999-01-01", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "placement_approved_on" in bad.json()
    assert Stay.objects.get(pk=stay.pk).placement_approved_on == D(2024, 3, 20)


def test_institution_staff_see_it_but_cannot_record_it(stay):
    home = staff("home-staff-api", Role.INSTITUTION_STAFF, facility=stay.bed.facility)
    client = APIClient()
    client.force_authenticate(home)
    response = client.post(
        f"/api/facilities/stays/{stay.pk}/placement-approval/",
        {"approved_on": "2024-03-20", "approval_number": "x", "approved_by": "330106"},
        format="json",
    )
    assert response.status_code == 400 and "placement_approved_by" in response.json()
    assert Stay.objects.get(pk=stay.pk).placement_approved_on is None


def test_the_admin_page_records_the_approval(stay, bureau, client):
    client.force_login(bureau)
    url = reverse("admin:facilities_stay_placement", args=[stay.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "placement_approved_on": "2024-03-20",
            "placement_approval_number": "西民批〔2024〕12号",
            "placement_approved_by": county("330106").pk,
        },
    )
    assert response.status_code == 302
    assert Stay.objects.get(pk=stay.pk).placement_approval_number == "西民批〔2024〕12号"
    page = client.get(reverse("admin:facilities_stay_change", args=[stay.pk])).content.decode()
    assert "西民批〔2024〕12号" in page
    # A refusal is shown on its field, with the input kept.
    refused_page = client.post(
        url,
        {
            "placement_approved_on": "2999-01-01",
            "placement_approval_number": "x",
            "placement_approved_by": county("330106").pk,
            "reason": "改",
        },
    )
    assert refused_page.status_code == 200
    assert refused_page.context["form"].errors["placement_approved_on"]
