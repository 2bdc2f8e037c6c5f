"""Settings come from the environment; each case imports them in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json; from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']),"
    " 'eager': s.CELERY_TASK_ALWAYS_EAGER, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'tz': s.TIME_ZONE,"
    " 'key': s.SECRET_KEY, 'conn_max_age': db['CONN_MAX_AGE'], 'health_checks': db['CONN_HEALTH_CHECKS']}))"
)


def load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="smsconsole.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + PRINT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_defaults_need_no_services():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("db.sqlite3")
    assert values["eager"] is True
    assert values["debug"] is True
    assert values["tz"] == "Asia/Tokyo"


def test_database_and_broker_from_environment():
    result = load_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/elsewhere",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="console.example.com, api.example.com",
        TIME_ZONE="UTC",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "elsewhere"
    assert values["eager"] is False
    assert values["hosts"] == ["console.example.com", "api.example.com"]
    assert values["tz"] == "UTC"


def test_production_refuses_to_start_without_secret_key():
    result = load_settings(DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_uses_the_given_secret_key():
    result = load_settings(DEBUG="0", SECRET_KEY="s3cret-" * 8, ALLOWED_HOSTS="console.example.com")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["key"] == "s3cret-" * 8


def test_bad_boolean_and_time_zone_fail_loudly():
    assert "DEBUG must be a boolean" in load_settings(DEBUG="maybe").stderr
    assert "not a known IANA time zone" in load_settings(TIME_ZONE="Mars/Base").stderr


def test_postgresql_connections_persist_with_health_checks():
    """A page does not pay for a new PostgreSQL connection; a dropped one is replaced before use."""
    values = json.loads(load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/any").stdout)
    assert values["conn_max_age"] == 300
    assert values["health_checks"] is True
    values = json.loads(load_settings(DATABASE_URL="postgres://x@h/any", DATABASE_CONN_MAX_AGE="0").stdout)
    assert values["conn_max_age"] == 0
    assert json.loads(load_settings().stdout)["conn_max_age"] == 0  # SQLite
