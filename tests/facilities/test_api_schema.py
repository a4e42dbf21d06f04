"""The facilities reports (staffing, workforce, code lookup, waiting list) return what the
OpenAPI schema says, in each of their shapes."""

import datetime

import pytest
from rest_framework.test import APIClient
from schemathesis.openapi.checks import JsonSchemaError

from facilities import services
from residents.services import record_legacy_assessment
from tests.factories import BedFactory, CaregiverFactory, ElderFactory, FacilityFactory
from tests.openapi_conformance import assert_matches_schema

D = datetime.date
ON = "2024-06-01"


@pytest.fixture
def api(rulebook, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("root", "", "x"))
    return client


@pytest.fixture
def institution(rulebook):
    """Short of caregivers: four severely disabled residents (4/3 → 2 required), one
    resident never assessed, one caregiver."""
    facility = FacilityFactory(name="西湖测试福利院")
    for level in ["severe", "severe", "severe", "severe", None]:
        elder = ElderFactory()
        services.admit_to_bed(
            elder=elder, bed=BedFactory(facility=facility), start_date=D(2024, 1, 1)
        )
        if level:
            record_legacy_assessment(
                elder=elder, assessed_on=D(2024, 1, 1), assessor="评估员", level=level
            )
    caregiver = CaregiverFactory()
    services.employ_caregiver(caregiver=caregiver, facility=facility, start_date=D(2023, 1, 1))
    services.add_certificate(
        caregiver=caregiver, kind="caregiver_skill", grade="technician", issued_on=D(2022, 1, 1)
    )
    return facility


def test_the_staffing_check_of_a_facility_matches_the_schema(api, institution):
    response = api.get("/api/facilities/staffing/", {"facility": institution.code, "on": ON})
    assert response.status_code == 200
    body = response.json()
    assert (body["required"], body["actual"], body["shortfall"]) == (2, 1, 1)
    assert len(body["unassessed"]) == 1 and body["ratios"]["fully_disabled"]["citation"]
    assert_matches_schema("get", "/api/facilities/staffing/", response)
    action = api.get(f"/api/facilities/facilities/{institution.pk}/staffing/", {"on": ON})
    assert action.json() == body
    assert_matches_schema("get", "/api/facilities/facilities/{id}/staffing/", action)


def test_the_short_staffed_list_matches_the_schema(api, institution):
    response = api.get(
        "/api/facilities/staffing/", {"region": "330106", "short_staffed": "1", "on": ON}
    )
    assert response.status_code == 200
    assert [r["facility"]["code"] for r in response.json()["short_staffed"]] == [institution.code]
    assert_matches_schema("get", "/api/facilities/staffing/", response)


def test_the_planning_form_matches_the_schema(api):
    response = api.get(
        "/api/facilities/staffing/",
        {"region": "330106", "fully_disabled": 4, "partially_disabled": 2, "self_caring": 1},
    )
    assert response.status_code == 200 and response.json()["required"] == 2
    assert_matches_schema("get", "/api/facilities/staffing/", response)


def test_workforce_figures_match_the_schema(api, institution):
    response = api.get("/api/facilities/workforce/", {"region": "330106", "on": ON})
    assert response.status_code == 200 and response.json()["certified_caregivers"] == 1
    assert_matches_schema("get", "/api/facilities/workforce/", response)


def test_code_lookups_match_the_schema_for_elders_and_beds_with_and_without_a_stay(
    api, institution
):
    resident = institution.beds.first().stays.get().elder
    empty_bed = BedFactory(facility=institution)
    for code in [resident.elder_code, ElderFactory().elder_code, empty_bed.code]:
        response = api.get("/api/facilities/lookup/", {"code": code})
        assert response.status_code == 200, code
        assert_matches_schema("get", "/api/facilities/lookup/", response)
    occupied = api.get("/api/facilities/lookup/", {"code": institution.beds.first().code})
    assert occupied.json()["stay"]["elder"]["id"] == resident.pk
    assert_matches_schema("get", "/api/facilities/lookup/", occupied)


def test_the_waiting_list_matches_the_schema(api, institution):
    services.apply_for_place(
        facility=institution, elder=ElderFactory(), applied_on=D(2024, 5, 1), note=""
    )
    response = api.get(f"/api/facilities/facilities/{institution.pk}/waiting-list/")
    assert response.status_code == 200 and response.json()[0]["rank"] == 1
    assert_matches_schema("get", "/api/facilities/facilities/{id}/waiting-list/", response)


def test_the_check_refuses_a_body_that_breaks_the_schema(api, institution):
    response = api.get("/api/facilities/workforce/", {"region": "330106", "on": ON})
    response.content = response.content.replace(b'"certified_caregivers":1', b'"certified":1')
    with pytest.raises(JsonSchemaError, match="certified_caregivers"):
        assert_matches_schema("get", "/api/facilities/workforce/", response)


@pytest.mark.parametrize("on", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
@pytest.mark.parametrize("url", ["/api/facilities/workforce/", "/api/facilities/staffing/"])
def test_a_date_out_of_the_supported_range_is_a_400_naming_on(api, url, on):
    # Year 1 used to overflow the sixty-years-back arithmetic of the workforce figures (500).
    response = api.get(url, {"region": "330106", "short_staffed": "1", "on": on})
    assert response.status_code == 400 and "on" in response.json()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/facilities/workforce/", "region"),
        ("/api/facilities/staffing/", "region"),
        ("/api/facilities/staffing/", "facility"),
        ("/api/facilities/lookup/", "code"),
    ],
)
def test_a_code_with_a_nul_character_is_a_400_naming_the_field(api, url, field):
    # PostgreSQL refuses NUL in text: the query used to fail with a 500 there.
    response = api.get(url, {field: "33\x000106"})
    assert response.status_code == 400 and field in response.json()


def test_beds_with_and_without_a_room_match_the_schema(api, institution):
    home = BedFactory(facility=institution, bed_type="home_care", home_address="翠苑一区3幢")
    response = api.get("/api/facilities/beds/", {"limit": 500})
    assert response.status_code == 200
    rooms = {bed["id"]: bed["room"] for bed in response.json()["results"]}
    assert rooms[home.pk] is None and any(rooms.values())
    assert_matches_schema("get", "/api/facilities/beds/", response)
    detail = api.get(f"/api/facilities/beds/{home.pk}/")
    assert_matches_schema("get", "/api/facilities/beds/{id}/", detail)


def test_the_facility_list_and_detail_document_their_date_and_its_refusal(api, institution):
    """``on`` chooses the rating shown; a bad one is a 400 naming it, as documented."""
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/facilities/facilities/", "/api/facilities/facilities/{id}/"):
        operation = document["paths"][path]["get"]
        assert "on" in {p["name"] for p in operation["parameters"]}
        assert "400" in operation["responses"]
    response = api.get("/api/facilities/facilities/", {"on": "2024-13-01"})
    assert response.status_code == 400 and "on" in response.json()
    response = api.get("/api/facilities/facilities/", {"on": "2024-06-01"})
    assert_matches_schema("get", "/api/facilities/facilities/", response)
