"""Request throttles that hold across gunicorn workers.

DRF's own throttles keep a list of request times per client and write it back after reading it:
two workers that read it at once both let their request through, and the client's address is
taken from ``X-Forwarded-For`` as sent. Here the count is one atomic increment in the shared
cache (Redis in production, see config/settings/production.py) per client and time window, and
the client is who ``accounts.client_address.client_ip`` says, so neither concurrency nor a
forged header adds attempts.
"""

from __future__ import annotations

from types import SimpleNamespace

from rest_framework.throttling import ScopedRateThrottle

from accounts.client_address import client_ip


class SharedCounterThrottle(ScopedRateThrottle):
    """A scoped rate (``DEFAULT_THROTTLE_RATES[view.throttle_scope]``) counted in fixed windows
    of the rate's length: at most N requests per client in each window. Signed-in users are
    counted by user, others by client address."""

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        return self._count(f"{key}:{window}") <= self.num_requests

    def _count(self, key: str) -> int:
        # add() creates the window's counter only if it is missing (SET NX on Redis) and incr()
        # is atomic: every worker's request is counted once.
        for _attempt in range(2):
            self.cache.add(key, 0, timeout=self.duration + 1)
            try:
                return self.cache.incr(key)
            except ValueError:  # the window expired between add() and incr(): start it again
                continue
        return self.num_requests + 1

    def wait(self):
        return max(self.window_end - self.now, 0)


class LoginThrottle(SharedCounterThrottle):
    """Token logins: ``login`` rate per client address."""


def id_number_lookup_refused(request) -> float | None:
    """Looking a person up by a whole ID number tells whether a guessed number exists, so a
    masked number (its hidden digits are a birth date) could be completed by trying the
    candidates one by one. One budget per user (the ``id_lookup`` rate) for the API lookup and
    the admin's whole-number search: None while it lasts, else the seconds until it renews."""
    throttle = SharedCounterThrottle()
    if throttle.allow_request(request, SimpleNamespace(throttle_scope="id_lookup")):
        return None
    return throttle.wait()
