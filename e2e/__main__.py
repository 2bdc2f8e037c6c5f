"""`python -m e2e --messages N [--faults none,broker-stop,...]`: run the fault harness.

Exit status 0 only when every phase passed its checks; 1 when a check failed; 2 when the
harness could not run (a process would not start, the database could not be created).
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from e2e.checks import FaultReport
from e2e.processes import (
    HARNESS_APPLICATION_NAME,
    PRODUCT_ENV,
    ROOT,
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    Redis,
    Supervisor,
    free_port,
    product_env,
)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/smsconsole_e2e"
ACCOUNTS = ("e2e-alpha", "e2e-beta")
# Set in the re-executed harness: the tree it is a snapshot of, and the run's directory.
SNAPSHOT_OF = "E2E_SNAPSHOT_OF"
RUN_DIR = "E2E_RUN_DIR"
NOT_SNAPSHOTTED = (".git", ".venv", "__pycache__", "*.pyc", ".*_cache", ".hypothesis", "db.sqlite3*")
NOT_SNAPSHOTTED += ("staticfiles", "screenshots", "node_modules")


def log(text: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {text}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from e2e.faults import PHASES

    names = [p.name for p in PHASES]
    parser = argparse.ArgumentParser(prog="python -m e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per phase (default 1000)")
    parser.add_argument(
        "--faults",
        default=",".join(names),
        help=f"comma-separated phases, in order (default all: {','.join(names)})",
    )
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help="PostgreSQL URL; the name must contain e2e"
    )
    parser.add_argument("--seed", default="e2e", help="seed of the carrier's decisions")
    parser.add_argument("--batch", type=int, default=0, help="recipients per API request (default: by size)")
    parser.add_argument(
        "--settle-timeout", type=float, default=0, help="seconds per phase (default: from the lease)"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra platform setting"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database after a passing run")
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="run the working tree itself, not a copy taken at the start (edits reach restarted processes)",
    )
    args = parser.parse_args(argv)
    args.phases = [name.strip() for name in args.faults.split(",") if name.strip()]
    unknown = [name for name in args.phases if name not in names]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.messages < 10:
        parser.error("--messages must be at least 10")
    args.extra_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env takes NAME=VALUE, not {item!r}")
        args.extra_env[name] = value
    return args


def claim_lease_seconds() -> float:
    """The lease a killed worker's claim is held for, as the product computes it now."""
    try:
        from delivery.services.dispatch import claim_lease

        return claim_lease().total_seconds()
    except ImportError:
        from delivery.services import dispatch

        return dispatch.CLAIM_LEASE.total_seconds()


def code_version(tree: Path) -> str:
    """The commit the code is at, and whether the working tree had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}" + (f" + {len(changed)} uncommitted files" if changed else "")


def snapshot_and_reexec(argv: list[str], run_dir: Path) -> None:
    """Copy the tree into the run directory and run the harness from there.

    Every process the run starts or restarts (a worker after its SIGKILL, say) then runs one and
    the same code, whatever is edited in the working tree meanwhile."""
    source = run_dir / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SNAPSHOTTED), symlinks=True)
    os.environ[SNAPSHOT_OF] = f"{ROOT} at {code_version(ROOT)}"
    os.environ[RUN_DIR] = str(run_dir)
    os.chdir(source)
    os.execv(sys.executable, [sys.executable, "-m", "e2e", *argv])


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw_argv)
    run_started = time.monotonic()
    if os.environ.get(RUN_DIR):
        run_dir = Path(os.environ[RUN_DIR])
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="smsconsole-e2e-"))
        if not args.no_snapshot:
            snapshot_and_reexec(raw_argv, run_dir)
    code = os.environ.get(SNAPSHOT_OF) or f"{ROOT} at {code_version(ROOT)} (not a snapshot)"
    redis_port, web_port = free_port(), free_port()
    env = product_env(
        database_url=args.database,
        broker_url=f"redis://127.0.0.1:{redis_port}/0",
        extra=args.extra_env,
    )
    # The harness's own Django: the same settings, its own application name (spared by the fault).
    separator = "&" if "?" in args.database else "?"
    os.environ.update(
        {**env, "DATABASE_URL": f"{args.database}{separator}application_name={HARNESS_APPLICATION_NAME}"}
    )
    from e2e.db import Database, django_setup

    django_setup()
    log(f"logs in {run_dir}; code: {code}")
    from django.conf import settings

    from e2e.carrier import FakeCarrier
    from e2e.checks import check_phase, wait_settled
    from e2e.client import Account, Client
    from e2e.faults import PHASES_BY_NAME, Context
    from e2e.report import details, table, to_json

    channel_timeout = float(settings.SMS_CHANNEL_TIMEOUT_SECONDS)
    lease = claim_lease_seconds()
    settle_timeout = args.settle_timeout or lease + 240
    results = []
    db = Database(url=args.database)
    failed_to_run = False
    with Supervisor() as supervisor:
        try:
            log(f"database {db.name}: recreating and migrating")
            db.recreate()
            supervisor.on_cleanup(db.close)
            db.migrate()
            carrier = FakeCarrier(seed=args.seed, channel_timeout=channel_timeout)
            supervisor.on_cleanup(carrier.close)
            accounts = []
            for slug in ACCOUNTS:
                secret = db.command(
                    "create_channel", slug, "--kind", "http", "--send-url", carrier.send_url(slug)
                )
                db.command("create_account", slug, "--channel", slug)
                key = db.command("create_sms_user", slug, "e2e-client")
                template = db.command(
                    "create_template",
                    slug,
                    "notice",
                    "--type",
                    "notification",
                    "--body",
                    "E2E {{code}}",
                    "--approved",
                )
                carrier.add_channel(slug, secret)
                accounts.append(Account(slug=slug, channel=slug, api_key=key, template_id=int(template)))
            db.close()

            redis = supervisor.add(Redis(port=redis_port, env=env, log_dir=run_dir))
            web = supervisor.add(Gunicorn(port=web_port, env=env, log_dir=run_dir))
            worker = supervisor.add(CeleryWorker(env=env, log_dir=run_dir))
            beat = supervisor.add(CeleryBeat(env=env, log_dir=run_dir))
            redis.start()
            redis.wait_ready()
            for process in (web, worker, beat):
                process.start()
            for process in (web, worker, beat):
                process.wait_ready()
            carrier.start(webhook_base=web.base_url)
            log(
                f"running: gunicorn :{web_port}, worker, beat, redis :{redis_port}, carrier :{carrier.port}; "
                f"channel timeout {channel_timeout:g} s, claim lease {lease:g} s"
            )
        except Exception:
            traceback.print_exc()
            log(f"the harness could not start; logs in {run_dir}")
            return 2

        client = Client(base_url=web.base_url, accounts=accounts)
        ctx = Context(carrier=carrier, worker=worker, redis=redis, web=web, beat=beat, db=db, log=log)
        batch = args.batch or max(10, min(500, args.messages // 40))
        try:
            for position, name in enumerate(args.phases):
                phase = PHASES_BY_NAME[name]
                # The phase's messages carry its tag; a phase run twice gets a second one.
                repeat = args.phases[:position].count(name)
                title = phase.title + (f" #{repeat + 1}" if repeat else "")
                tag = name + (f"-{repeat + 1}" if repeat else "")
                flow = phase.flow_seconds(args.messages)
                log(f"phase {tag}: {args.messages} messages over {flow:.0f} s, {batch} per request")
                phase.prepare(ctx)
                intended = client.plan(tag, args.messages)
                started = time.time()
                submission = client.submit(tag, intended, flow_seconds=flow, batch=batch)
                before = FaultReport()
                ctx.watch(before)
                fault = phase.inject(ctx, submission)
                fault.unexpected += before.unexpected + before.supervised_restarts
                submission.done.wait(timeout=900)
                settle = wait_settled(
                    tag,
                    carrier,
                    submission,
                    timeout=settle_timeout,
                    log=log,
                    watch=lambda fault=fault, phase=phase: ctx.watch(fault, supervised=phase.supervised),
                )
                result = check_phase(
                    tag,
                    carrier=carrier,
                    submission=submission,
                    settle=settle,
                    fault=fault,
                    all_kills=ctx.kills,
                    window=(started, time.time()),
                    channel_timeout=channel_timeout,
                )
                result.phase_seconds = time.time() - started
                results.append((result, title))
                log(
                    f"phase {tag}: {'PASS' if result.passed else 'FAIL'} (settled in {settle.seconds:.0f} s)"
                    + "".join(f"\n    {p}" for p in result.problems)
                )
        except KeyboardInterrupt:
            log("interrupted; cleaning up")
            return 130
        except Exception:
            traceback.print_exc()
            failed_to_run = True
        finally:
            db.close()

    meta = {
        "command": " ".join(["python -m e2e", *raw_argv]),
        "code": code,
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "channel_timeout_seconds": channel_timeout,
        "claim_lease_seconds": lease,
        "settings": {**PRODUCT_ENV, **args.extra_env},
        "run_dir": str(run_dir),
    }
    (run_dir / "report.json").write_text(to_json(results, meta))
    print()
    print(table(results))
    print()
    print(details(results))
    print()
    passed = bool(results) and all(r.passed for r, _ in results) and not failed_to_run
    if failed_to_run or len(results) < len(args.phases):
        print("the harness stopped before every phase ran")
    if passed and not args.keep_db:
        db.drop()
    minutes = (time.monotonic() - run_started) / 60
    log(f"{'PASS' if passed else 'FAIL'} in {minutes:.1f} min; logs and report.json in {run_dir}")
    return 0 if passed else (2 if failed_to_run and not results else 1)


if __name__ == "__main__":
    sys.exit(main())
