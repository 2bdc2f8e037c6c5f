"""pytest plugin for the mutation run only (scripts/mutation.py loads it with `-p mutation_plugin`).

mutmut runs pytest once per mutant, each time in a fresh fork; creating the SQLite test database
(every migration, then the seeded rows) would cost each of them a second or more. Instead the run
migrates one template database before it starts, and every pytest session here starts from its own
copy of it (named by process, so parallel mutants never share one), kept with pytest-django's
--reuse-db, so Django only checks that the migrations are applied. The copy is removed at the end.
"""

import os
import shutil

TEMPLATE = os.environ.get("MUTATION_TEMPLATE_DB", "")


def _copy_path() -> str:
    return f"{TEMPLATE}.{os.getpid()}"


def pytest_configure(config):
    if not TEMPLATE:
        return
    from django.db import connections

    copy = _copy_path()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    shutil.copyfile(TEMPLATE, copy)
    # The connection's settings dict is the one the test runner reads the test name from.
    connections["default"].settings_dict.setdefault("TEST", {})["NAME"] = copy


def pytest_unconfigure(config):
    if not TEMPLATE:
        return
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(_copy_path() + suffix)
        except FileNotFoundError:
            pass
