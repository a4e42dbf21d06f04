"""The field workers' endpoints return what the OpenAPI schema says: one visit and a batch
(accepted, duplicate, rejected by shape and by rule), today's list, follow-up tasks,
compliance and health checks."""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.openapi_conformance import assert_matches_schema
from tests.visits.conftest import XIHU_OTHER_STREET_COMMUNITY
from visits.models import FollowUpTask

pytestmark = pytest.mark.django_db

CUIYUAN = "330106004"


@pytest.fixture
def api(policies):
    worker = FieldWorkerFactory(username="cuiyuan-schema")
    street = Region.objects.get(code=CUIYUAN)
    assign_role(user=worker, role=Role.STREET_WORKER, region=street)
    VisitWorkerFactory(user=worker, area=street)
    client = APIClient()
    client.force_authenticate(worker)
    return client


def visit(elder, *, when="2024-03-05T10:30:00+08:00", **changes):
    return {
        "uuid": str(uuid.uuid4()),
        "elder": elder.pk,
        "visited_at": when,
        "mode": "home",
        "outcome": "seen_well",
        "needs": ["meals"],
        "latitude": 30.287456,
        "longitude": 120.121498,
        **changes,
    }


def test_one_visit_accepted_and_again_as_duplicate_match_the_schema(api, make_elder):
    body = visit(make_elder("living_alone"))
    first = api.post("/api/visits/visits/", body, format="json")
    again = api.post("/api/visits/visits/", body, format="json")
    assert (first.status_code, first.json()["status"]) == (201, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert_matches_schema("post", "/api/visits/visits/", first)
    assert_matches_schema("post", "/api/visits/visits/", again)


def test_a_batch_with_every_kind_of_result_matches_the_schema(api, make_elder):
    elder = make_elder("living_alone")
    stored = visit(elder)
    api.post("/api/visits/visits/", stored, format="json")
    elsewhere = make_elder("living_alone", lives=XIHU_OTHER_STREET_COMMUNITY)
    items = [visit(elder), stored, visit(elder, mode="pigeon"), visit(elsewhere), {"notes": 1}]
    response = api.post("/api/visits/visits/batch/", {"visits": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 3)
    assert body["results"][4]["uuid"] == "" and "uuid" in body["results"][4]["errors"]
    assert_matches_schema("post", "/api/visits/visits/batch/", response)


def test_todays_list_matches_the_schema(api, make_elder):
    make_elder("childless_alone")
    seen = make_elder("empty_nest")
    api.post("/api/visits/visits/", visit(seen, when="2024-03-01T09:00:00+08:00"), format="json")
    response = api.get("/api/visits/today/", {"date": "2024-03-05"})
    assert response.status_code == 200 and len(response.json()["elders"]) == 2
    assert_matches_schema("get", "/api/visits/today/", response)


def test_closing_a_task_and_confirming_a_death_match_the_schema(api, make_elder):
    elder = make_elder("living_alone")
    api.post("/api/visits/visits/", visit(elder, outcome="needs_follow_up"), format="json")
    needs = FollowUpTask.objects.get(kind="needs")
    closed = api.post(
        f"/api/visits/tasks/{needs.pk}/close/", {"resolution": "已联系"}, format="json"
    )
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert_matches_schema("post", "/api/visits/tasks/{id}/close/", closed)
    api.post("/api/visits/visits/", visit(elder, outcome="deceased"), format="json")
    report = FollowUpTask.objects.get(kind="death_report")
    confirmed = api.post(
        f"/api/visits/tasks/{report.pk}/confirm-death/", {"death_date": "2024-03-04"}, format="json"
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "done"
    assert_matches_schema("post", "/api/visits/tasks/{id}/confirm-death/", confirmed)


@pytest.mark.parametrize("group_by", ["street", "community", "worker"])
def test_compliance_with_lines_and_overdue_elders_matches_the_schema(api, make_elder, group_by):
    seen = make_elder("empty_nest")
    make_elder("childless_alone")  # daily, never visited: overdue
    api.post("/api/visits/visits/", visit(seen, when="2024-06-03T09:00:00+08:00"), format="json")
    response = api.get(
        "/api/visits/compliance/", {"area": CUIYUAN, "month": "2024-06", "group_by": group_by}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["lines"] and body["overdue"] and body["total"]["rate"] is not None
    assert_matches_schema("get", "/api/visits/compliance/", response)


def test_compliance_with_nothing_owed_has_no_rate_and_matches_the_schema(api):
    response = api.get("/api/visits/compliance/", {"area": CUIYUAN, "month": "2024-06"})
    assert response.status_code == 200
    assert response.json()["total"]["rate"] is None and response.json()["lines"] == []
    assert_matches_schema("get", "/api/visits/compliance/", response)


def test_compliance_before_the_rulebook_sets_a_target_is_a_400_naming_the_period(api):
    # The coverage target starts later than 2020: no figure can be judged against it.
    by_dates = api.get(
        "/api/visits/compliance/", {"area": CUIYUAN, "start": "2020-01-01", "end": "2020-01-31"}
    )
    assert by_dates.status_code == 400, by_dates.json()
    assert "visit_coverage_target" in str(by_dates.json()["start"])
    by_month = api.get("/api/visits/compliance/", {"area": CUIYUAN, "month": "2020-01"})
    assert by_month.status_code == 400 and "month" in by_month.json()


def test_health_checks_owed_and_recorded_match_the_schema(api, make_elder):
    elder = make_elder("living_alone")
    make_elder("childless_alone")
    recorded = api.post(
        "/api/visits/health-checks/",
        {"elder": elder.pk, "checked_on": "2024-03-01", "provider": "翠苑社区卫生服务中心"},
        format="json",
    )
    assert recorded.status_code == 201, recorded.json()
    assert_matches_schema("post", "/api/visits/health-checks/", recorded)
    owed = api.get("/api/visits/health-checks/", {"area": CUIYUAN, "date": "2024-06-01"})
    assert owed.status_code == 200
    assert (owed.json()["due"], owed.json()["done"]) == (2, 1)
    assert_matches_schema("get", "/api/visits/health-checks/", owed)


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        # Year 1 overflowed the age arithmetic and 9999-12-31 the day after a period (500s).
        ("/api/visits/compliance/", {"start": "0001-01-01", "end": "2024-01-31"}, "start"),
        ("/api/visits/compliance/", {"start": "2024-01-01", "end": "9999-12-31"}, "end"),
        ("/api/visits/compliance/", {"month": "9999-12"}, "month"),
        ("/api/visits/health-checks/", {"date": "0001-01-01"}, "date"),
        ("/api/visits/today/", {"date": "3000-01-01"}, "date"),
    ],
)
def test_a_date_out_of_the_supported_range_is_a_400_naming_it(api, url, query, field):
    response = api.get(url, {"area": CUIYUAN, **query})
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize("url", ["/api/visits/compliance/", "/api/visits/health-checks/"])
def test_an_area_with_a_nul_character_is_a_400_naming_area(api, url):
    # PostgreSQL refuses NUL in text: the query used to fail with a 500 there.
    response = api.get(url, {"area": "330106\x00", "month": "2024-06"})
    assert response.status_code == 400 and "area" in response.json()
