"""Logging a visit tells nothing of an elder the worker may not visit: an elder outside the
worker's areas, or dead by the visit's day, is answered exactly as a key that names nobody
(the same status and body; no name, no death date), so keys cannot be walked to learn who is
registered where, or who has died."""

import datetime
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from residents.models import Elder
from residents.services import record_death
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import NINGBO_DISTRICT, XIHU_COMMUNITY, XIHU_OTHER_STREET_COMMUNITY
from visits.models import Visit

pytestmark = pytest.mark.django_db

WHEN = "2024-03-05T10:30:00+08:00"
DIED = datetime.date(2024, 3, 1)


@pytest.fixture
def api(policies):
    user = FieldWorkerFactory(username="cuiyuan-walker")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    client = APIClient()
    client.force_authenticate(user)
    return client


def _visit(key, **changes):
    return {
        "uuid": str(uuid.uuid4()),
        "elder": key,
        "visited_at": WHEN,
        "mode": "home",
        "outcome": "seen_well",
        **changes,
    }


def _unknown_answer(api, key):
    """What logging a visit answers for ``key`` when it names nobody."""
    assert not Elder.objects.filter(pk=key).exists()
    response = api.post("/api/visits/visits/", _visit(key), format="json")
    return response.status_code, response.json()


@pytest.fixture
def elders(make_elder):
    """Elders the worker may not visit, each with a name that must not be told."""
    dead_here = make_elder("living_alone", name="翠苑已故")
    record_death(elder=dead_here, death_date=DIED)
    dead_elsewhere = make_elder("living_alone", lives=XIHU_OTHER_STREET_COMMUNITY, name="北山已故")
    record_death(elder=dead_elsewhere, death_date=DIED)
    return {
        "another street": make_elder(
            "living_alone", lives=XIHU_OTHER_STREET_COMMUNITY, name="北山老人"
        ),
        "another city": make_elder(
            "living_alone", lives=None, registered=NINGBO_DISTRICT, name="宁波老人"
        ),
        "dead, in the area": dead_here,
        "dead, elsewhere": dead_elsewhere,
    }


@pytest.mark.parametrize(
    "case", ["another street", "another city", "dead, in the area", "dead, elsewhere"]
)
def test_an_elder_one_may_not_visit_is_answered_as_a_key_that_names_nobody(api, elders, case):
    elder = elders[case]
    # The key just past this elder's names nobody: its answer, with this elder's key in it, is
    # what this elder's answer must be, to the byte.
    nobody = Elder.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    status, body = _unknown_answer(api, nobody)
    response = api.post("/api/visits/visits/", _visit(elder.pk), format="json")
    assert (status, response.status_code) == (400, 400)
    assert response.json() == {
        "elder": [m.replace(str(nobody), str(elder.pk)) for m in body["elder"]]
    }
    text = response.content.decode()
    assert elder.name not in text and str(DIED) not in text and "去世" not in text
    assert not Visit.objects.exists()


def test_a_batch_answers_each_such_elder_as_one_that_names_nobody(api, elders):
    nobody = Elder.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    keys = [nobody, *(elder.pk for elder in elders.values())]
    response = api.post(
        "/api/visits/visits/batch/", {"visits": [_visit(key) for key in keys]}, format="json"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(keys)
    assert [r["errors"] for r in results] == [
        {"elder": [f"没有编号为 {key} 的老年人。"]} for key in keys
    ]
    text = response.content.decode()
    assert not any(elder.name in text for elder in elders.values()) and str(DIED) not in text


def test_a_death_reported_on_the_visit_itself_is_still_logged(api, elders):
    # The outcome "deceased" is how a worker reports the death: it stays possible after it.
    elder = elders["dead, in the area"]
    response = api.post("/api/visits/visits/", _visit(elder.pk, outcome="deceased"), format="json")
    assert response.status_code == 201


def test_a_health_check_for_an_elder_outside_the_scope_is_answered_as_for_none(api, elders):
    nobody = Elder.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    answers = []
    for key in (nobody, elders["another street"].pk, elders["another city"].pk):
        response = api.post(
            "/api/visits/health-checks/",
            {"elder": key, "checked_on": "2024-03-01"},
            format="json",
        )
        answers.append((response.status_code, response.json()["elder"][0].replace(str(key), "#")))
    assert answers[0][0] == 400 and len(set(answers)) == 1, answers
