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
