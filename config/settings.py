"""Every setting of ml-connector, read from the environment in this one place.

A bad value fails at start-up, not at 3 a.m.; README lists each variable with its default.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

ENVIRONMENT = env.str("ENVIRONMENT", default="development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'development' or 'production'.")
IS_PRODUCTION = ENVIRONMENT == "production"

DEBUG = env.bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be false in production: debug pages show settings and stack data.")

_DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-use-0000000000000000"
_DEV_CREDENTIALS_KEY = "dev-only-credentials-key-not-for-production-use-000000000"


def _required_in_production(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            f"{name} is not set. In production it must come from the environment "
            f"(a long random string, kept secret and never reused for another setting)."
        )
    return dev_default


# A production key is at least this long and not low-variety (Django's own check asks 50 characters and 5 distinct
# ones of SECRET_KEY; a random 32-byte key in base64 or hex clears both rules below).
KEY_MIN_LENGTH = 32
KEY_MIN_DISTINCT_CHARACTERS = 12


def production_key_problem(name: str, value: str) -> str | None:
    """Why `value` cannot be the production `name`, or None; settings refuse to start with a reason."""
    if value in (_DEV_SECRET_KEY, _DEV_CREDENTIALS_KEY) or value.startswith("dev-only-"):
        return f"{name} is the repository's development key; set a new random one (e.g. `openssl rand -base64 48`)."
    if len(value) < KEY_MIN_LENGTH:
        return (f"{name} is {len(value)} characters long; production needs at least {KEY_MIN_LENGTH} random "
                f"characters (e.g. `openssl rand -base64 48`).")
    if len(set(value)) < KEY_MIN_DISTINCT_CHARACTERS:
        return (f"{name} uses only {len(set(value))} different characters; production needs a random key with at "
                f"least {KEY_MIN_DISTINCT_CHARACTERS} (e.g. `openssl rand -base64 48`).")
    return None


SECRET_KEY = _required_in_production("SECRET_KEY", _DEV_SECRET_KEY)
# Credentials at rest are encrypted with their own key, never SECRET_KEY.
CREDENTIALS_KEY = _required_in_production("CREDENTIALS_KEY", _DEV_CREDENTIALS_KEY)
if IS_PRODUCTION:
    for _name in ("SECRET_KEY", "CREDENTIALS_KEY"):
        _problem = production_key_problem(_name, globals()[_name])
        if _problem:
            raise ImproperlyConfigured(_problem)
    if CREDENTIALS_KEY == SECRET_KEY:
        raise ImproperlyConfigured("CREDENTIALS_KEY must differ from SECRET_KEY.")
CRYPTOGRAPHY_KEY = CREDENTIALS_KEY
CRYPTOGRAPHY_SALT = "ml-connector.credentials"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "config.apps.StaffAdminConfig",  # django.contrib.admin on the admin site of config/admin_site.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tenants",
    "connections",
    "sync",
    "audit",
    "webhooks",
    "reports",
    "console",  # the support console's admin over tenants and audit: after the apps whose admin it extends
    "django_prometheus",  # HTTP and database metrics on /metrics (core/metrics.py adds ours)
]
# The sandboxes and the demo are development tools: production does not install them.
if not IS_PRODUCTION:
    INSTALLED_APPS += ["sandbox", "demo"]

MIDDLEWARE = [
    "core.context.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files (the admin's CSS) served by the app itself
    "core.api.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "core.tenancy.RequestScopeMiddleware",
    "core.throttles.RateLimitHeadersMiddleware",
    "tenants.idempotency.IdempotencyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Where config/urls.py mounts the admin: staff there work across tenants (core.tenancy).
ADMIN_URL_PREFIX = "/admin/"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ml_connector.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
# A process's PostgreSQL connections through psycopg's pool (Django's OPTIONS["pool"]): DB_POOL_MAX_SIZE > 0 bounds
# them however many threads a worker runs (a Celery threads-pool worker: see docs/SCALE.md); a thread waiting
# longer than DB_POOL_TIMEOUT seconds for one fails. Pooled connections are not persistent (CONN_MAX_AGE 0).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=60.0)
if DB_POOL_MAX_SIZE > 0 and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT}
if IS_PRODUCTION and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    raise ImproperlyConfigured("DATABASE_URL is SQLite; production needs PostgreSQL (postgres://...).")
if IS_PRODUCTION and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, counting queries, errors and connections for /metrics (django-prometheus).
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded database serves an API, a sync and a worker at once: wait for locks, take them early.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff accounts (the admin) -----------------------------------------------------------------
# django-axes counts failed admin logins in the database and locks the username and the client address
# (each on its own) after AXES_FAILURE_LIMIT failures for AXES_COOLOFF_HOURS; a successful login resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_HOURS = env.float("AXES_COOLOFF_HOURS", default=1.0)
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_HOURS <= 0:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT must be at least 1 and AXES_COOLOFF_HOURS greater than 0.")
AXES_COOLOFF_TIME = AXES_COOLOFF_HOURS
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The client address is REMOTE_ADDR, or taken from X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "core.throttles.client_address"
# A staff login also asks for a TOTP code (django-otp): required in production, optional in development.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=IS_PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="ml-connector")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Times the admin shows name their zone (config/formats/).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `bin/ml-connector web` runs collectstatic into STATIC_ROOT before gunicorn starts; WhiteNoise serves it.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
if not IS_PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)   # WhiteNoise looks there at start-up
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves compressed files with hashed names (cached forever); development serves the app folders.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if IS_PRODUCTION
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.auth.PartnerAPIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.IsPartner"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["core.throttles.PartnerKeyThrottle"],
    # Client addresses come from REMOTE_ADDR, or from X-Forwarded-For behind this many trusted proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

# --- Throttles (core/throttles.py), counted in the shared cache: "<n>/<second|minute|hour|day>" ----------
API_THROTTLE_PARTNER = env.str("API_THROTTLE_PARTNER", default="1200/minute")        # every call, per API key
API_THROTTLE_PING = env.str("API_THROTTLE_PING", default="30/minute")                # pings, per API key
API_THROTTLE_SYNC = env.str("API_THROTTLE_SYNC", default="30/minute")                # sync and replay requests
API_THROTTLE_AUTH_FAILURES = env.str("API_THROTTLE_AUTH_FAILURES", default="20/minute")  # bad keys, per client IP
for _name in ("API_THROTTLE_PARTNER", "API_THROTTLE_PING", "API_THROTTLE_SYNC", "API_THROTTLE_AUTH_FAILURES"):
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", globals()[_name]):
        raise ImproperlyConfigured(f"{_name} must look like '30/minute' (a count, then second, minute, hour or day).")

# A partner may hold at most this many usable API keys at once (rotation: add one, then revoke the old).
PARTNER_MAX_ACTIVE_KEYS = env.int("PARTNER_MAX_ACTIVE_KEYS", default=3)
if PARTNER_MAX_ACTIVE_KEYS < 1:
    raise ImproperlyConfigured("PARTNER_MAX_ACTIVE_KEYS must be at least 1.")

# --- Idempotency-Key (tenants/idempotency.py) -----------------------------------------------------
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)          # how long an answer is kept
# A claim whose request has not answered after this long (its process died) may be taken by a retry.
IDEMPOTENCY_IN_PROGRESS_SECONDS = env.int("IDEMPOTENCY_IN_PROGRESS_SECONDS", default=600)

# --- Input limits --------------------------------------------------------------------------------
API_MAX_JSON_DEPTH = 32          # arrays and objects nested deeper are refused (API bodies and webhooks)
MAPPINGS_BULK_MAX_ITEMS = env.int("MAPPINGS_BULK_MAX_ITEMS", default=500)
if MAPPINGS_BULK_MAX_ITEMS < 1:
    raise ImproperlyConfigured("MAPPINGS_BULK_MAX_ITEMS must be at least 1.")

SPECTACULAR_SETTINGS = {
    "TITLE": "ml-connector API",
    "DESCRIPTION": (
        "Onboard tenants, connect JAGGAER and QuickBooks Online, map GL accounts and "
        "departments, and run syncs. Authenticate every call with a partner API key: "
        "`Authorization: Api-Key <key>`. Every 4xx answer has the body "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Descriptions are written for partners with extend_schema; code docstrings never reach the schema.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "connections.models.ConnectionStatus",
        "SyncRunStatusEnum": "sync.models.SyncRun.Status",
        "ReportStatusEnum": "reports.models.ReportStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.add_error_responses",
    ],
    # Swagger UI is served from this machine (drf-spectacular-sidecar): no request leaves it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The events sent to partner endpoints, documented as OpenAPI 3.1 `webhooks` (webhooks/schema.py).
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [f"webhooks.schema.{name}" for name in (
        "sync_succeeded", "sync_completed_with_holds", "sync_failed", "records_held", "connection_connected",
        "connection_needs_reauthorization", "connection_error", "reconciliation_completed",
        "webhook_endpoint_disabled")],
}

API_KEY_CUSTOM_HEADER = "HTTP_AUTHORIZATION"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json": one JSON object per line with the context ids (config/logging.py); "plain": one readable line.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if IS_PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'plain'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Access logs (runserver's django.server, request logs) never keep an OAuth code, state or token.
    "filters": {"redact_query": {"()": "config.logging.RedactQueryValues"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "config.logging.JsonFormatter"},
                   "django.server": {"()": "django.utils.log.ServerFormatter",
                                     "format": "[{server_time}] {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_query"]},
                 "django.server": {"class": "logging.StreamHandler",
                                   "formatter": "json" if LOG_FORMAT == "json" else "django.server",
                                   "filters": ["redact_query"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"},
                "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
                "django.request": {"filters": ["redact_query"]}},
}

if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = False  # preloading is a one-way decision for the whole domain; not ours to take
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # ... so `check --deploy` need not ask for it

# --- Celery, Redis and the per-realm QuickBooks budget --------------------------------------
# CELERY_BROKER_URL defaults to Redis on 127.0.0.1. Set it empty (the demo does) and every task
# runs in-process, at once, in the caller: no broker, no worker needed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
TASKS_IN_PROCESS = not CELERY_BROKER_URL
# Redis for shared state (the realm limiter); defaults to the broker when that is Redis.
REDIS_URL = env.str(
    "REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
)
# The shared cache (throttle counters): Redis when REDIS_URL is set, else this process's memory.
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="mlc")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": CACHE_KEY_PREFIX} if REDIS_URL else
          {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ml-connector"}}
CELERY_TASK_ALWAYS_EAGER = TASKS_IN_PROCESS
if TASKS_IN_PROCESS:
    CELERY_BROKER_URL = "memory://localhost/"  # never used for sending; keeps kombu from looking for a default broker
# Several deployments (or test runs) can share one Redis: each keeps its queues under its own prefix.
CELERY_BROKER_KEY_PREFIX = env.str("CELERY_BROKER_KEY_PREFIX", default="")
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_BROKER_KEY_PREFIX} if CELERY_BROKER_KEY_PREFIX else {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport (`make serve` without Redis): one folder of message files that the API,
    # beat and the worker on this machine share, under CELERY_BROKER_FOLDER (default var/celery).
    _broker_folder = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "celery")))
    for _sub in ("messages", "processed", "control"):
        (_broker_folder / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder / "messages"), "data_folder_out": str(_broker_folder / "messages"),
        "processed_folder": str(_broker_folder / "processed"), "control_folder": str(_broker_folder / "control"),
    }
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
SYNC_TASK_SOFT_TIME_LIMIT = env.int("SYNC_TASK_SOFT_TIME_LIMIT", default=3 * 3600)
SYNC_TASK_TIME_LIMIT = env.int("SYNC_TASK_TIME_LIMIT", default=3 * 3600 + 300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING above (JSON lines in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Intuit's limits per realm are 10 in flight, 10/s, 500/min and 40 batches/min. Our budget keeps a
# little headroom: a response reaches us a moment before Intuit counts the request as done.
QBO_MAX_IN_FLIGHT = env.int("QBO_MAX_IN_FLIGHT", default=9)
QBO_REQUESTS_PER_MINUTE = env.int("QBO_REQUESTS_PER_MINUTE", default=480)
QBO_REQUESTS_PER_SECOND = env.int("QBO_REQUESTS_PER_SECOND", default=9)
QBO_BATCHES_PER_MINUTE = env.int("QBO_BATCHES_PER_MINUTE", default=38)
QBO_LIMIT_WINDOW_SECONDS = env.int("QBO_LIMIT_WINDOW_SECONDS", default=60)  # Intuit's minute
# Prefix of the realm budget's Redis keys: deployments (or test runs) sharing one Redis keep separate budgets.
QBO_LIMITER_KEY_PREFIX = env.str("QBO_LIMITER_KEY_PREFIX", default="mlc")
# When the batch window is spent but the request window is not, send writes one request each.
QBO_SPILL_TO_SINGLE_REQUESTS = env.bool("QBO_SPILL_TO_SINGLE_REQUESTS", default=True)

# --- Connections: QuickBooks Online app and token lifetimes ----------------------------------
# Intuit's production endpoints by default; the demo and the tests point them at the sandbox.
QBO_CLIENT_ID = env.str("QBO_CLIENT_ID", default="")
QBO_CLIENT_SECRET = env.str("QBO_CLIENT_SECRET", default="")
QBO_REDIRECT_URI = env.str("QBO_REDIRECT_URI", default=f"{PUBLIC_BASE_URL.rstrip('/')}/oauth/qbo/callback")
QBO_AUTHORIZE_URL = env.str("QBO_AUTHORIZE_URL", default="https://appcenter.intuit.com/connect/oauth2")
QBO_TOKEN_URL = env.str("QBO_TOKEN_URL", default="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer")
QBO_REVOKE_URL = env.str("QBO_REVOKE_URL", default="https://developer.api.intuit.com/v2/oauth2/tokens/revoke")
QBO_API_BASE = env.str("QBO_API_BASE", default="https://quickbooks.api.intuit.com")
QBO_MINOR_VERSION = env.int("QBO_MINOR_VERSION", default=75)
if QBO_MINOR_VERSION < 75:
    raise ImproperlyConfigured("QBO_MINOR_VERSION must be 75 or higher: Intuit ignores older minor versions.")
QBO_SCOPE = env.str("QBO_SCOPE", default="com.intuit.quickbooks.accounting")
# Refresh the access token when less than this is left (seconds).
QBO_REFRESH_MARGIN_SECONDS = env.int("QBO_REFRESH_MARGIN_SECONDS", default=600)
# How long an authorization `state` stays valid (seconds).
QBO_STATE_MAX_AGE = env.int("QBO_STATE_MAX_AGE", default=600)
# The keep-alive refreshes every connection not refreshed for this many hours.
QBO_KEEPALIVE_AFTER_HOURS = env.int("QBO_KEEPALIVE_AFTER_HOURS", default=20)
# A cached JAGGAER token is replaced this many seconds before it expires.
JAGGAER_TOKEN_MARGIN_SECONDS = env.int("JAGGAER_TOKEN_MARGIN_SECONDS", default=60)
if IS_PRODUCTION:
    from urllib.parse import urlsplit as _urlsplit

    for _name in ("QBO_REDIRECT_URI", "QBO_AUTHORIZE_URL", "QBO_TOKEN_URL", "QBO_REVOKE_URL", "QBO_API_BASE"):
        if _urlsplit(globals()[_name]).scheme != "https":
            raise ImproperlyConfigured(f"{_name} must be an https:// URL in production.")

# --- Sync pipeline --------------------------------------------------------------------------
# Items per QBO /batch request (Intuit documents 30 at most; some pages say 10).
QBO_BATCH_SIZE = env.int("QBO_BATCH_SIZE", default=30)
if not 1 <= QBO_BATCH_SIZE <= 30:
    raise ImproperlyConfigured("QBO_BATCH_SIZE must be between 1 and 30.")
# Incremental reads start this many seconds before the last high-water mark (rows change while paged).
SYNC_CURSOR_OVERLAP_SECONDS = env.int("SYNC_CURSOR_OVERLAP_SECONDS", default=300)
# --- Reports: the fit report reads at most this many JAGGAER pages per entity (a sample beyond it) --
FIT_REPORT_MAX_PAGES = env.int("FIT_REPORT_MAX_PAGES", default=20)
FIT_REPORT_MAX_PAGES_LIMIT = env.int("FIT_REPORT_MAX_PAGES_LIMIT", default=1000)
if not 1 <= FIT_REPORT_MAX_PAGES <= FIT_REPORT_MAX_PAGES_LIMIT:
    raise ImproperlyConfigured("FIT_REPORT_MAX_PAGES must be from 1 to FIT_REPORT_MAX_PAGES_LIMIT.")
if SYNC_CURSOR_OVERLAP_SECONDS < 0:
    raise ImproperlyConfigured("SYNC_CURSOR_OVERLAP_SECONDS must not be negative.")
# Consecutive JAGGAER pages are processed together up to this many records: one part-filled QBO batch and one
# set of bulk reads per group (sync/pipeline/engine.py `processing_pages`).
SYNC_PAGE_RECORDS = env.int("SYNC_PAGE_RECORDS", default=1000)
# A first load or a full run reads the DocNumbers QBO holds (PurchaseOrder, Bill, VendorCredit) up front when
# QBO counts at most this many of a step's entities, instead of one look-up query per page; read again for what
# changed once the index is older than SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS (sync/pipeline/documents.py).
SYNC_DOCNUMBER_INDEX_MAX = env.int("SYNC_DOCNUMBER_INDEX_MAX", default=10000)
SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS = env.int("SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS", default=120)
if not 1 <= SYNC_PAGE_RECORDS <= 10000:
    raise ImproperlyConfigured("SYNC_PAGE_RECORDS must be from 1 to 10000.")
if SYNC_DOCNUMBER_INDEX_MAX < 0 or SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS < 1:
    raise ImproperlyConfigured("SYNC_DOCNUMBER_INDEX_MAX must not be negative (0: always look up per page); "
                               "SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS must be at least 1.")

# --- Outbound HTTP (connections/clients/http.py): timeouts, retries, backoff ------------------
HTTP_CONNECT_TIMEOUT = env.float("HTTP_CONNECT_TIMEOUT", default=5.0)
HTTP_READ_TIMEOUT = env.float("HTTP_READ_TIMEOUT", default=60.0)
# Attempts per call, the first included: 429, 500-504, connection errors and timeouts are retried.
HTTP_MAX_ATTEMPTS = env.int("HTTP_MAX_ATTEMPTS", default=5)
# Full-jitter backoff: a wait drawn from [0, min(cap, base * 2^(attempt-1))] seconds.
HTTP_BACKOFF_BASE = env.float("HTTP_BACKOFF_BASE", default=0.5)
HTTP_BACKOFF_CAP = env.float("HTTP_BACKOFF_CAP", default=30.0)
# Retry-After is honoured up to this many seconds; a 429 without it waits HTTP_THROTTLE_DEFAULT_WAIT.
HTTP_RETRY_AFTER_CAP = env.float("HTTP_RETRY_AFTER_CAP", default=60.0)
HTTP_THROTTLE_DEFAULT_WAIT = env.float("HTTP_THROTTLE_DEFAULT_WAIT", default=60.0)
for _name in ("HTTP_CONNECT_TIMEOUT", "HTTP_READ_TIMEOUT", "HTTP_BACKOFF_BASE"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name} must be greater than 0.")
for _name in ("HTTP_BACKOFF_CAP", "HTTP_RETRY_AFTER_CAP", "HTTP_THROTTLE_DEFAULT_WAIT"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must not be negative.")
if not 1 <= HTTP_MAX_ATTEMPTS <= 20:
    raise ImproperlyConfigured("HTTP_MAX_ATTEMPTS must be between 1 and 20.")

# --- Outbound address policy (core/outbound.py) for customer-given hosts ------------------------
# Calls to a host the customer gives (the JAGGAER base URL) go only to public addresses, over https in
# production, never through a redirect. OUTBOUND_ALLOW_PRIVATE_HOSTS lets development and the tests call
# the sandboxes on 127.0.0.1; it is off by default and never honoured when ENVIRONMENT=production.
OUTBOUND_ALLOW_PRIVATE_HOSTS = env.bool("OUTBOUND_ALLOW_PRIVATE_HOSTS", default=False)
if IS_PRODUCTION and OUTBOUND_ALLOW_PRIVATE_HOSTS:
    raise ImproperlyConfigured("OUTBOUND_ALLOW_PRIVATE_HOSTS must be false in production: customer-given hosts "
                               "could reach internal addresses.")
# Connect timeout (seconds) for customer-given hosts: a silent port must not hold a request for long.
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=3.0)
if OUTBOUND_CONNECT_TIMEOUT <= 0:
    raise ImproperlyConfigured("OUTBOUND_CONNECT_TIMEOUT must be greater than 0.")
# Optional allow-list of JAGGAER hosts: comma-separated glob patterns such as *.jaggaer.com (empty: any
# public host). Enforced when a base URL is set and on every call.
JAGGAER_ALLOWED_HOSTS = [p.strip().lower() for p in env.list("JAGGAER_ALLOWED_HOSTS", default=[]) if p.strip()]
for _pattern in JAGGAER_ALLOWED_HOSTS:
    if not re.fullmatch(r"[a-z0-9*?.\-\[\]]+", _pattern) or _pattern.strip("*?.") == "":
        raise ImproperlyConfigured(f"JAGGAER_ALLOWED_HOSTS: {_pattern!r} is not a host pattern such as "
                                   f"*.jaggaer.com.")

# --- Webhooks to partners (webhooks/) -----------------------------------------------------------
# Partner endpoint URLs are customer-given hosts: the outbound policy above applies to every delivery.
# Optional allow-list of endpoint hosts, glob patterns as for JAGGAER (empty: any public host).
WEBHOOK_ALLOWED_HOSTS = [p.strip().lower() for p in env.list("WEBHOOK_ALLOWED_HOSTS", default=[]) if p.strip()]
# Waits (seconds) after each failed attempt; once all are spent the delivery is `failed`. The default
# spreads 8 attempts over about 28 hours (Standard Webhooks' usual schedule).
WEBHOOK_RETRY_SCHEDULE = [int(v) for v in env.list("WEBHOOK_RETRY_SCHEDULE",
                                                   default=["5", "300", "1800", "7200", "18000", "36000", "36000"])]
if not WEBHOOK_RETRY_SCHEDULE or any(v < 0 for v in WEBHOOK_RETRY_SCHEDULE):
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE must list waits in seconds, none negative.")
# An endpoint is disabled (and the partner's other endpoints told) after this many failed attempts in a
# row spanning at least this many hours.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=30)
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=72.0)
# After a secret rotation the previous secret keeps signing (two signatures) for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)
for _name in ("WEBHOOK_DISABLE_AFTER_FAILURES", "WEBHOOK_MAX_ENDPOINTS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
for _name in ("WEBHOOK_DISABLE_AFTER_HOURS", "WEBHOOK_SECRET_OVERLAP_HOURS", "WEBHOOK_CONNECT_TIMEOUT",
              "WEBHOOK_READ_TIMEOUT"):
    if globals()[_name] < 0 or (_name.endswith("TIMEOUT") and globals()[_name] == 0):
        raise ImproperlyConfigured(f"{_name} must be a positive number.")

# --- Scheduling and single flight --------------------------------------------------------------
# What a run knows of QuickBooks between runs (sync/pipeline/qbo_snapshot.py): a daily run asks QBO's CDC what
# changed since the last one; a full read of the lists comes back every QBO_FULL_READ_DAYS, and whenever the
# cursor is older than CDC's 30 days. CDC asks from the cursor less QBO_CDC_OVERLAP_SECONDS (clock skew).
QBO_FULL_READ_DAYS = env.int("QBO_FULL_READ_DAYS", default=7)
QBO_CDC_OVERLAP_SECONDS = env.int("QBO_CDC_OVERLAP_SECONDS", default=120)
# The company's preferences (home currency, multicurrency) are read at most once a run and kept this long; a
# document refused for its currency re-reads them once in its run before it is held.
QBO_PREFERENCES_MAX_AGE_SECONDS = env.int("QBO_PREFERENCES_MAX_AGE_SECONDS", default=7 * 24 * 3600)
# A scheduled run reads kept preferences again for a document refused for its currency only past this age.
QBO_PREFERENCES_RECHECK_SECONDS = env.int("QBO_PREFERENCES_RECHECK_SECONDS", default=20 * 3600)
if (QBO_FULL_READ_DAYS < 1 or QBO_CDC_OVERLAP_SECONDS < 0 or QBO_PREFERENCES_MAX_AGE_SECONDS < 0
        or QBO_PREFERENCES_RECHECK_SECONDS < 0):
    raise ImproperlyConfigured("QBO_FULL_READ_DAYS must be at least 1; QBO_CDC_OVERLAP_SECONDS, "
                               "QBO_PREFERENCES_MAX_AGE_SECONDS and QBO_PREFERENCES_RECHECK_SECONDS must not be "
                               "negative.")
# A held record is planned again once what it waits on may have changed (sync/holds/due.py), and whatever the
# reason (but those only JAGGAER fixes) when it was last held this many days ago.
SYNC_HOLD_RECHECK_DAYS = env.int("SYNC_HOLD_RECHECK_DAYS", default=7)
if SYNC_HOLD_RECHECK_DAYS < 1:
    raise ImproperlyConfigured("SYNC_HOLD_RECHECK_DAYS must be at least 1.")
# Initial loads and full runs wait in the `bulk` queue (sync/runs/queues.py); a worker process runs at most
# SYNC_BULK_SLOTS of them at once, the others wait SYNC_BULK_RETRY_SECONDS in the broker and try again.
SYNC_BULK_SLOTS = env.int("SYNC_BULK_SLOTS", default=2)
SYNC_BULK_RETRY_SECONDS = env.int("SYNC_BULK_RETRY_SECONDS", default=10)
if SYNC_BULK_SLOTS < 1 or SYNC_BULK_RETRY_SECONDS < 1:
    raise ImproperlyConfigured("SYNC_BULK_SLOTS and SYNC_BULK_RETRY_SECONDS must be at least 1.")
# Between two batches a bulk run gives way to the daily runs of its worker process (they share its CPU): it waits
# while any is running, at most this long per batch (0: never waits).
SYNC_BULK_YIELD_SECONDS = env.float("SYNC_BULK_YIELD_SECONDS", default=10.0)
if SYNC_BULK_YIELD_SECONDS < 0:
    raise ImproperlyConfigured("SYNC_BULK_YIELD_SECONDS must not be negative.")
SYNC_LEASE_SECONDS = env.int("SYNC_LEASE_SECONDS", default=300)          # renewed after every batch
# Within a page, a batch's database writes are done while the next batch is in flight at QuickBooks.
SYNC_OVERLAP_WRITES = env.bool("SYNC_OVERLAP_WRITES", default=True)
# A run's batch transactions written behind it: sent without waiting on database connections of the run's own
# (PostgreSQL without a connection pool; once a page of the run has more than one batch) while the run's thread
# goes on: sync/pipeline/writer.py. At most SYNC_WRITE_BEHIND_DEPTH batches wait to be written.
SYNC_WRITE_BEHIND = env.bool("SYNC_WRITE_BEHIND", default=True)
SYNC_WRITE_BEHIND_DEPTH = env.int("SYNC_WRITE_BEHIND_DEPTH", default=3)
# The cyclic garbage collector's thresholds in worker processes (core/collector.py); empty keeps Python's own.
_gc_thresholds = [x.strip() for x in env.list("WORKER_GC_THRESHOLDS", default=["20000", "20", "20"]) if x.strip()]
if _gc_thresholds and (len(_gc_thresholds) != 3 or not all(x.isdigit() and int(x) >= 1 for x in _gc_thresholds)):
    raise ImproperlyConfigured("WORKER_GC_THRESHOLDS must be three whole numbers, e.g. 20000,20,20 (or empty).")
WORKER_GC_THRESHOLDS = tuple(int(x) for x in _gc_thresholds)
# A running run writes its progress (step, records seen of JAGGAER's total) at most this often.
SYNC_PROGRESS_SECONDS = env.float("SYNC_PROGRESS_SECONDS", default=2.0)
SYNC_QUEUED_LEASE_SECONDS = env.int("SYNC_QUEUED_LEASE_SECONDS", default=3600)  # a queued run waits this long
SYNC_SCHEDULE_JITTER_SECONDS = env.int("SYNC_SCHEDULE_JITTER_SECONDS", default=900)
QBO_WEBHOOK_VERIFIER_TOKEN = env.str("QBO_WEBHOOK_VERIFIER_TOKEN", default="")

# --- Audit -------------------------------------------------------------------------------------
API_CALL_RETENTION_DAYS = env.int("API_CALL_RETENTION_DAYS", default=30)   # outbound call log kept this long
if API_CALL_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("API_CALL_RETENTION_DAYS must be at least 1.")

AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=400)     # record events and people's actions
if AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("AUDIT_RETENTION_DAYS must be at least 1.")
PRUNE_BATCH_SIZE = env.int("PRUNE_BATCH_SIZE", default=10000)           # rows deleted per statement
if PRUNE_BATCH_SIZE < 1:
    raise ImproperlyConfigured("PRUNE_BATCH_SIZE must be at least 1.")

# --- Operations: health, metrics, error reports ---------------------------------------------------
# /healthz/ready fails when no worker answered (or beat sent no periodic task) for this long.
HEALTH_WORKER_MAX_AGE_SECONDS = env.int("HEALTH_WORKER_MAX_AGE_SECONDS", default=300)
HEALTH_BEAT_MAX_AGE_SECONDS = env.int("HEALTH_BEAT_MAX_AGE_SECONDS", default=300)
# /metrics answers a request carrying `Authorization: Bearer <METRICS_TOKEN>`, or one from an address in
# METRICS_ALLOWED_NETWORKS (CIDR list); with neither set it answers nobody (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
try:
    import ipaddress as _ipaddress

    METRICS_ALLOWED_NETWORKS = [str(_ipaddress.ip_network(n.strip(), strict=False)) for n in METRICS_ALLOWED_NETWORKS
                                if n.strip()]
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_exc}") from None
if IS_PRODUCTION and METRICS_TOKEN:
    _problem = production_key_problem("METRICS_TOKEN", METRICS_TOKEN)
    if _problem:
        raise ImproperlyConfigured(_problem)
# Sentry (optional): errors and their context go to SENTRY_DSN, scrubbed of secrets (core/errors.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default=ENVIRONMENT)
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
