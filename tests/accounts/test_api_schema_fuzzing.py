"""schemathesis over the OpenAPI schema (issue 7, hardening): for every operation, a bounded
number of generated requests as a superuser — no 5xx, no response that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import ElderFactory

MAX_EXAMPLES = 6
CHECKS = [not_a_server_error, response_schema_conformance]


def test_no_operation_answers_5xx_or_breaks_its_schema(zhejiang, rulebook):
    ElderFactory.create_batch(2)  # something for the lists and details to find
    root = User.objects.create_superuser(username="fuzz-root", password="x")
    token = Token.objects.create(user=root)
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    headers = {"Authorization": f"Token {token.key}"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/auth/token/":
            continue  # login is throttled on purpose; covered in test_authentication

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            cache.clear()
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # collected: one run names them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}"[:900])
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
