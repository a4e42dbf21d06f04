"""Tokens for field apps, throttled and locked after repeated failures; sessions for the admin."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache


@pytest.fixture
def worker(db):
    return User.objects.create_user(username="worker", password="correct-horse-9")


def test_a_field_app_gets_a_token_and_uses_it(client, worker):
    response = client.post(
        "/api/auth/token/", {"username": "worker", "password": "correct-horse-9"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200 and me.json()["username"] == "worker"


def test_a_wrong_password_is_refused_naming_nothing_secret(client, worker):
    response = client.post("/api/auth/token/", {"username": "worker", "password": "nope"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_the_login_endpoint_is_throttled(client, worker, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # The rate class attribute is read when DRF is imported; set a small one for this test.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min"})
    cache.clear()
    try:
        codes = [
            client.post("/api/auth/token/", {"username": "worker", "password": "x"}).status_code
            for _ in range(4)
        ]
    finally:
        cache.clear()
    assert codes == [400, 400, 400, 429]


def test_repeated_failures_lock_the_account_even_with_the_right_password(client, worker, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/admin/login/", {"username": "worker", "password": "wrong"})
    locked = client.post("/admin/login/", {"username": "worker", "password": "correct-horse-9"})
    assert locked.status_code == 429


def test_repeated_failures_lock_the_token_login_too(client, worker, settings):
    """The phone app's door: after the failure limit the right password gets no token."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    cache.clear()
    try:
        for _ in range(3):
            client.post("/api/auth/token/", {"username": "worker", "password": "wrong"})
        locked = client.post(
            "/api/auth/token/", {"username": "worker", "password": "correct-horse-9"}
        )
    finally:
        cache.clear()
    # Answered as a wrong password is, as the schema says: a guesser learns nothing.
    assert locked.status_code == 400
    assert "token" not in locked.json() and "non_field_errors" in locked.json()
