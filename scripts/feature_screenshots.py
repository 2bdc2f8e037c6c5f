"""Screenshots of the dashboard, the number check and the status callback pages, on a demo of their own.

    .venv/bin/python scripts/feature_screenshots.py [--out docs/screenshots] [--workdir DIR]
                                                    [--messages 20000] [--fonts-dir DIR]

Unlike `scripts/screenshots.py` (which needs `make run` serving), this sets up everything itself and
touches no one's database:

1. a fresh SQLite database in `--workdir` (unless given, a temporary directory deleted at the end;
   given again, the demo already in it is reused), migrated and loaded with `manage.py load_demo`
   (the real pipeline);
2. a local callback receiver (http.server on 127.0.0.1) that answers 500 to its 2nd and 3rd
   requests and 200 otherwise, and checks every `X-Signature` with `verify()` below (the README's
   snippet);
3. `manage.py runserver 127.0.0.1:<free port> --noreload` with `SMS_CALLBACK_ALLOW_PRIVATE=1`: its
   embedded beat runs `deliver-callbacks` every 10 s and the latency rollup at start;
4. Playwright driving the system chromium (`/usr/bin/chromium`, or CHROMIUM=…) as `demo`: it sets
   ACME Shop's callback URL to the receiver, sends a test event, submits a few messages through the
   send API (their status changes become callback events), waits for the deliveries and retries,
   replays the last quarter hour's events, checks a few numbers on `/check/`, and saves 1280 px
   wide PNGs `20-…` to `24-…` to `--out` (full page; the Japanese dashboard only its top). It
   prints a pre-send check API request and its answer, as in the README.

The Japanese dashboard needs a CJK font (Debian's `fonts-noto-cjk`); without one installed, unpack
one for chromium alone and pass it: `apt-get download fonts-ipafont-gothic && dpkg -x
fonts-ipafont-gothic_*.deb /tmp/cjk && … --fonts-dir /tmp/cjk` (otherwise that picture is skipped).
Takes about two minutes; exits 1 if the receiver got no request or a signature did not verify.
"""

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# The receiver's answers, by request number (1-based): a short outage, so the log shows retries.
FAILING_REQUESTS = {2, 3}
LOOKUP = """
import json
from django.utils import timezone
from delivery.models import Template
from intercepts.models import Intercept
from replies.models import Unsubscribe
from smsconsole.models import Account
acme = Account.objects.get(slug="acme-shop")
blocking = Intercept.objects.blocking(account_id=acme.pk, at=timezone.now()).order_by("expires_at")
print(json.dumps({
    "templates": {t.name: t.pk for t in Template.objects.filter(account=acme)},
    "global": list(blocking.filter(scope="global").values_list("phone", flat=True)[:2]),
    "local": list(blocking.filter(scope="local").values_list("phone", flat=True)[:1]),
    "unsubscribed": list(Unsubscribe.objects.filter(account=acme).values_list("phone", flat=True)[:1]),
}))
"""


def verify(body: bytes, header: str, secret: str, tolerance: int = 300) -> bool:
    """The README's receiver check: X-Signature: t=<unix>,sha256=<hex HMAC-SHA256 of "<t>." + body>."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or abs(time.time() - int(fields["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("sha256", ""))


class Receiver:
    """A customer's callback endpoint on 127.0.0.1: logs each POST, fails FAILING_REQUESTS."""

    def __init__(self):
        self.requests: list[dict] = []
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                number = len(receiver.requests) + 1
                document = json.loads(body)
                events = document.get("events", [document])
                is_signed = verify(body, self.headers.get("X-Signature", ""), receiver.secret)
                code = 500 if number in FAILING_REQUESTS else 200
                receiver.requests.append({"code": code, "events": len(events), "signed": is_signed})
                print(
                    f"  receiver: request {number}, {len(events)} event(s), signature ok: {is_signed}, {code}"
                )
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if code == 200 else b'{"error": "database is down"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms/callbacks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def succeeded(self) -> int:
        return sum(1 for r in self.requests if r["code"] == 200)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def wait_for(condition, *, timeout: float, what: str, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    print(f"  gave up waiting for {what}", file=sys.stderr)
    return False


def api(base: str, key: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BASE_DIR / "docs" / "screenshots"))
    parser.add_argument("--workdir", help="where the database goes (default: a new temporary directory)")
    parser.add_argument("--messages", type=int, default=20_000, help="the demo's size (load_demo --messages)")
    parser.add_argument(
        "--fonts-dir", help="more fonts for chromium alone (e.g. an unpacked CJK font package)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="feature-screenshots-"))
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "CACHE_URL", "DATABASE_URL", "SMS_EMBEDDED_BEAT"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        DEBUG="1",
        SMS_CALLBACK_ALLOW_PRIVATE="1",
        SMS_EXPORT_DIR=str(workdir / "exports"),
        SMS_PUBLIC_BASE_URL=base,
        PYTHONUNBUFFERED="1",
    )
    print(f"database: {workdir / 'db.sqlite3'}")
    manage(env, "migrate", "--verbosity", "0")
    print(
        manage(
            env, "load_demo", "--messages", str(args.messages), "--host", f"127.0.0.1:{port}"
        ).splitlines()[0]
    )
    world = json.loads(manage(env, "shell", "-c", LOOKUP).strip().splitlines()[-1])
    key = (
        manage(env, "create_sms_user", "acme-shop", f"screenshots-{int(time.time())}")
        .strip()
        .splitlines()[-1]
    )

    # The server alone defaults to English: the delivery log's error texts are written in the
    # language active where the delivery runs (the embedded beat thread has no request).
    (workdir / "screenshot_settings.py").write_text(
        'from smsconsole.settings import *  # noqa\nLANGUAGE_CODE = "en"\n'
    )
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "screenshot_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir), str(BASE_DIR), env.get("PYTHONPATH")])),
    }
    receiver = Receiver()
    server_log = open(workdir / "runserver.log", "w")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=BASE_DIR,
        env=server_env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _answers(f"{base}/login/"), timeout=60, what="the server")
        return _shoot(
            base=base,
            out=out,
            key=key,
            world=world,
            receiver=receiver,
            font_env=_font_env(args.fonts_dir, workdir),
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        receiver.server.shutdown()
        server_log.close()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _font_env(fonts_dir: str | None, workdir: Path) -> dict:
    """The environment that gives chromium (and fc-list) the fonts of `fonts_dir` as well as the system's."""
    if not fonts_dir:
        return {}
    config = workdir / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{Path(fonts_dir).resolve()}</dir>\n  <cachedir>{workdir / 'fontconfig-cache'}</cachedir>\n"
        "</fontconfig>\n"
    )
    return {"FONTCONFIG_FILE": str(config)}


def _has_japanese_font(font_env: dict) -> bool:
    try:
        found = subprocess.run(
            ["fc-list", ":lang=ja"], capture_output=True, text=True, env={**os.environ, **font_env}
        )
    except OSError:
        return False
    return bool(found.stdout.strip())


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def _shoot(*, base: str, out: Path, key: str, world: dict, receiver: Receiver, font_env: dict) -> int:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, **font_env},
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")

        def shot(name: str, *, height: int | None = None) -> None:
            """The full page, or its top `height` pixels."""
            path = out / f"{name}.png"
            if height is None:
                page.screenshot(path=str(path), full_page=True)
            else:
                page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1280, "height": height})
            size = path.stat().st_size // 1024
            print(
                f"saved {path.relative_to(BASE_DIR) if path.is_relative_to(BASE_DIR) else path} ({size} KB)"
            )

        def set_language(code: str) -> None:
            page.locator(f"form.lang-switch button[value='{code}']").click()
            page.wait_for_load_state()

        page.goto(f"{base}/login/")
        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo-password")
        page.click("button[type=submit].default")
        page.wait_for_url(f"{base}/status/**")
        set_language("en")

        # Callbacks: the endpoint first, so the status changes below become events.
        page.goto(f"{base}/settings/callbacks/")
        page.fill("#id_url", receiver.url)
        for box in page.locator("input[name=events]").all():
            box.check()
        page.click(".callback-settings form button[type=submit].default")
        page.wait_for_load_state()
        if not page.locator("[data-testid=callback-secret]").count():
            # A reused --workdir: the endpoint existed, so saving showed no secret; a new one shows.
            page.locator("button", has_text="Rotate the signing secret").click()
            page.wait_for_load_state()
        receiver.secret = page.locator("[data-testid=callback-secret] code").inner_text().strip()
        page.goto(f"{base}/settings/callbacks/")
        page.locator("button", has_text="Send a test event").click()
        page.wait_for_load_state()

        templates = world["templates"]
        fresh = ["090-3141-5926", "080-2718-2818", "070-1414-2135", "090-1732-0508", "080-5772-1566"]
        status, answer = api(
            base,
            key,
            "/api/v1/messages",
            {
                "template": templates["login-otp"],
                "tag": "callbacks-demo",
                "messages": [
                    {"to": number, "vars": {"code": str(4821 + n)}} for n, number in enumerate(fresh)
                ]
                + [{"to": "090-8888-7530", "vars": {"code": "9001"}}],  # …530: fails (busy)
            },
        )
        print(f"send API: {status} {answer}")

        check_request = {
            "template": templates["login-otp"],
            "numbers": [world["global"][0], world["unsubscribed"][0], "090-3141-5926", "080-1111-2222"],
            "vars": {"code": "1234"},
        }
        status, answer = api(base, key, "/api/v1/messages/check", check_request)
        print("pre-send check API request:", json.dumps(check_request, ensure_ascii=False))
        print(f"pre-send check API answer ({status}):", json.dumps(answer, ensure_ascii=False))

        print("waiting for callback deliveries (the receiver fails requests 2 and 3; backoff 10 s, 20 s)…")
        wait_for(
            lambda: len(receiver.requests) > max(FAILING_REQUESTS) and receiver.requests[-1]["code"] == 200,
            timeout=120,
            what="callback deliveries",
            step=2,
        )

        # Send the last quarter hour's events again (the settings page's replay form), as a
        # customer whose database lost them would.
        page.goto(f"{base}/settings/callbacks/")
        now = dt.datetime.now(ZoneInfo("Asia/Tokyo"))  # ACME Shop's zone: the form reads times in it
        page.fill("#id_start", (now - dt.timedelta(minutes=15)).strftime("%Y-%m-%d %H:%M"))
        page.fill("#id_end", (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"))
        before = len(receiver.requests)
        page.locator("button", has_text="Send these events again").click()
        page.wait_for_load_state()
        wait_for(lambda: len(receiver.requests) > before, timeout=40, what="the replay", step=2)

        page.goto(f"{base}/settings/callbacks/")
        shot("20-callback-settings")
        page.goto(f"{base}/settings/callbacks/log/")
        shot("21-callback-log")

        page.goto(f"{base}/check/")
        page.select_option("#id_template", str(templates["login-otp"]))
        numbers = [
            *world["global"],
            *world["local"],
            *world["unsubscribed"],
            "090-3141-5926",  # sent a minute ago: the frequency rule may stop it
            "080-1111-2222",
            "+81 70 2222 3333",
            "080-1111-2222",
            "12345",
        ]
        page.fill("#id_numbers", "\n".join(numbers))
        page.fill("#id_variables", "code=1234")
        page.locator("form.number-check-form button[type=submit]").click()
        page.wait_for_load_state()
        shot("22-number-check")

        page.goto(f"{base}/dashboard/")
        page.wait_for_load_state("load")
        page.wait_for_timeout(1500)  # Chart.js animates its first draw
        shot("23-dashboard")
        if _has_japanese_font(font_env):
            set_language("ja")
            page.wait_for_timeout(1500)
            # The top (charts, the day table's first rows): the whole page again would be 400 KB.
            shot("24-dashboard-ja", height=1400)
            set_language("en")
        else:
            print("no Japanese font (fc-list :lang=ja): skipped 24-dashboard-ja", file=sys.stderr)
        browser.close()

    signed = all(r["signed"] for r in receiver.requests)
    print(
        f"receiver: {len(receiver.requests)} requests, {receiver.succeeded()} answered 200, "
        f"all signatures ok: {signed}"
    )
    return 0 if signed and receiver.requests else 1


if __name__ == "__main__":
    sys.exit(main())
