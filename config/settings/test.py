"""Tests: the same settings as local, with a fast password hasher.

DATABASE_URL and REDIS_URL still come from the environment, so one suite runs on SQLite and
again on PostgreSQL with a real Celery worker.
"""

from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# django-axes needs the request in authenticate(), which the test client's login() does not
# pass; the lockout tests switch it back on.
AXES_ENABLED = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Fault injection for the tests that kill a Celery worker at a named point of the allowance
# run (tests/subsidies/test_worker_kills.py): the worker they start sets these in its
# environment; elsewhere they are empty and the points cost nothing.
ALLOWANCE_RUN_PAUSE_AT = env("ALLOWANCE_RUN_PAUSE_AT", default="")  # noqa: F405
ALLOWANCE_RUN_PAUSE_FILE = env("ALLOWANCE_RUN_PAUSE_FILE", default="")  # noqa: F405
