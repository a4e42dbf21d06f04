"""schemathesis over the OpenAPI schema (issue 7, hardening; issue 13: as every role): for every
operation, a bounded number of generated requests as each role — a superuser and the bureau,
street-office, finance, institution and auditor logins as deployed (their groups' permissions
and the area or facility each covers) — no 5xx, no response that breaks the schema.

The examples per operation are few (the roles together keep the whole test around a minute on
SQLite); the data are generated deterministically, so a failure repeats."""

from __future__ import annotations

import datetime
import functools

import pytest
import schemathesis
from django.contrib.auth.models import Group, Permission, User
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.demo_accounts import ROLES as DEPLOYED_ROLES
from accounts.models import RoleAssignment
from facilities import services as facility_services
from regions.models import Region
from tests.factories import BedFactory, ElderCategoryFactory, ElderFactory, FacilityFactory

CHECKS = [not_a_server_error, response_schema_conformance]
# Examples per operation: the superuser reaches every row and path, so it gets the most; the
# roles each add the refusals and narrowed answers of their scope.
EXAMPLES = {
    "superuser": 6,
    "bureau": 4,
    "street": 4,
    "finance": 4,
    "institution": 4,
    "auditor": 4,
}
CUIYUAN_COMMUNITY = "330106004001"


@pytest.fixture
def world(zhejiang, rulebook):
    """Something in every role's scope for the lists and details to find: elders living in
    翠苑 (the street office's area, in the bureau's, finance's and the auditor's district), one
    of them staying at the facility the institution staff covers."""
    cuiyuan = Region.objects.get(code=CUIYUAN_COMMUNITY)
    elders = ElderFactory.create_batch(2, hukou_region=cuiyuan, residence_region=cuiyuan)
    ElderCategoryFactory(elder=elders[0])
    facility = FacilityFactory(region=Region.objects.get(code="330106004"))
    facility_services.admit_to_bed(
        elder=elders[1], bed=BedFactory(facility=facility), start_date=datetime.date(2025, 3, 1)
    )
    return facility


def login_for(role: str, facility) -> User:
    """The role's user as deployed: accounts.demo_accounts gives each role's permissions (by
    app, view-only for auditors) and the area it covers."""
    if role == "superuser":
        return User.objects.create_superuser(username="fuzz-root", password="x")
    deployed = next(r for r in DEPLOYED_ROLES if r.username == role)
    group = Group.objects.create(name=f"fuzz-{deployed.group}")
    permissions = Permission.objects.filter(content_type__app_label__in=deployed.apps)
    if deployed.read_only:
        permissions = permissions.filter(codename__startswith="view_")
    group.permissions.set(permissions)
    user = User.objects.create_user(username=f"fuzz-{role}", password="x", is_staff=True)
    user.groups.set([group])
    if deployed.region_code:
        region = Region.objects.get(code=deployed.region_code)
        RoleAssignment.objects.create(user=user, role=deployed.role, region=region)
    else:
        RoleAssignment.objects.create(user=user, role=deployed.role, facility=facility)
    return user


@functools.cache
def api_schema():
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def test_every_role_is_fuzzed():
    assert set(EXAMPLES) == {"superuser"} | {r.username for r in DEPLOYED_ROLES}


@pytest.mark.parametrize("role", list(EXAMPLES))
def test_no_operation_answers_5xx_or_breaks_its_schema(world, role):
    token = Token.objects.create(user=login_for(role, world))
    headers = {"Authorization": f"Token {token.key}"}
    failures = []
    for result in api_schema().get_all_operations():
        operation = result.ok()
        if operation.path == "/api/auth/token/":
            continue  # login is throttled on purpose; covered in test_authentication

        @settings(
            max_examples=EXAMPLES[role],
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            cache.clear()  # the rationed lookups and throttles start afresh for each case
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # collected: one run names them all
            failures.append(f"{role} {operation.method.upper()} {operation.path}: {error}"[:900])
    assert not failures, "\n\n".join(failures)


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Called straight through WSGI (not Django's test client), each request would close the
    database connection at its start and end — and with it the test's transaction on
    PostgreSQL. Django's test client disconnects the same handlers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
