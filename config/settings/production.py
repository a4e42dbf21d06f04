"""Production: everything from the environment, secure defaults; `check --deploy` passes."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Required: the development default in base.py is published with the code.
PAYEE_ACCOUNT_KEYS = env.list("PAYEE_ACCOUNT_KEYS")
if DEVELOPMENT_PAYEE_ACCOUNT_KEY in PAYEE_ACCOUNT_KEYS:  # noqa: F405
    raise ImproperlyConfigured("PAYEE_ACCOUNT_KEYS holds the published development key.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)  # noqa: F405

# The cache every gunicorn worker shares: the login and ID-lookup throttles count in it
# (accounts.throttling), so four workers allow what one would. Its own Redis database is best
# (REDIS_CACHE_URL=redis://…/1): clearing a cache empties its whole database, which must never
# be Celery's queue; on the broker's database the key prefix keeps the two apart.
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default=REDIS_URL)
if not REDIS_CACHE_URL:
    raise ImproperlyConfigured(
        "Production needs REDIS_URL (or REDIS_CACHE_URL): throttles and Celery use Redis."
    )
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="eldercare-cache"),
    }
}
