"""Save a PNG of each console page to docs/screenshots/ (Playwright driving Debian's chromium).

    .venv/bin/python scripts/screenshots.py [--base-url http://127.0.0.1:8000] [--username demo]
                                            [--password demo-password] [--out docs/screenshots]

Needs a running server with data (`make run` loads the demo). Never downloads a browser: it uses
the system chromium (override with CHROMIUM=/path/to/chromium).
"""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

BASE_DIR = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--out", default=str(BASE_DIR / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.base_url.rstrip("/")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS
        )
        # The narrowest screen the console is made for: every list fits it without sideways scroll.
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")

        def shot(name: str) -> None:
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"saved {path.relative_to(BASE_DIR) if path.is_relative_to(BASE_DIR) else path}")

        def set_language(code: str) -> None:
            page.locator(f"form.lang-switch button[value='{code}']").click()
            page.wait_for_load_state()

        page.goto(f"{base}/login/")
        page.fill("#id_username", args.username)
        page.fill("#id_password", args.password)
        page.click("button[type=submit].default")
        page.wait_for_url(f"{base}/status/**")
        set_language("en")

        # A week of traffic reads better than the default 24 hours, which may be quiet in a demo:
        # the "7 days" preset beside the period fields.
        page.goto(f"{base}/status/")
        page.click("#changelist-filter button[name=preset][value='7d']")
        page.wait_for_load_state()
        shot("01-status-list")
        status_url = page.url

        failed = page.locator("tr[data-status='send_failed'] td a, tr[data-status='processing_failed'] td a")
        first = failed.first if failed.count() else page.locator("table.result-list tbody td a").first
        if first.count():
            first.click()
            page.wait_for_load_state()
            shot("02-message-detail")
            page.locator("[data-testid=thread-link]").click()
            page.wait_for_load_state()
            shot("03-number-thread")
        else:
            print("no messages in the last week: skipped the message and thread pages", file=sys.stderr)

        page.goto(f"{base}/intercepts/")
        shot("04-intercepts")
        delete = page.locator("a.deletelink")
        if delete.count():
            delete.first.click()
            page.wait_for_load_state()
            shot("05-intercept-delete-confirmation")
        else:
            print("no deletable intercept: skipped the confirmation page", file=sys.stderr)

        page.goto(f"{base}/replies/?" + urlencode({"preset": "7d"}))
        shot("06-replies")

        too_far = (dt.datetime.now() - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M")
        page.goto(f"{base}/status/?" + urlencode({"requested_from": too_far}))
        shot("07-status-31-day-error")

        page.goto(status_url)
        set_language("ja")
        shot("08-status-list-ja")
        set_language("en")

        page.goto(f"{base}/unsubscribes/")
        shot("09-unsubscribes")
        remove = page.locator("table.result-list a.deletelink")
        if remove.count():
            remove.first.click()
            page.wait_for_load_state()
            shot("10-unsubscribe-remove")
        else:
            print("no unsubscribed number: skipped the removal page", file=sys.stderr)

        page.goto(f"{base}/intercepts/")
        page.locator("th.select input[data-select-all]").check()
        if page.locator("[data-testid=delete-selected]").count():
            page.click("[data-testid=delete-selected]")
            page.wait_for_load_state()
            shot("11-intercepts-bulk-delete")

        page.goto(f"{base}/status/")
        page.click(".column-chooser summary")
        shot("12-column-chooser")

        page.goto(f"{base}/no-such-page/")
        shot("13-not-found")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
