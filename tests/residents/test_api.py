import datetime

import pytest
from rest_framework.test import APIClient

from residents.id_numbers import mask_id_number, with_check_character
from residents.models import AbilityAssessment
from tests.factories import ElderFactory
from tests.residents.test_assessment_levels import scores_totalling


@pytest.fixture
def api(rulebook, django_user_model):
    client = APIClient()
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_authenticate(user)
    return client


def test_anonymous_requests_are_refused(zhejiang):
    assert APIClient().get("/api/residents/elders/").status_code in (401, 403)


def test_list_masks_id_numbers_detail_shows_them(api):
    elder = ElderFactory()
    listed = api.get("/api/residents/elders/").json()["results"]
    assert listed[0]["id_number"] == mask_id_number(elder.id_number)
    assert "*" in listed[0]["id_number"]
    detail = api.get(f"/api/residents/elders/{elder.pk}/").json()
    assert detail["id_number"] == elder.id_number


def test_create_derives_sex_and_birth_date_and_names_bad_fields(api):
    number = with_check_character("33010619440312002")
    response = api.post(
        "/api/residents/elders/",
        {
            "id_number": number.lower(),
            "name": "钱七",
            "hukou_region": "330106",
            "phone": "138 0000 0003",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["sex"], body["birth_date"], body["phone"]) == ("F", "1944-03-12", "13800000003")
    bad = api.post(
        "/api/residents/elders/",
        {
            "id_number": number[:-1] + "0" if number[-1] != "0" else number[:-1] + "1",
            "name": "钱八",
            "hukou_region": "330106",
            "phone": "12",
        },
        format="json",
    )
    assert bad.status_code == 400
    assert "id_number" in bad.json()


def test_filters_by_age_band_region_and_category(api):
    old = ElderFactory(id_number=with_check_character("33010619300101001"))
    young = ElderFactory(id_number=with_check_character("33010619600101001"))
    from residents import services

    services.set_category(
        elder=young, category="living_alone", start_date=datetime.date(2020, 1, 1)
    )
    ids = lambda q: {e["id"] for e in api.get(f"/api/residents/elders/?{q}").json()["results"]}  # noqa: E731
    assert ids("age_band=90-99") == {old.pk}
    assert ids("category=living_alone") == {young.pk}
    assert ids("hukou_region=330100") == {old.pk, young.pk}
    assert ids("hukou_region=330200") == set()


def test_list_query_count_does_not_grow_with_elders(api, django_assert_max_num_queries):
    for _ in range(15):
        ElderFactory()
    with django_assert_max_num_queries(6):
        assert len(api.get("/api/residents/elders/").json()["results"]) == 15


def test_create_assessment_computes_levels(api):
    elder = ElderFactory()
    payload = {
        "elder": elder.pk,
        "assessed_on": "2024-05-01",
        "assessor": "评估员甲",
        **scores_totalling(45),
    }
    response = api.post("/api/residents/assessments/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["computed_level"] == "severe"
    assert AbilityAssessment.objects.get().total_score == 45
    payload["stairs"] = 9
    assert "stairs" in api.post("/api/residents/assessments/", payload, format="json").json()


def test_record_death_endpoint(api):
    elder = ElderFactory()
    response = api.post(
        f"/api/residents/elders/{elder.pk}/record-death/",
        {"death_date": "2024-02-01"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["death_date"] == "2024-02-01"


def test_assessments_due_endpoint(api):
    elder = ElderFactory()
    response = api.get("/api/residents/elders/assessments-due/")
    assert response.status_code == 200
    assert [d["elder_id"] for d in response.json()["results"]] == [elder.pk]


def test_a_region_code_with_a_nul_character_is_a_400_naming_the_field(api):
    """PostgreSQL cannot compare a string holding NUL; the field refuses it before the lookup."""
    number = with_check_character("33010619440312003")
    response = api.post(
        "/api/residents/elders/",
        {"id_number": number, "name": "钱九", "hukou_region": "3301\x0006"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"hukou_region"}


def test_create_records_the_disability_certificate_both_or_neither(api):
    number = with_check_character("33010619440312012")
    response = api.post(
        "/api/residents/elders/",
        {
            "id_number": number,
            "name": "残一",
            "hukou_region": "330106",
            "disability_category": "mental",
            "disability_grade": 3,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["disability_category"], body["disability_grade"]) == ("mental", 3)
    half = api.post(
        "/api/residents/elders/",
        {
            "id_number": with_check_character("33010619440312022"),
            "name": "残二",
            "hukou_region": "330106",
            "disability_category": "vision",
        },
        format="json",
    )
    assert half.status_code == 400
    assert "disability_grade" in half.json()
    bad_grade = api.post(
        "/api/residents/elders/",
        {
            "id_number": with_check_character("33010619440312032"),
            "name": "残三",
            "hukou_region": "330106",
            "disability_category": "vision",
            "disability_grade": 5,
        },
        format="json",
    )
    assert bad_grade.status_code == 400
    assert "disability_grade" in bad_grade.json()
