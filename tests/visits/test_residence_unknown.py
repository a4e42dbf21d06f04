"""Elders with no residence recorded are placed by their registration (issue 16): the street
office of their registration visits them, counts them in compliance and logs their visits,
and they are listed as "residence unknown" for the worker to complete. The rule is stated once
(accounts.rules.ElderPlace); its readings agree at the boundaries."""

import datetime
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.rules import ElderPlace
from accounts.services import assign_role
from regions.models import Region
from residents.models import Elder
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import (
    JINHUA_DISTRICT,
    XIHU_COMMUNITY,
    XIHU_OTHER_COMMUNITY,
    XIHU_OTHER_STREET_COMMUNITY,
)
from visits import selectors
from visits.models import FollowUpTask, Visit

pytestmark = pytest.mark.django_db

ON = datetime.date(2024, 3, 5)
WHEN = "2024-03-05T10:30:00+08:00"


@pytest.fixture
def places(make_elder):
    """Elders around the boundary of 翠苑一区社区 (XIHU_COMMUNITY)."""
    return {
        # No residence: placed by the registration.
        "unknown, registered here": make_elder(
            "living_alone", lives=None, registered=XIHU_COMMUNITY, name="待补录"
        ),
        "unknown, registered next door": make_elder(
            "living_alone", lives=None, registered=XIHU_OTHER_COMMUNITY
        ),
        "unknown, registered in another street": make_elder(
            "living_alone", lives=None, registered=XIHU_OTHER_STREET_COMMUNITY
        ),
        # A recorded residence wins over the registration, either way.
        "lives here, registered elsewhere": make_elder(
            "living_alone", lives=XIHU_COMMUNITY, registered=JINHUA_DISTRICT
        ),
        "lives elsewhere, registered here": make_elder(
            "living_alone", lives=JINHUA_DISTRICT, registered=XIHU_COMMUNITY
        ),
    }


IN_COMMUNITY = {"unknown, registered here", "lives here, registered elsewhere"}
IN_STREET = IN_COMMUNITY | {"unknown, registered next door"}


def _names(places, ids):
    return {name for name, elder in places.items() if elder.pk in ids}


def test_the_rule_read_four_ways_agrees(places, region):
    community = region(XIHU_COMMUNITY)
    rule = ElderPlace()
    by_q = set(Elder.objects.filter(rule.q(community.path)).values_list("pk", flat=True))
    by_memory = {e.pk for e in Elder.objects.all() if rule.matches(e, community.path)}
    place_ids = dict(Elder.objects.annotate(place=rule.region_id()).values_list("pk", "place"))
    by_expression = {
        pk
        for pk, place in place_ids.items()
        if Region.objects.get(pk=place).path.startswith(community.path)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, {ElderPlace.region_id_sql('e')} FROM {Elder._meta.db_table} e"
        )
        by_sql = {pk for pk, place in cursor.fetchall() if place_ids[pk] == place}
    assert by_sql == set(place_ids)
    assert _names(places, by_q) == IN_COMMUNITY
    assert by_q == by_memory == by_expression


def test_the_list_places_them_by_registration_and_says_so(places, region):
    rows = {r.elder_id: r for r in selectors.elders_to_visit(areas=[region("330106004")], on=ON)}
    assert _names(places, rows) == IN_STREET
    unknown = rows[places["unknown, registered here"].pk]
    assert unknown.residence_unknown is True
    assert unknown.residence_region == region(XIHU_COMMUNITY)
    assert unknown.frequency == "monthly" and unknown.groups == ("living_alone",)
    assert rows[places["lives here, registered elsewhere"].pk].residence_unknown is False


def test_a_daily_childless_alone_case_with_no_residence_is_owed_every_day(make_elder, region):
    elder = make_elder("childless_alone", lives=None, registered=XIHU_COMMUNITY)
    report = selectors.compliance(
        area=region("330106004"), start=datetime.date(2024, 3, 1), end=datetime.date(2024, 3, 10)
    )
    assert report.total.daily_owed == 10 and report.total.daily_done == 0
    assert [line.key for line in report.lines] == [XIHU_COMMUNITY]
    (overdue,) = report.overdue
    assert (overdue.elder_id, overdue.missed, overdue.residence_unknown) == (elder.pk, 10, True)


@pytest.fixture
def worker(policies, region):
    user = FieldWorkerFactory(username="cuiyuan-street")
    community = region(XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    return user


@pytest.fixture
def api(worker):
    client = APIClient()
    client.force_authenticate(worker)
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


@pytest.mark.parametrize(
    "case",
    [
        "unknown, registered here",
        "unknown, registered next door",
        "unknown, registered in another street",
        "lives here, registered elsewhere",
        "lives elsewhere, registered here",
    ],
)
def test_logging_covers_the_place_not_the_registration_alone(api, places, case):
    elder = places[case]
    response = api.post("/api/visits/visits/", _visit(elder.pk), format="json")
    if case in IN_COMMUNITY:
        assert response.status_code == 201, response.content
        assert Visit.objects.filter(elder=elder).count() == 1
    else:
        assert response.status_code == 400
        assert response.json() == {"elder": [f"没有编号为 {elder.pk} 的老年人。"]}
        assert not Visit.objects.exists()


def test_a_follow_up_for_an_elder_with_no_residence_goes_to_the_registration(api, places, region):
    elder = places["unknown, registered here"]
    response = api.post(
        "/api/visits/visits/", _visit(elder.pk, outcome="needs_follow_up"), format="json"
    )
    assert response.status_code == 201
    task = FollowUpTask.objects.get()
    assert (task.elder, task.area) == (elder, region(XIHU_COMMUNITY))
    # The worker sees the visit and the task in their lists.
    assert [v["elder"] for v in api.get("/api/visits/visits/").json()["results"]] == [elder.pk]
    assert [t["elder"] for t in api.get("/api/visits/tasks/").json()["results"]] == [elder.pk]


def test_todays_list_marks_them_for_the_worker_to_complete(api, places):
    response = api.get("/api/visits/today/", {"date": ON.isoformat()})
    assert response.status_code == 200
    body = response.json()
    unknown = {e["elder"] for e in body["elders"] if e["residence_unknown"]}
    assert unknown == {places["unknown, registered here"].pk}
    assert body["residence_unknown"] == 1
    assert {e["elder"] for e in body["elders"]} == {places[n].pk for n in IN_COMMUNITY}
