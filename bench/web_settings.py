"""Settings of the web benchmark: the production settings, served over plain HTTP on loopback.

Only what loopback HTTP needs differs from production: no redirect to HTTPS, no HSTS, and
session and CSRF cookies that a client may send back without TLS. Everything else (DEBUG off,
persistent database connections, the middleware) is what production runs.
"""

from config.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
