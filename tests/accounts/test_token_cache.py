"""A field app's token, its user and their roles are read from the database once and then from
the shared cache (accounts.authentication); every change to what the cache holds takes
effect on the next request: a revoked token, a user made inactive, a role given or taken, a
region's place in the tree."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.authentication import GENERATION_KEY
from accounts.choices import Role
from accounts.models import RoleAssignment
from accounts.services import assign_role
from regions.models import Region
from tests.factories import FieldWorkerFactory

pytestmark = pytest.mark.django_db

CUIYUAN = "330106004"  # 翠苑街道
BEISHAN = "330106001"  # 北山街道


@pytest.fixture
def worker(zhejiang):
    user = FieldWorkerFactory(username="token-walker")
    assign_role(user=user, role=Role.STREET_WORKER, region=Region.objects.get(code=CUIYUAN))
    return user


@pytest.fixture
def token(worker):
    return Token.objects.create(user=worker)


@pytest.fixture
def phone(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _me(phone):
    with CaptureQueriesContext(connection) as captured:
        response = phone.get("/api/auth/me/")
    return response, " ".join(q["sql"] for q in captured.captured_queries)


def _refused(phone) -> bool:
    """Whether the request is refused as one with a token that names nobody is (DRF answers
    403 when session authentication is tried first, as here)."""
    nobody = APIClient()
    nobody.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    expected = nobody.get("/api/auth/me/")
    response = phone.get("/api/auth/me/")
    assert expected.status_code in (401, 403)
    return response.status_code == expected.status_code


def _reads_token_or_roles(sql: str) -> bool:
    return Token._meta.db_table in sql or f'"{RoleAssignment._meta.db_table}" WHERE' in sql


def test_the_token_user_and_roles_are_read_once(phone, worker):
    first, sql = _me(phone)
    assert first.status_code == 200 and first.json()["roles"] == [Role.STREET_WORKER]
    assert Token._meta.db_table in sql
    second, sql = _me(phone)
    assert second.json() == first.json()
    assert Token._meta.db_table not in sql
    # The scope, not only the user, comes from the cache: the permission reads no role.
    with CaptureQueriesContext(connection) as captured:
        assert phone.get("/api/visits/today/").status_code == 200
    assert not any(_reads_token_or_roles(q["sql"]) for q in captured.captured_queries)


def test_a_revoked_token_is_refused_at_once(phone, token):
    assert _me(phone)[0].status_code == 200
    token.delete()
    assert _refused(phone)


def test_a_user_made_inactive_is_refused_at_once(phone, worker):
    assert _me(phone)[0].status_code == 200
    worker.is_active = False
    worker.save()
    assert _refused(phone)


def test_a_new_token_replaces_the_old_one_at_once(phone, token, worker):
    assert _me(phone)[0].status_code == 200
    token.delete()
    fresh = Token.objects.create(user=worker)
    assert _refused(phone)
    phone.credentials(HTTP_AUTHORIZATION=f"Token {fresh.key}")
    assert _me(phone)[0].status_code == 200


def test_roles_given_and_taken_count_at_once(phone, worker):
    assert _me(phone)[0].json()["roles"] == [Role.STREET_WORKER]
    assign_role(user=worker, role=Role.AUDITOR, region=Region.objects.get(code=BEISHAN))
    assert _me(phone)[0].json()["roles"] == sorted([Role.AUDITOR, Role.STREET_WORKER])
    RoleAssignment.objects.filter(user=worker).delete()
    response, _ = _me(phone)
    assert response.json()["roles"] == [] and response.json()["read_only"] is True


def test_an_area_moved_in_the_tree_is_covered_where_it_now_is(phone, worker):
    """The scope holds the paths of the regions a role covers: a region saved with a new path
    is read again (here the street moves, and a community left under its old path is no
    longer covered)."""
    community = {"area": "330106004001", "month": "2024-03"}
    assert phone.get("/api/visits/compliance/", community).status_code == 200
    street = Region.objects.get(code=CUIYUAN)
    street.parent = Region.objects.get(code="330105")  # its path follows its parent
    street.save()
    assert phone.get("/api/visits/compliance/", community).status_code == 404


def test_a_lost_generation_forgets_every_entry(phone, worker):
    assert _me(phone)[0].status_code == 200
    cache.delete(GENERATION_KEY)
    RoleAssignment.objects.filter(user=worker).update(role=Role.AUDITOR)  # no signal
    response, sql = _me(phone)
    assert Token._meta.db_table in sql
    assert response.json()["roles"] == [Role.AUDITOR]


def test_an_unknown_token_is_refused_as_drf_refuses_it(phone, worker):
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.exceptions import AuthenticationFailed

    from accounts.authentication import CachedTokenAuthentication

    key = "0123456789abcdef0123456789abcdef01234567"
    answers = []
    for authentication in (TokenAuthentication(), CachedTokenAuthentication()):
        with pytest.raises(AuthenticationFailed) as refused:
            authentication.authenticate_credentials(key)
        answers.append(str(refused.value.detail))
    assert answers[0] == answers[1]
