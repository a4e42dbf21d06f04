"""Throttles that hold: the client's address comes only from trusted proxies, and the count is
one atomic increment in the cache every worker shares (Redis in production)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from rest_framework.throttling import ScopedRateThrottle

from accounts.client_address import client_ip
from accounts.throttling import LoginThrottle, SharedCounterThrottle

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_750_000_000.0  # a fixed clock: every request of a test falls in one window
LOGIN_VIEW = SimpleNamespace(throttle_scope="login")


def request_from(peer: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/api/auth/token/", **headers)
    request.user = AnonymousUser()
    return request


@pytest.fixture
def small_login_rate(monkeypatch):
    # The rates are read into the class when DRF is imported; set a small one for the test.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min", "id_lookup": "3/min"}
    )
    monkeypatch.setattr(SharedCounterThrottle, "timer", lambda self: NOW)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def worker(db):
    return User.objects.create_user(username="worker", password="correct-horse-9", is_staff=True)


# --- the client's address -------------------------------------------------------------------


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"
    assert client_ip(request_from("198.51.100.7")) == "198.51.100.7"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("198.51.100.7", "10.1.1.1, 1.2.3.4")) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    # The client wrote "6.6.6.6" itself; the proxies appended 203.0.113.5 and 192.0.2.1.
    request = request_from("10.0.0.2", "6.6.6.6, 203.0.113.5, 192.0.2.1")
    assert client_ip(request) == "203.0.113.5"
    assert client_ip(request_from("10.0.0.2", "203.0.113.5")) == "203.0.113.5"
    assert client_ip(request_from("10.0.0.2", "2001:db8::5")) == "2001:db8::5"


def test_garbage_in_the_header_never_becomes_the_clients_identity(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("10.0.0.2", "not-an-address, 10.0.0.9")) == "10.0.0.9"
    assert client_ip(request_from("10.0.0.2", "")) == "10.0.0.2"
    assert client_ip(request_from("10.0.0.2")) == "10.0.0.2"
    # Only proxies in the header: the left-most one is as far as anyone vouches for.
    assert client_ip(request_from("10.0.0.2", "10.0.0.7, 10.0.0.8")) == "10.0.0.7"


def test_a_trusted_proxies_entry_that_is_not_an_address_is_refused_by_name(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.example"]
    with pytest.raises(ImproperlyConfigured, match="proxy.example"):
        client_ip(request_from("10.0.0.2", "1.2.3.4"))


def test_axes_counts_by_the_same_address():
    from axes.helpers import get_client_ip_address

    assert get_client_ip_address(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"


# --- the login throttle through the endpoint ---------------------------------------------------


def login(client, peer, forwarded=None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(
        "/api/auth/token/", {"username": "worker", "password": "wrong"}, **extra
    ).status_code


def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_bypass_the_throttle(
    client, worker, small_login_rate, settings
):
    settings.TRUSTED_PROXIES = []
    codes = [login(client, "198.51.100.7", f"203.0.113.{n}") for n in range(6)]
    assert codes == [400, 400, 400, 429, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(
    client, worker, small_login_rate, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    first = [login(client, "10.0.0.2", "203.0.113.5") for _ in range(4)]
    assert first == [400, 400, 400, 429]
    # The same client writing something else in front of the proxy's entry is still itself.
    assert login(client, "10.0.0.2", "1.1.1.1, 203.0.113.5") == 429
    # Another client behind the same proxy is not throttled for the first one's attempts.
    assert login(client, "10.0.0.2", "203.0.113.6") == 400


def test_the_throttle_answers_how_long_to_wait(client, worker, small_login_rate):
    for _ in range(3):
        login(client, "198.51.100.7")
    response = client.post(
        "/api/auth/token/", {"username": "worker", "password": "x"}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 60 - int(NOW % 60)


# --- the lockout (django-axes) -----------------------------------------------------------------


def admin_login(client, peer, forwarded, password="wrong"):
    return client.post(
        "/admin/login/",
        {"username": "worker", "password": password},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_the_lockout_is_not_escaped_by_rotating_x_forwarded_for(client, worker, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = []
    for n in range(3):
        admin_login(client, "198.51.100.7", f"203.0.113.{n}")
    locked = admin_login(client, "198.51.100.7", "203.0.113.99", password="correct-horse-9")
    assert locked.status_code == 429


def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_the_username_for_others(
    client, worker, settings
):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(3):
        admin_login(client, "10.0.0.2", "203.0.113.5")
    assert admin_login(client, "10.0.0.2", "203.0.113.5", "correct-horse-9").status_code == 429
    other = admin_login(client, "10.0.0.2", "203.0.113.6", "correct-horse-9")
    assert other.status_code == 302  # signed in: the username is locked only for 203.0.113.5


# --- one count for all workers -----------------------------------------------------------------


def throttle_on(shared_cache):
    return type("WorkerThrottle", (LoginThrottle,), {"cache": shared_cache})


def attempts_allowed(throttles, attempts: int) -> int:
    """``attempts`` logins from one address at once, spread over the workers' throttles."""
    allowed, lock = [], threading.Lock()
    start = threading.Barrier(attempts)

    def attempt(n):
        throttle = throttles[n % len(throttles)]()
        start.wait()
        ok = throttle.allow_request(request_from("198.51.100.7"), LOGIN_VIEW)
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(allowed)


def test_concurrent_attempts_are_each_counted_once(small_login_rate):
    assert attempts_allowed([throttle_on(cache)], 30) == 3


def test_workers_with_caches_of_their_own_would_each_allow_the_full_rate(small_login_rate):
    """Why production needs the shared cache: two processes' memories count apart."""
    own = [throttle_on(LocMemCache(f"worker-{n}-{uuid.uuid4()}", {})) for n in range(2)]
    assert attempts_allowed(own, 30) == 6


@pytest.fixture
def redis_prefix(settings):
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    yield prefix
    client = RedisCache(settings.REDIS_URL, {})._cache.get_client(None, write=True)
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)


@pytest.mark.redis
def test_two_workers_count_together_in_redis(settings, small_login_rate, redis_prefix):
    # Two cache clients with their own connections, as two gunicorn workers have.
    workers = [RedisCache(settings.REDIS_URL, {"KEY_PREFIX": redis_prefix}) for _ in range(2)]
    assert workers[0]._cache is not workers[1]._cache
    assert attempts_allowed([throttle_on(w) for w in workers], 30) == 3
    assert not throttle_on(workers[1])().allow_request(request_from("198.51.100.7"), LOGIN_VIEW)
    assert throttle_on(workers[0])().allow_request(request_from("198.51.100.8"), LOGIN_VIEW)


@pytest.mark.redis
def test_the_login_endpoint_counts_in_redis(
    client, worker, settings, small_login_rate, redis_prefix
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": redis_prefix,
        }
    }
    assert [login(client, "198.51.100.7", f"203.0.113.{n}") for n in range(4)] == [
        400,
        400,
        400,
        429,
    ]
    stored = RedisCache(settings.REDIS_URL, {})._cache.get_client(None)
    assert list(stored.scan_iter(match=f"{redis_prefix}*throttle_login_198.51.100.7*"))


# --- production settings ---------------------------------------------------------------------


def production_settings(**env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "REDIS_CACHE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="x.example",
        PAYEE_ACCOUNT_KEYS="cHJvZHVjdGlvbi1jaGVjay1rZXktMzItYnl0ZXMtb2s=",
        **env,
    )
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "c = settings.CACHES['default']; print(c['BACKEND'], c['LOCATION'])",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_counts_in_redis():
    result = production_settings(REDIS_URL="redis://redis:6379/0")
    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://redis:6379/0",
    ], result.stderr
    result = production_settings(
        REDIS_URL="redis://redis:6379/0", REDIS_CACHE_URL="redis://redis:6379/1"
    )
    assert result.stdout.split()[1] == "redis://redis:6379/1", result.stderr


def test_production_refuses_to_start_without_redis():
    result = production_settings()
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
