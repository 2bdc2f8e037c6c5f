"""Commands print nothing a person would read as an error: no kombu hostname warning, no W040."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, database: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(
    os.environ.get("CELERY_BROKER_URL"), reason="about the embedded default, without a broker"
)
def test_migrate_and_an_eager_task_print_no_warnings(tmp_path):
    database = tmp_path / "db.sqlite3"
    migrate = manage("migrate", "--verbosity", "0", database=database)
    assert migrate.returncode == 0, migrate.stderr
    task = manage(
        "shell",
        "-c",
        "from smsconsole.celery import app; app.loader.import_default_modules(); "
        "app.tasks['smsconsole.tasks.idempotency_keys_purge'].delay()",
        database=database,
    )
    assert task.returncode == 0, task.stderr
    output = migrate.stdout + migrate.stderr + task.stdout + task.stderr
    assert "No hostname was supplied" not in output
    assert "W040" not in output and "System check identified" not in output
