"""Logging visits from the field: one at a time or in offline batches, idempotent by UUID."""

import datetime
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from residents.models import Elder
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import XIHU_COMMUNITY, XIHU_OTHER_STREET_COMMUNITY
from visits.models import FollowUpTask, Visit

pytestmark = pytest.mark.django_db

WHEN = "2024-03-05T10:30:00+08:00"


@pytest.fixture
def worker(policies):
    user = FieldWorkerFactory(username="cuiyuan1")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    return user


@pytest.fixture
def api(worker):
    client = APIClient()
    client.force_authenticate(worker)
    return client


@pytest.fixture
def elder(make_elder):
    return make_elder("living_alone")


def payload(elder_, /, **changes):
    body = {
        "uuid": str(uuid.uuid4()),
        "elder": elder_.pk,
        "visited_at": WHEN,
        "mode": "home",
        "outcome": "seen_well",
        "needs": ["meals"],
        "notes": "精神不错",
        "latitude": 30.2874561234,
        "longitude": 120.1214987654,
    }
    body.update(changes)
    return body


def test_a_visit_is_logged_with_its_client_uuid(api, elder):
    body = payload(elder)
    response = api.post("/api/visits/visits/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "accepted"
    visit = Visit.objects.get(uuid=body["uuid"])
    assert (visit.elder, visit.mode, visit.needs) == (elder, "home", ["meals"])
    assert str(visit.latitude) == "30.287456"
    assert visit.visited_at == datetime.datetime.fromisoformat(WHEN)


def test_sending_the_same_uuid_again_returns_the_original_as_duplicate(api, elder):
    body = payload(elder)
    first = api.post("/api/visits/visits/", body, format="json").json()
    again = api.post("/api/visits/visits/", {**body, "notes": "改过的"}, format="json")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["visit"]["id"] == first["visit"]["id"]
    assert again.json()["visit"]["notes"] == "精神不错"
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"uuid": "not-a-uuid"}, "uuid"),
        ({"mode": "pigeon"}, "mode"),
        ({"outcome": "fine"}, "outcome"),
        ({"needs": ["massage"]}, "needs"),
        ({"visited_at": "yesterday"}, "visited_at"),
        ({"latitude": 95}, "latitude"),
        ({"longitude": None}, "longitude"),
        ({"elder": 999999}, "elder"),
        ({"visited_at": "2099-01-01T10:00:00+08:00"}, "visited_at"),
    ],
)
def test_bad_input_is_refused_naming_the_field(api, elder, change, field):
    response = api.post("/api/visits/visits/", payload(elder, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Visit.objects.exists()


def test_an_elder_outside_the_workers_areas_is_refused(api, make_elder):
    elsewhere = make_elder("living_alone", lives=XIHU_OTHER_STREET_COMMUNITY)
    response = api.post("/api/visits/visits/", payload(elsewhere), format="json")
    assert response.status_code == 400
    assert "elder" in response.json()


def test_a_visit_after_the_recorded_death_is_refused(api, elder):
    from residents.services import record_death

    record_death(elder=elder, death_date=datetime.date(2024, 3, 1))
    response = api.post("/api/visits/visits/", payload(elder), format="json")
    assert response.status_code == 400
    assert "elder" in response.json()


def test_batch_accepts_and_rejects_each_visit_on_its_own(api, elder, make_elder):
    elsewhere = make_elder("living_alone", lives=XIHU_OTHER_STREET_COMMUNITY)
    good, bad_mode, outside = payload(elder), payload(elder, mode="pigeon"), payload(elsewhere)
    response = api.post(
        "/api/visits/visits/batch/", {"visits": [good, bad_mode, outside]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 0, 2)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "accepted"), (1, "rejected"), (2, "rejected")]
    assert "mode" in body["results"][1]["errors"]
    assert "elder" in body["results"][2]["errors"]
    assert list(Visit.objects.values_list("uuid", flat=True)) == [uuid.UUID(good["uuid"])]


def test_sending_the_same_batch_again_changes_nothing(api, elder):
    visits = [
        payload(elder, visited_at=f"2024-03-0{d}T09:00:00+08:00", outcome=outcome)
        for d, outcome in [(1, "seen_well"), (2, "needs_follow_up"), (3, "deceased")]
    ]
    first = api.post("/api/visits/visits/batch/", {"visits": visits}, format="json").json()
    assert first["accepted"] == 3
    snapshot = (
        list(Visit.objects.order_by("id").values()),
        list(FollowUpTask.objects.order_by("id").values()),
    )
    again = api.post("/api/visits/visits/batch/", {"visits": visits}, format="json").json()
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 3, 0)
    assert [r["visit"] for r in again["results"]] == [r["visit"] for r in first["results"]]
    assert snapshot == (
        list(Visit.objects.order_by("id").values()),
        list(FollowUpTask.objects.order_by("id").values()),
    )


def test_the_same_uuid_twice_in_one_batch_is_stored_once(api, elder):
    body = payload(elder)
    result = api.post("/api/visits/visits/batch/", {"visits": [body, body]}, format="json").json()
    assert [r["status"] for r in result["results"]] == ["accepted", "duplicate"]
    assert Visit.objects.count() == 1


def test_an_empty_or_malformed_batch_names_the_field(api):
    assert "visits" in api.post("/api/visits/visits/batch/", {"visits": []}, format="json").json()
    assert "visits" in api.post("/api/visits/visits/batch/", {}, format="json").json()


# --- follow-up tasks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "kind"), [("deceased", "death_report"), ("needs_follow_up", "needs")]
)
def test_outcomes_that_need_action_open_a_task_for_the_area(api, elder, outcome, kind):
    api.post("/api/visits/visits/", payload(elder, outcome=outcome), format="json")
    task = FollowUpTask.objects.get()
    assert (task.kind, task.status, task.elder, task.area.code) == (
        kind,
        "open",
        elder,
        XIHU_COMMUNITY,
    )


@pytest.mark.parametrize("outcome", ["seen_well", "not_at_home", "in_hospital"])
def test_other_outcomes_open_no_task(api, elder, outcome):
    api.post("/api/visits/visits/", payload(elder, outcome=outcome), format="json")
    assert not FollowUpTask.objects.exists()


def test_confirming_a_reported_death_records_it_and_closes_the_tasks(api, elder):
    api.post(
        "/api/visits/visits/",
        payload(elder, outcome="needs_follow_up", visited_at="2024-03-01T09:00:00+08:00"),
        format="json",
    )
    api.post("/api/visits/visits/", payload(elder, outcome="deceased"), format="json")
    report = FollowUpTask.objects.get(kind="death_report")
    response = api.post(
        f"/api/visits/tasks/{report.pk}/confirm-death/",
        {"death_date": "2024-03-04"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done"
    # Stored in the interface's default language, whoever's request confirmed it.
    report.refresh_from_db()
    assert report.resolution == "死亡已核实，死亡日期 2024-03-04。"
    assert Elder.objects.get(pk=elder.pk).death_date == datetime.date(2024, 3, 4)
    statuses = dict(FollowUpTask.objects.values_list("kind", "status"))
    assert statuses == {"death_report": "done", "needs": "cancelled"}
    assert FollowUpTask.objects.get(kind="death_report").closed_by.username == "cuiyuan1"


def test_confirm_death_names_a_bad_date(api, elder):
    api.post("/api/visits/visits/", payload(elder, outcome="deceased"), format="json")
    task = FollowUpTask.objects.get()
    response = api.post(f"/api/visits/tasks/{task.pk}/confirm-death/", {}, format="json")
    assert response.status_code == 400 and "death_date" in response.json()
    future = api.post(
        f"/api/visits/tasks/{task.pk}/confirm-death/", {"death_date": "2999-01-01"}, format="json"
    )
    assert future.status_code == 400 and "death_date" in future.json()
    assert FollowUpTask.objects.get().status == "open"


def test_a_task_is_closed_with_its_resolution(api, elder):
    api.post("/api/visits/visits/", payload(elder, outcome="needs_follow_up"), format="json")
    task = FollowUpTask.objects.get()
    missing = api.post(f"/api/visits/tasks/{task.pk}/close/", {}, format="json")
    assert missing.status_code == 400 and "resolution" in missing.json()
    done = api.post(
        f"/api/visits/tasks/{task.pk}/close/", {"resolution": "已联系助餐点"}, format="json"
    )
    assert done.json()["status"] == "done"


def test_tasks_outside_the_users_scope_are_not_found(policies, make_elder):
    other = FieldWorkerFactory(username="beishan1")
    community = Region.objects.get(code=XIHU_OTHER_STREET_COMMUNITY)
    assign_role(user=other, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=other, area=community)
    from visits import services

    elder = make_elder("living_alone", lives=XIHU_OTHER_STREET_COMMUNITY)
    services.record_visit(
        uuid=uuid.uuid4(),
        elder=elder,
        worker=other,
        visited_at=datetime.datetime.fromisoformat(WHEN),
        mode="phone",
        outcome="needs_follow_up",
    )
    outsider = FieldWorkerFactory(username="cuiyuan2")
    assign_role(user=outsider, role=Role.STREET_WORKER, region=Region.objects.get(code="330106004"))
    client = APIClient()
    client.force_authenticate(outsider)
    task = FollowUpTask.objects.get()
    assert client.get("/api/visits/tasks/").json()["count"] == 0
    response = client.post(
        f"/api/visits/tasks/{task.pk}/close/", {"resolution": "x"}, format="json"
    )
    assert response.status_code == 404


# --- today's list ---------------------------------------------------------------------------


def test_todays_list_shows_the_workers_elders_still_owed_first(api, make_elder):
    daily = make_elder("childless_alone")
    monthly = make_elder("empty_nest")
    make_elder("empty_nest", lives=XIHU_OTHER_STREET_COMMUNITY)  # not this worker's area
    make_elder()  # no group: not listed
    api.post(
        "/api/visits/visits/",
        payload(monthly, visited_at="2024-03-01T09:00:00+08:00"),
        format="json",
    )
    response = api.get("/api/visits/today/", {"date": "2024-03-05"})
    assert response.status_code == 200
    rows = response.json()["elders"]
    assert [(r["elder"], r["frequency"], r["due"]) for r in rows] == [
        (daily.pk, "daily", True),
        (monthly.pk, "monthly", False),
    ]
    assert "*" in rows[0]["id_number"]
    assert response.json()["owed"] == 1


def test_todays_list_names_a_bad_date(api):
    response = api.get("/api/visits/today/", {"date": "05/03/2024"})
    assert response.status_code == 400 and "date" in response.json()
