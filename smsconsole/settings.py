"""Settings for the SMS delivery console, read from the environment.

Every setting has a working default for a fresh machine: SQLite in the project folder and Celery
tasks run eagerly in-process. Production sets DATABASE_URL, CELERY_BROKER_URL, CACHE_URL, SECRET_KEY,
ALLOWED_HOSTS and DEBUG=0, and is then secure by default (HTTPS only, HSTS, secure cookies, a strict
Content-Security-Policy): `manage.py check --deploy` has nothing to say.
"""

import datetime as dt
import math
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    """A boolean from the environment; anything but a clear yes/no is a configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ImproperlyConfigured(f"{name} must be a finite number of at least 0, got {raw!r}")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def envproxyheader(name: str) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https`: the header a TLS-terminating proxy sets, and its value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, _, value = (part.strip() for part in raw.partition(","))
    if not header.startswith("HTTP_") or not value or "," in value or not header.replace("_", "").isalnum():
        raise ImproperlyConfigured(
            f"{name} must be a request header as Django names it and its value, "
            f"like HTTP_X_FORWARDED_PROTO,https; got {raw!r}"
        )
    return header.upper(), value


DEBUG = envbool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: its `runserver` (which adds the periodic jobs without a broker) wins.
    "smsconsole",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "csp",
    "delivery",
    "intercepts",
    "replies",
    "callbacks",
    "benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions, locale and the rest are set up.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "smsconsole.middleware.ApiLanguageMiddleware",
    "smsconsole.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "smsconsole.middleware.ConsoleAccountMiddleware",
    # With DEBUG on (`make run`), the console's own 400/404/500 pages instead of Django's technical ones.
    "smsconsole.error_pages.DebugErrorPagesMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smsconsole.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "smsconsole.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "smsconsole.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # Persistent PostgreSQL connections: opening one cost each page 8-18 ms. The health check
        # replaces a connection the database dropped before a request uses it. SQLite opens a file.
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 300 if DATABASE_URL.startswith("postgres") else 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the console read while the eager pipeline writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # The message table's status index carries INCLUDE columns so PostgreSQL (production) answers
    # the per-status counts from the index alone; SQLite builds the same index without them, which
    # is all the warning says. Silenced for SQLite only: on PostgreSQL the check never fires.
    SQLITE_SILENCED_CHECKS = ["models.W040"]
else:
    SQLITE_SILENCED_CHECKS = []

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login lockout (django-axes; the policy is in smsconsole/throttling.py) ----------------------
# AxesStandaloneBackend refuses a locked-out login before the password is checked. It needs the
# request: tests log in with `client.force_login(user)` or `client.login(request=HttpRequest(), …)`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "smsconsole.throttling.LoginAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# Failures of one username from one IP; of any usernames from one IP (password spraying).
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 50, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
# Refused attempts during a lockout do not restart it: the cool-off runs from the last real failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "smsconsole.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "smsconsole.throttling.login_lockout_response"
# Failed attempts are kept (and listed in admin, where staff can delete one to unlock early);
# a row per successful login would grow without bound.
AXES_DISABLE_ACCESS_LOG = True
# Reverse proxies in front of the app that append to X-Forwarded-For (0: REMOTE_ADDR is the client).
NUM_PROXIES = envint("NUM_PROXIES", 0, minimum=0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "delivery:message-list"
LOGOUT_REDIRECT_URL = "login"

# Stored in UTC; shown in each account's own zone (Account.time_zone).
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Tokyo")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known IANA time zone") from None

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# WhiteNoise serves static files in every mode. In production (`collectstatic` first) the names
# carry a content hash and are cached for a year, compressed; with DEBUG they come straight from
# the source folders, so `make run` and the tests need no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Fixed when settings load (the tests turn DEBUG off later, and still find the files).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTPS and browser protections --------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", True)
# Production is HTTPS only unless told otherwise; development serves plain HTTP.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading hard-codes HTTPS for the whole domain into browsers, and anyone may submit a
    # domain whose header asks for it: it stays the domain owner's explicit choice, so Django's
    # reminder to turn it on is not a warning here.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), *SQLITE_SILENCED_CHECKS]


# Behind a proxy that terminates TLS, requests arrive over HTTP: trust its header to tell HTTPS
# (or SECURE_SSL_REDIRECT redirects forever). Only set it if the proxy overwrites that header.
SECURE_PROXY_SSL_HEADER = envproxyheader("SECURE_PROXY_SSL_HEADER")

# A strict policy: scripts, styles, images and fonts from this site only, no inline code, no
# plugins, no framing. The console and the admin need nothing more.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Cache (the API's rate-limit counters) ------------------------------------------------------
# redis://host:6379/1 in production, shared by every web process; in-process memory by default.
# Short timeouts: a hung Redis must never hold a request (rate limits then fail open).
CACHE_URL = os.environ.get("CACHE_URL", "").strip()
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "smsconsole",
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
        }
    }
elif CACHE_URL in {"", "locmem://"}:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL (or unset), got {CACHE_URL!r}")
THROTTLE_CACHE_ALIAS = "default"

# --- Celery -------------------------------------------------------------------------------------
# Without a broker the whole pipeline runs in-process, so a fresh machine needs no services.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
# Without a broker nothing is published, but Celery still opens a (memory) connection for an
# eager task; naming its host spares every command kombu's "No hostname was supplied" warning.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# --- Pipeline knobs -----------------------------------------------------------------------------
# Messages one worker claims and checks at a time, handed over in channel calls of 100: every
# claim costs a dozen statements whatever its size, so 500 dispatch about 1.6 times as many per
# second as 100 (docs/benchmarks.md). A worker that dies holds these for one lease.
SMS_DISPATCH_BATCH_SIZE = envint("SMS_DISPATCH_BATCH_SIZE", 500)
# How long a carrier's answer is retried into a database that dropped the connection before the
# batch is left to be handed over again (same ref). The claim's lease covers it.
SMS_DISPATCH_RECORD_RETRY_SECONDS = envfloat("SMS_DISPATCH_RECORD_RETRY_SECONDS", 120.0)
# A channel that stays down: after this many attempts (backing off up to an hour) a message fails
# as `other`, with the channel errors in its send log.
SMS_DISPATCH_MAX_ATTEMPTS = envint("SMS_DISPATCH_MAX_ATTEMPTS", 12)
SMS_INGEST_BATCH_SIZE = envint("SMS_INGEST_BATCH_SIZE", 5000)
SMS_EARLY_RECEIPT_RETRY_HOURS = envint("SMS_EARLY_RECEIPT_RETRY_HOURS", 72)
SMS_RETENTION_DAYS = envint("SMS_RETENTION_DAYS", 30)
# Expired intercepts stop blocking at once; they are tidied away this many days later.
SMS_INTERCEPT_EXPIRED_GRACE_DAYS = envint("SMS_INTERCEPT_EXPIRED_GRACE_DAYS", 7)
SMS_CHANNEL_TIMEOUT_SECONDS = envfloat("SMS_CHANNEL_TIMEOUT_SECONDS", 10.0)
# The console's own address as a gateway reaches it: Kannel calls back DLRs under it.
SMS_PUBLIC_BASE_URL = os.environ.get("SMS_PUBLIC_BASE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
if not SMS_PUBLIC_BASE_URL.startswith(("http://", "https://")) or "%" in SMS_PUBLIC_BASE_URL:
    raise ImproperlyConfigured(
        f"SMS_PUBLIC_BASE_URL must be an http:// or https:// URL without '%', got {SMS_PUBLIC_BASE_URL!r}"
    )
SMS_CONSOLE_MAX_PERIOD_DAYS = 30
# The dashboard and the status page count messages still awaiting their receipt this many minutes
# after their request as stuck.
SMS_STUCK_RECEIPT_MINUTES = envint("SMS_STUCK_RECEIPT_MINUTES", 30, minimum=1)

# --- Status callbacks to customers (callbacks/) ------------------------------------------------
# Production accepts only https:// callback URLs on public addresses (checked at save and again at
# each delivery, against DNS rebinding). Development and the tests may call http:// and loopback.
SMS_CALLBACK_ALLOW_PRIVATE = envbool("SMS_CALLBACK_ALLOW_PRIVATE", DEBUG)
# Connect and read timeouts of one callback POST, each: a slow endpoint holds a worker no longer.
SMS_CALLBACK_TIMEOUT_SECONDS = envfloat("SMS_CALLBACK_TIMEOUT_SECONDS", 5.0)
# Events per POST when many are due ({"events": [...]}).
SMS_CALLBACK_BATCH_SIZE = envint("SMS_CALLBACK_BATCH_SIZE", 100, minimum=1)
# Failed attempts are retried with exponential backoff for this long, then the events are given up.
SMS_CALLBACK_RETRY_HOURS = envint("SMS_CALLBACK_RETRY_HOURS", 24, minimum=1)
# An endpoint is shown as unhealthy after this many failed attempts in a row, or failing for an hour.
SMS_CALLBACK_UNHEALTHY_FAILURES = envint("SMS_CALLBACK_UNHEALTHY_FAILURES", 5, minimum=1)

# --- Background CSV exports (smsconsole/exports.py) ----------------------------------------------
# A streamed export must end within the web server's timeout (gunicorn's default 30 s; 60 s in
# deploy/). It writes ~37,000 rows/s on an idle machine (docs/benchmarks.md): 30 s is ~1.1 M rows.
# 200,000 rows (~5-6 s) leaves a wide margin for a busy database, a loaded machine and a slow
# client; a bigger filter becomes a background job that a worker writes to a file.
SMS_EXPORT_STREAM_MAX_ROWS = envint("SMS_EXPORT_STREAM_MAX_ROWS", 200_000, minimum=0)
# Created on demand; shared by web processes and workers (a shared volume on more than one machine).
SMS_EXPORT_DIR = Path(os.environ.get("SMS_EXPORT_DIR") or BASE_DIR / "var" / "exports")
# Export files and their jobs are deleted this many days after they were asked for.
SMS_EXPORT_RETENTION_DAYS = envint("SMS_EXPORT_RETENTION_DAYS", 7, minimum=1)

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["smsconsole.authentication.SmsUserKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["smsconsole.authentication.IsActiveSmsUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["smsconsole.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "smsconsole.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Requests a minute per SMS_USER and per client IP, failed API key checks a minute per IP
    # (counted by SmsUserKeyAuthentication), and channel webhook calls a minute per IP (their own
    # limit, set on the webhook views). 0 turns a limit off. Past one: 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "smsconsole.throttling.SmsUserRateThrottle",
        "smsconsole.throttling.ClientIpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        scope: f"{per_minute}/min" if per_minute else None
        for scope, per_minute in {
            "sms_user": envint("API_KEY_REQUESTS_PER_MINUTE", 1200, minimum=0),
            "client_ip": envint("API_IP_REQUESTS_PER_MINUTE", 3000, minimum=0),
            "auth_failure": envint("API_AUTH_FAILURES_PER_MINUTE", 30, minimum=0),
            "webhook_ip": envint("WEBHOOK_IP_REQUESTS_PER_MINUTE", 60000, minimum=0),
        }.items()
    },
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMS delivery console API",
    "DESCRIPTION": "Send SMS, follow their status, intercepts and replies; channel webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

DJANGO_TABLES2_TEMPLATE = "console/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per eager task in `make run` and the demo would drown everything else.
        "celery.app.trace": {"level": "WARNING"},
        # Failed logins and lockouts are warnings; each successful login is not worth a line.
        "axes": {"level": "WARNING"},
    },
}

# Webhooks take up to 10,000 receipts in one body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
