"""Settings shared by every mode, read from the environment (django-environ).

Environment variables:
    DATABASE_URL   default: a SQLite file in the project folder (the embedded default)
    REDIS_URL      Celery broker and result backend; unset = tasks run eagerly in-process
    SECRET_KEY, DEBUG, ALLOWED_HOSTS
    PAYEE_ACCOUNT_KEYS  comma-separated AES-256 keys (urlsafe base64 of 32 bytes) for payees'
                   account numbers at rest; the first encrypts, all decrypt (key rotation)
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-change-me-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Payees' account numbers are encrypted at rest (subsidies.account_crypto) with these keys. The
# default is a published development and test key, NOT FOR PRODUCTION: anyone who reads this
# file can decrypt what it encrypted. Production settings require the variable.
DEVELOPMENT_PAYEE_ACCOUNT_KEY = "ZGV2ZWxvcG1lbnQtb25seS1wYXllZS1hY2NvdW50LWs="
PAYEE_ACCOUNT_KEYS = env.list("PAYEE_ACCOUNT_KEYS", default=[DEVELOPMENT_PAYEE_ACCOUNT_KEY])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "config.apps.AxesConfig",  # django-axes, named in Chinese and English
    # Project apps. `regions` holds the administrative tree and the rulebook that every
    # other app reads; it comes first because everything else points at it.
    "regions",
    # Users' roles and the area each covers, the one scoping mechanism, the audit trail.
    "accounts",
    "residents",
    "facilities",
    "visits",
    "subsidies",
    # The service lists as data, deliveries in kind, and coverage of each item.
    "servicelist",
    "dashboards",  # read-only pages over the other apps' selectors (the bureau's dashboard)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a clear refusal.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock a username after repeated failures from one address, for an hour; offices share NAT
# addresses, so the address alone would lock out a whole street office.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The lockout and the login throttle count a client by the address accounts.client_address
# gives: the peer, or behind one of TRUSTED_PROXIES (addresses or CIDR networks, comma-separated;
# empty by default) the right-most X-Forwarded-For entry that is not one of them.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_ip"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and an in-process run share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Files uploaded for a preview (elder rolls, bank returns: full ID numbers) are held in the
# database until confirmed, never under MEDIA_ROOT, and deleted after UPLOAD_RETENTION_HOURS by
# the hourly purge_uploads (accounts/uploads.py). Larger uploads are refused with a message;
# the front proxy's body limit (nginx client_max_body_size) must be above UPLOAD_MAX_MB.
UPLOAD_MAX_MB = env.int("UPLOAD_MAX_MB", default=64)
UPLOAD_RETENTION_HOURS = env.int("UPLOAD_RETENTION_HOURS", default=24)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # DRF's token login with the token's user and roles kept in the shared cache.
        "accounts.authentication.CachedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # ?limit=/?offset= with a ceiling on the page size (config/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "config.pagination.ProjectPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    # A write outside the writer's scope answers as scoping answers reads (400 on the field
    # that chose the outside value, else 404).
    "EXCEPTION_HANDLER": "accounts.api.exceptions.exception_handler",
    # Counted in the shared cache (accounts.throttling): Redis in production.
    "DEFAULT_THROTTLE_RATES": {
        "login": env("LOGIN_THROTTLE_RATE", default="10/min"),
        # Whole-ID-number lookups per user (API and admin search): each answers whether a
        # guessed number exists.
        "id_lookup": env("ID_LOOKUP_THROTTLE_RATE", default="60/hour"),
    },
}

SPECTACULAR_SETTINGS = {
    # Lazy: the schema is written in the language of the request (or of ``--lang``).
    "TITLE": gettext_lazy("浙江省基本养老服务接口"),
    "DESCRIPTION": gettext_lazy("浙江省基本养老服务系统接口：长者、机构与床位、探访、津贴发放。"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the project's own static files: the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for a choice set used by several fields (computed and final ability level).
    "ENUM_NAME_OVERRIDES": {
        "AbilityLevelEnum": "residents.choices.AbilityLevel",
        "FacilityKindEnum": "facilities.choices.FacilityKind",
        "BatchKindEnum": "subsidies.choices.BatchKind",
        "LineKindEnum": "subsidies.choices.LineKind",
        "FacilitySubsidyKindEnum": "subsidies.choices.FacilitySubsidyKind",
        "ServiceItemKindEnum": "servicelist.choices.ItemKind",
        "MealPointKindEnum": "servicelist.choices.MealPointKind",
        "RunStatusEnum": "subsidies.choices.RunStatus",
    },
}

# One process's memory: enough for the embedded default and the tests. Production counts
# throttles in Redis, shared by every worker (config/settings/production.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with REDIS_URL unset the embedded default runs tasks eagerly, in-process, so a
# newcomer needs no broker; production and the PostgreSQL CI leg set REDIS_URL.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged when it ends (acks_late), and given back to the queue at once when its
# worker process dies (reject_on_worker_lost), so a chunk killed halfway runs again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# When a whole worker dies (machine lost, kill -9 of the main process), Redis gives its unacked
# tasks to another worker after the visibility timeout (Redis's default: an hour). The longest
# task is one chunk of 20,000 elders: about a second on PostgreSQL, under a minute on the
# Python path; preparing a province-wide run takes seconds. Ten minutes leaves a wide margin —
# a task still running when it expires is delivered twice, which is harmless (every write is
# idempotent) but wasted. Raise it with the chunk size; retry countdowns stay far below it.
BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# The allowance run's recovery (subsidies.run.finishing.sweep_allowance_runs, run by beat every
# minute; the periodic task is created by migration subsidies 0004). A worker beats each
# chunk's heartbeat every ALLOWANCE_RUN_HEARTBEAT_SECONDS while it works; a chunk whose
# heartbeat is older than ALLOWANCE_RUN_STALL_SECONDS belonged to a worker that died and is
# queued again; after ALLOWANCE_RUN_MAX_ATTEMPTS claims of one chunk the run is marked failed
# with the reason (a chunk that kills every worker that takes it), to be resumed in the admin.
ALLOWANCE_RUN_HEARTBEAT_SECONDS = env.float("ALLOWANCE_RUN_HEARTBEAT_SECONDS", default=30)
ALLOWANCE_RUN_STALL_SECONDS = env.float("ALLOWANCE_RUN_STALL_SECONDS", default=180)
# An elder import queued or confirmed but untouched this long lost its task (the process that
# should have sent it died): residents.import_jobs.requeue_stalled_import_jobs sends it again.
IMPORT_JOB_STALL_SECONDS = env.float("IMPORT_JOB_STALL_SECONDS", default=180)
ALLOWANCE_RUN_MAX_ATTEMPTS = env.int("ALLOWANCE_RUN_MAX_ATTEMPTS", default=5)
# A rate revised backwards is applied to the months already run by a correction job
# (subsidies.run.correction_jobs), swept by beat every minute like the runs and under the same
# heartbeat, stall and attempt settings; each month's elders are cut into chunks of this many ids.
CORRECTION_CHUNK_SIZE = env.int("CORRECTION_CHUNK_SIZE", default=20000)

# Coverage of the service list (servicelist.coverage) reads an area of at most this many
# elders into memory once and evaluates every item's condition in Python (a street's 37 items
# in one pass over its elders, about 1 KB per elder); larger areas are counted in SQL, item by
# item. 0: always in SQL.
SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS = env.int(
    "SERVICELIST_COVERAGE_IN_MEMORY_MAX_ELDERS", default=60000
)

# Every handler masks (accounts.masking): paths without query strings, ID and mobile numbers
# masked. The development server's request lines (django.server) get their own handler with the
# same filter; gunicorn's access log is set up in config/gunicorn_conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"mask_personal_data": {"()": "accounts.masking.MaskPersonalDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_personal_data"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["mask_personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

LOGIN_URL = "admin:login"
