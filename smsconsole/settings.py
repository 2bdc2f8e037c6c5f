"""Settings for the SMS delivery console, read from the environment.

Every setting has a working default for a fresh machine: SQLite in the project folder and Celery
tasks run eagerly in-process. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and
DEBUG=0.
"""

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


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


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
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "rest_framework",
    "drf_spectacular",
    "smsconsole",
    "delivery",
    "intercepts",
    "replies",
    "benchmarks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "smsconsole.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "smsconsole.middleware.ConsoleAccountMiddleware",
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the console read while the eager pipeline writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

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
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", True)

# --- Celery -------------------------------------------------------------------------------------
# Without a broker the whole pipeline runs in-process, so a fresh machine needs no services.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://"
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
# One claim is one channel batch: a worker that dies holds no more than it was about to send.
SMS_DISPATCH_BATCH_SIZE = envint("SMS_DISPATCH_BATCH_SIZE", 100)
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
SMS_CONSOLE_MAX_PERIOD_DAYS = 30

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["smsconsole.authentication.SmsUserKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["smsconsole.authentication.IsActiveSmsUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "smsconsole.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
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
    },
}

# Webhooks take up to 10,000 receipts in one body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
