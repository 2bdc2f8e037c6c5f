"""A real browser for the console: Playwright driving Debian's chromium, headless."""

import os

import pytest

# The one place the browser is looked for; .ci/run installs Debian's chromium here when it is missing
# and exports the same CHROMIUM, so CI cannot look in one place and the tests in another.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the tests still use the ORM to arrange
# data and check results, which Django refuses inside a loop unless told it is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# One browser per test, started after the test database is set up and closed before it is flushed:
# while Playwright's sync API runs, Django sees a fresh connection object in this thread, and the
# database fixtures must not straddle that.
@pytest.fixture
def browser(live_server):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        # A developer without chromium still runs everything else; under CI (STRICT_SKIPS=1) this
        # skip is a failure (tests/conftest.py).
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Close the connection the test opened while Playwright ran, or the test database could
        # not be dropped at the end of the session.
        from django.db import connections

        connections.close_all()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
