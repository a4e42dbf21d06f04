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

# The token, its user and their roles come from the cache once read (accounts.authentication,
# two queries on the first request). Then: the elder named by the request with whether the
# worker's areas cover it on the visit's day (one statement), and the visit with its history
# row (one statement on PostgreSQL, two on SQLite), in a savepoint here because each test runs
# in a transaction (outside one, PostgreSQL needs no transaction: the statement is atomic). A
# UUID already stored is not looked up first: the unique constraint refuses its insert.
MAX_QUERIES_PER_VISIT = 5
FIRST_REQUEST_READS = 2
# A duplicate: the same reads, the insert the constraint refuses, the rollback of its
# savepoint, and the stored visit with its elder.
MAX_QUERIES_PER_DUPLICATE = 6


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


@pytest.fixture
def phone_signed_in(phone):
    """The phone after its first request: its token has been read."""
    assert phone.get("/api/auth/me/").status_code == 200
    return phone


def _post(client, url, body):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, body, format="json")
    return response, [q["sql"] for q in captured.captured_queries]


def test_logging_one_visit_runs_a_fixed_handful_of_queries(phone, make_elder):
    elder = make_elder("living_alone")
    response, queries = _post(phone, "/api/visits/visits/", _visit(elder))
    assert response.status_code == 201, response.json()
    assert len(queries) <= MAX_QUERIES_PER_VISIT + FIRST_REQUEST_READS, "\n".join(queries)
    response, queries = _post(phone, "/api/visits/visits/", _visit(elder))
    assert response.status_code == 201, response.json()
    assert len(queries) <= MAX_QUERIES_PER_VISIT, "\n".join(queries)
    # The check constraints are not re-asked one query each (they restate field validation).
    assert not any('AS "_check"' in sql for sql in queries)


def test_the_count_does_not_grow_with_the_elders_or_visits_stored(phone_signed_in, make_elder):
    elders = [make_elder("living_alone") for _ in range(3)]
    counts = []
    for elder in elders * 2:
        response, queries = _post(phone_signed_in, "/api/visits/visits/", _visit(elder))
        assert response.status_code == 201
        counts.append(len(queries))
    assert len(set(counts)) == 1
    assert Visit.objects.count() == 6


def test_a_duplicate_is_answered_without_writing(phone_signed_in, make_elder):
    phone = phone_signed_in
    body = _visit(make_elder("living_alone"))
    first = phone.post("/api/visits/visits/", body, format="json").json()["visit"]
    history = Visit.history.count()
    response, queries = _post(phone, "/api/visits/visits/", body)
    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "visit": first}
    # The only write tried is the visit's insert (with its history row's on PostgreSQL), which
    # the UUID's unique constraint refuses: nothing is stored, updated or added to the history.
    writes = [sql for sql in queries if any(w in sql for w in ("INSERT ", "UPDATE ", "DELETE "))]
    assert len(writes) == 1 and 'INSERT INTO "visits_visit" ' in writes[0]
    assert Visit.objects.count() == 1 and Visit.history.count() == history
    assert len(queries) <= MAX_QUERIES_PER_DUPLICATE


def test_a_batch_costs_the_same_per_visit(phone_signed_in, make_elder):
    elder = make_elder("living_alone")
    response, queries = _post(
        phone_signed_in, "/api/visits/visits/batch/", {"visits": [_visit(elder) for _ in range(5)]}
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


@pytest.mark.parametrize("outcome", ["seen_well", "needs_follow_up"])
def test_the_history_row_is_the_one_a_save_writes(phone_signed_in, worker, make_elder, outcome):
    """A visit leaving no task is written with its history row in one statement on PostgreSQL;
    one opening a task is saved through the ORM, whose history row django-simple-history
    writes. Both rows hold the same: every field of the visit, "created", by the worker."""
    elder = make_elder("living_alone")
    body = _visit(elder, outcome=outcome, needs=["meals"], notes=" 需送餐 ")
    response = phone_signed_in.post("/api/visits/visits/", body, format="json")
    assert response.status_code == 201
    visit = Visit.objects.get(uuid=body["uuid"])
    (row,) = Visit.history.filter(id=visit.pk)
    for f in Visit._meta.concrete_fields:
        assert getattr(row, f.attname) == getattr(visit, f.attname), f.name
    assert (row.history_type, row.history_user_id, row.history_change_reason) == (
        "+",
        worker.pk,
        None,
    )
    assert abs(row.history_date - visit.received_at) < datetime.timedelta(seconds=5)
    assert visit.needs == ["meals"] and visit.notes == "需送餐"
    assert response.json()["visit"]["id"] == visit.pk
