import datetime

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import RoleAssignment
from facilities import services
from regions.models import Region
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory

D = datetime.date


@pytest.fixture
def api(rulebook, django_user_model):
    client = APIClient()
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_authenticate(user)
    return client


@pytest.fixture
def bed(rulebook):
    return BedFactory(facility=FacilityFactory(name="西湖福利院"), label="201-1")


def test_admit_conflict_is_409_naming_bed_and_person(api, bed):
    first, second = ElderFactory(name="周一"), ElderFactory()
    ok = api.post(
        "/api/facilities/stays/",
        {"elder": first.pk, "bed": bed.pk, "start_date": "2024-03-01"},
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    conflict = api.post(
        "/api/facilities/stays/",
        {"elder": second.pk, "bed": bed.pk, "start_date": "2024-03-02"},
        format="json",
    )
    assert conflict.status_code == 409
    assert "201-1" in conflict.json()["bed"][0] and "周一" in conflict.json()["bed"][0]


def test_discharge_and_transfer_through_the_api(api, bed):
    elder = ElderFactory()
    stay = services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    target = BedFactory(facility=bed.facility)
    moved = api.post(
        f"/api/facilities/stays/{stay.pk}/transfer/",
        {"to_bed": target.pk, "on": "2024-02-01"},
        format="json",
    )
    assert moved.status_code == 201 and moved.json()["bed"] == target.pk
    out = api.post(
        f"/api/facilities/stays/{moved.json()['id']}/discharge/",
        {"end_date": "2024-01-15"},
        format="json",
    )
    assert out.status_code == 400 and "end_date" in out.json()


def test_lookup_by_elder_code_and_bed_code(api, bed):
    elder = ElderFactory(name="吴二")
    services.admit_to_bed(elder=elder, bed=bed, start_date=D(2024, 1, 1))
    by_elder = api.get("/api/facilities/lookup/", {"code": elder.elder_code.lower()}).json()
    assert by_elder["stay"]["bed"]["code"] == bed.code
    by_bed = api.get("/api/facilities/lookup/", {"code": bed.code}).json()
    assert by_bed["stay"]["elder"]["name"] == "吴二"
    assert api.get("/api/facilities/lookup/", {"code": "BNOPE"}).status_code == 404


def test_beds_list_shows_who_is_in_each(api, bed, django_assert_max_num_queries):
    services.admit_to_bed(elder=ElderFactory(name="郑三"), bed=bed, start_date=D(2024, 1, 1))
    for _ in range(5):
        BedFactory(facility=bed.facility)
    with django_assert_max_num_queries(4):
        rows = api.get("/api/facilities/beds/", {"facility": bed.facility_id}).json()["results"]
    occupied = [r for r in rows if r["occupant_name"]]
    assert [(r["label"], r["occupant_name"]) for r in occupied] == [("201-1", "郑三")]


def test_waiting_list_applications_and_admission(api, bed):
    elder = ElderFactory()
    created = api.post(
        "/api/facilities/applications/",
        {"facility": bed.facility_id, "elder": elder.pk, "applied_on": "2024-01-01"},
        format="json",
    )
    assert created.status_code == 201
    ranked = api.get(f"/api/facilities/facilities/{bed.facility_id}/waiting-list/").json()
    assert ranked[0]["rank"] == 1 and ranked[0]["explanation"]
    admitted = api.post(
        f"/api/facilities/applications/{created.json()['id']}/admit/",
        {"on": "2024-02-01", "bed": bed.pk},
        format="json",
    )
    assert admitted.status_code == 201


def test_staffing_endpoint_planning_form(api):
    result = api.get(
        "/api/facilities/staffing/",
        {"region": "330106", "fully_disabled": 3, "partially_disabled": 0, "self_caring": 0},
    ).json()
    assert result["required"] == 1
    assert result["ratios"]["fully_disabled"]["citation"]
    bad = api.get("/api/facilities/staffing/", {"region": "330106", "fully_disabled": -1})
    assert bad.status_code == 400 and "fully_disabled" in bad.json()


def test_caregivers_and_workforce(api, bed):
    caregiver = CaregiverFactory()
    services.employ_caregiver(caregiver=caregiver, facility=bed.facility, start_date=D(2023, 1, 1))
    services.add_certificate(
        caregiver=caregiver, kind="caregiver_skill", grade="technician", issued_on=D(2022, 1, 1)
    )
    listed = api.get("/api/facilities/caregivers/").json()["results"]
    assert listed[0]["certificates"][0]["grade"] == "technician"
    figures = api.get("/api/facilities/workforce/", {"region": "330106"}).json()
    assert figures["certified_caregivers"] == 1


def test_institution_staff_see_only_their_facility(rulebook, django_user_model):
    mine, other = FacilityFactory(name="本院"), FacilityFactory(name="他院")
    user = django_user_model.objects.create_user("staff", password="pw-123456!")
    RoleAssignment.objects.create(user=user, role=Role.INSTITUTION_STAFF, facility=mine)
    client = APIClient()
    client.force_authenticate(user)
    names = [f["name"] for f in client.get("/api/facilities/facilities/").json()["results"]]
    assert names == ["本院"]
    assert client.get(f"/api/facilities/facilities/{other.pk}/").status_code == 404


def test_workforce_figures_only_for_areas_in_scope(rulebook, django_user_model):
    user = django_user_model.objects.create_user("bureau-ningbo", password="pw-123456!")
    RoleAssignment.objects.create(
        user=user, role=Role.BUREAU, region=Region.objects.get(code="330200")
    )
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/facilities/workforce/", {"region": "330200"}).status_code == 200
    assert client.get("/api/facilities/workforce/", {"region": "330106"}).status_code == 403
