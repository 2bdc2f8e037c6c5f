"""pytest plugin for the mutation run only (scripts/mutation.py loads it with `-p mutation_plugin`).

mutmut runs pytest once per mutant, each time in a fresh fork; creating the SQLite test database
(every migration, then the seeded rows) would cost each of them a second or more. Instead the run
migrates one template database before it starts, and every pytest session here starts from its own
copy of it (named by process, so parallel mutants never share one). The copy is migrated already,
so the session uses it as it is: this plugin's `django_db_setup` replaces pytest-django's, which
would run `migrate` to check it (0.1 s a mutant). The copy is removed at the end.
"""

import os
import shutil

import pytest

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
    # Tests use the copy itself as their database. A connection a forked mutant inherited from
    # mutmut's own test run points at that run's copy: closed, it reopens on this one.
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = copy
    # Registered now, after pytest-django, so that its django_db_setup is the one tests get.
    config.pluginmanager.register(_MigratedCopy(), "mutation_db")


class _MigratedCopy:
    @pytest.fixture(scope="session")
    def django_db_setup(self):
        """The copy is migrated already: nothing to create, nothing to check."""
        yield


def pytest_unconfigure(config):
    if not TEMPLATE:
        return
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(_copy_path() + suffix)
        except FileNotFoundError:
            pass
