"""Logging a visit is the field app's busiest request: its queries stay few and fixed, with
every rule still checked (the refusals are in test_visit_logging.py)."""

import datetime
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import Region
from tests.factories import FieldWorkerFactory, VisitWorkerFactory
from tests.visits.conftest import XIHU_COMMUNITY
from visits import services
from visits.models import Visit

pytestmark = pytest.mark.django_db

# Token and user, the user's roles (may they write?), the elder named by the request with
# whether the worker's areas cover it on the visit's day (one statement, inside the
# transaction), the visit and its history row: 5, and the transaction's two statements. A
# UUID already stored is not looked up first: the unique constraint refuses its insert.
MAX_QUERIES_PER_VISIT = 7
# A duplicate: the same reads, the insert the constraint refuses, the rollback of its
# savepoint, and the stored visit with its elder.
MAX_QUERIES_PER_DUPLICATE = 8


@pytest.fixture
def worker(policies):
    user = FieldWorkerFactory(username="cuiyuan-phone")
    community = Region.objects.get(code=XIHU_COMMUNITY)
    assign_role(user=user, role=Role.STREET_WORKER, region=community.parent)
    VisitWorkerFactory(user=user, area=community)
    return user


@pytest.fixture
def phone(worker):
    """A client signed in the way the field app is: a token in every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=worker).key}")
    return client


def _visit(elder, **changes):
    return {
        "uuid": str(uuid.uuid4()),
        "elder": elder.pk,
        "visited_at": "2024-03-05T10:30:00+08:00",
        "mode": "home",
        "outcome": "seen_well",
        "latitude": 30.2874,
        "longitude": 120.1215,
        **changes,
    }


def _post(client, url, body):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, body, format="json")
    return response, [q["sql"] for q in captured.captured_queries]


def test_logging_one_visit_runs_a_fixed_handful_of_queries(phone, make_elder):
    elder = make_elder("living_alone")
    response, queries = _post(phone, "/api/visits/visits/", _visit(elder))
    assert response.status_code == 201, response.json()
    assert len(queries) <= MAX_QUERIES_PER_VISIT, "\n".join(queries)
    # The check constraints are not re-asked one query each (they restate field validation).
    assert not any('AS "_check"' in sql for sql in queries)


def test_the_count_does_not_grow_with_the_elders_or_visits_stored(phone, make_elder):
    elders = [make_elder("living_alone") for _ in range(3)]
    counts = []
    for elder in elders * 2:
        response, queries = _post(phone, "/api/visits/visits/", _visit(elder))
        assert response.status_code == 201
        counts.append(len(queries))
    assert len(set(counts)) == 1
    assert Visit.objects.count() == 6


def test_a_duplicate_is_answered_without_writing(phone, make_elder):
    body = _visit(make_elder("living_alone"))
    first = phone.post("/api/visits/visits/", body, format="json").json()["visit"]
    history = Visit.history.count()
    response, queries = _post(phone, "/api/visits/visits/", body)
    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "visit": first}
    # The only write tried is the visit's insert, which the UUID's unique constraint refuses:
    # nothing is stored, updated or added to the history.
    assert [sql for sql in queries if sql.startswith(("INSERT", "UPDATE", "DELETE"))] == [
        sql for sql in queries if sql.startswith('INSERT INTO "visits_visit" ')
    ]
    assert Visit.objects.count() == 1 and Visit.history.count() == history
    assert len(queries) <= MAX_QUERIES_PER_DUPLICATE


def test_a_batch_costs_the_same_per_visit(phone, make_elder):
    elder = make_elder("living_alone")
    response, queries = _post(
        phone, "/api/visits/visits/batch/", {"visits": [_visit(elder) for _ in range(5)]}
    )
    assert response.json()["accepted"] == 5
    assert len(queries) <= 5 * MAX_QUERIES_PER_VISIT


def test_a_refused_visit_still_checks_each_rule(phone, make_elder):
    outside = make_elder("living_alone", lives="330106001001")  # 北山街道: not this worker's
    response, _ = _post(phone, "/api/visits/visits/", _visit(outside))
    assert response.status_code == 400 and "elder" in response.json()
    assert Visit.objects.count() == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"mode": "carrier_pigeon"}, "mode"),
        ({"outcome": "unknown"}, "outcome"),
        ({"latitude": Decimal("91"), "longitude": Decimal("120")}, "latitude"),
        ({"latitude": Decimal("30"), "longitude": Decimal("-181")}, "longitude"),
    ],
)
def test_the_service_still_refuses_what_the_check_constraints_forbid(
    worker, make_elder, change, field
):
    """Callers other than the API (batches, imports, the demo) get the same refusals by field
    as before, from the fields' own validation, and nothing is stored."""
    visit = {
        "uuid": uuid.uuid4(),
        "elder": make_elder("living_alone"),
        "worker": worker,
        "visited_at": datetime.datetime(2024, 3, 5, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
        "mode": "home",
        "outcome": "seen_well",
    }
    with pytest.raises(ValidationError) as refused:
        services.record_visit(**{**visit, **change})
    assert field in refused.value.message_dict
    assert Visit.objects.count() == 0
