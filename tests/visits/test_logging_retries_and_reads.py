"""Logging a visit reads its elder once and leaves the UUID to the insert: what a phone sees
stays the same — an unknown elder is refused on its field, the worker's assignment is checked
for the visit's day, and a retry is its stored visit's duplicate even when today's rules would
refuse it."""

import datetime
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from residents.services import record_death
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import XIHU_COMMUNITY, XIHU_OTHER_COMMUNITY
from visits import services
from visits.models import FollowUpTask, Visit, VisitWorker

pytestmark = pytest.mark.django_db

WHEN = "2024-03-05T10:30:00+08:00"


@pytest.fixture
def community():
    return Region.objects.get(code=XIHU_COMMUNITY)


@pytest.fixture
def worker(policies, community):
    user = FieldWorkerFactory(username="cuiyuan-retries")
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community, start_date=datetime.date(2024, 1, 1))
    return user


@pytest.fixture
def api(worker):
    client = APIClient()
    client.force_authenticate(worker)
    return client


def _visit(elder_pk, **changes):
    return {
        "uuid": str(uuid.uuid4()),
        "elder": elder_pk,
        "visited_at": WHEN,
        "mode": "home",
        "outcome": "seen_well",
        **changes,
    }


@pytest.mark.parametrize("key", [987654321, 0, -1, 2**63, -(2**63) - 1, 10**30])
def test_an_unknown_elder_is_refused_on_the_elder_field(api, key):
    response = api.post("/api/visits/visits/", _visit(key), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["elder"]
    assert Visit.objects.count() == 0


@pytest.mark.parametrize("elder", ["abc", None, 1.5, [1]])
def test_an_elder_that_is_not_a_number_is_refused_on_the_elder_field(api, elder):
    response = api.post("/api/visits/visits/", _visit(elder), format="json")
    assert response.status_code == 400 and "elder" in response.json()


def test_the_answer_names_the_elder_and_the_worker(api, make_elder, worker):
    elder = make_elder("living_alone")
    body = _visit(elder.pk, latitude=30.2874561234, longitude=120.1214987654)
    response = api.post("/api/visits/visits/", body, format="json")
    assert response.status_code == 201
    visit = response.json()["visit"]
    assert (visit["elder"], visit["elder_name"], visit["worker"]) == (
        elder.pk,
        elder.name,
        worker.username,
    )
    assert (visit["latitude"], visit["longitude"]) == ("30.287456", "120.121499")
    stored = Visit.objects.get(uuid=body["uuid"])
    assert stored.history.count() == 1 and stored.history.get().history_user == worker


@pytest.mark.parametrize(
    "start, end, accepted",
    [
        (datetime.date(2024, 3, 5), None, True),  # starts on the visit's day
        (datetime.date(2024, 3, 6), None, False),  # starts the day after
        (datetime.date(2024, 1, 1), datetime.date(2024, 3, 5), True),  # ends that day
        (datetime.date(2024, 1, 1), datetime.date(2024, 3, 4), False),  # ended the day before
    ],
)
def test_the_assignment_is_checked_for_the_visits_day(policies, make_elder, start, end, accepted):
    community = Region.objects.get(code=XIHU_COMMUNITY)
    user = FieldWorkerFactory(username="cuiyuan-days")
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community, start_date=start, end_date=end)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        "/api/visits/visits/", _visit(make_elder("living_alone").pk), format="json"
    )
    assert response.status_code == (201 if accepted else 400), response.json()
    if not accepted:
        assert "elder" in response.json()


def test_an_area_that_only_shares_a_code_prefix_is_not_covered(policies, make_elder):
    """翠苑一区 (…004001) covers its own elders, not those of 翠苑二区 (…004002)."""
    user = FieldWorkerFactory(username="cuiyuan-prefix")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    client = APIClient()
    client.force_authenticate(user)
    neighbour = make_elder("living_alone", lives=XIHU_OTHER_COMMUNITY)
    response = client.post("/api/visits/visits/", _visit(neighbour.pk), format="json")
    assert response.status_code == 400 and "elder" in response.json()


def test_a_retry_after_the_assignment_ended_is_still_the_duplicate(api, make_elder, worker):
    body = _visit(make_elder("living_alone").pk)
    first = api.post("/api/visits/visits/", body, format="json").json()["visit"]
    services.end_assignment(
        assignment=VisitWorker.objects.get(user=worker), end_date=datetime.date(2024, 3, 1)
    )
    again = api.post("/api/visits/visits/", body, format="json")
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "visit": first}
    assert Visit.objects.count() == 1


def test_a_retry_after_the_death_was_recorded_is_still_the_duplicate(api, make_elder):
    elder = make_elder("living_alone")
    body = _visit(elder.pk, visited_at="2024-03-10T09:00:00+08:00")
    api.post("/api/visits/visits/", body, format="json")
    record_death(elder=elder, death_date=datetime.date(2024, 3, 8))
    again = api.post("/api/visits/visits/", body, format="json")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_a_uuid_of_another_elders_visit_is_refused(api, make_elder):
    body = _visit(make_elder("living_alone").pk)
    api.post("/api/visits/visits/", body, format="json")
    other = make_elder("living_alone")
    response = api.post("/api/visits/visits/", {**body, "elder": other.pk}, format="json")
    assert response.status_code == 400 and "uuid" in response.json()
    assert Visit.objects.count() == 1


def test_a_follow_up_task_gets_the_elders_residence(api, make_elder, community):
    elder = make_elder("living_alone")
    response = api.post(
        "/api/visits/visits/", _visit(elder.pk, outcome="needs_follow_up"), format="json"
    )
    assert response.status_code == 201
    task = FollowUpTask.objects.get()
    assert (task.elder, task.area) == (elder, community)


def test_the_service_takes_an_elder_or_its_key(worker, make_elder):
    elder = make_elder("living_alone")
    when = datetime.datetime.fromisoformat(WHEN)
    common = {"worker": worker, "visited_at": when, "mode": "home", "outcome": "seen_well"}
    by_object = services.record_visit(uuid=uuid.uuid4(), elder=elder, **common)
    by_key = services.record_visit(uuid=uuid.uuid4(), elder=elder.pk, **common)
    assert by_object.created and by_key.created
    assert by_object.visit.elder_id == by_key.visit.elder_id == elder.pk
