"""Mutation testing of the modules that decide outcomes, with mutmut, on a copy of the tree.

    make mutation                                        # every group below, one after the other
    make mutation MUTATE="delivery/services/retention.py smsconsole/csv_export.py"
    .venv/bin/python scripts/mutation.py --changed-since HEAD~1   # what CI runs: the touched files

Each group (dispatch, receipts, ...) runs on its own fresh copy of the tree (tracked and
untracked-but-not-ignored files) in `.mutation/<group>/` (git-ignored): mutmut writes its mutated
modules under `.mutation/<group>/mutants/` and imports them from there, so nothing in the working
tree is ever changed. mutmut first runs the group's tests once to learn which test calls which
function; each mutant then runs only the tests that cover it, fastest first, stopping at the first
failure. Everything runs on SQLite (no DATABASE_URL), each pytest session on its own copy of one
migrated database (scripts/mutation_plugin.py).

A group's tests are the test files that exercise its modules (TESTS below), not the whole suite:
judged by fewer tests, a mutant can only survive more often, never less, and survivors, which
run every covering test, stay affordable.

The run ends with `mutation score: K killed of N (P%)` and lists every survivor with its diff;
it exits non-zero when the score is under --min-score (default 90). Timeouts count as killed (the
tests noticed: they hung); "no tests" counts as survived. Survivors that change nothing
observable are listed, with why, in docs/testing.md.
"""

import argparse
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / ".mutation"
PLUGIN = "mutation_plugin"  # scripts/mutation_plugin.py: each pytest session gets a copy of one test DB
MUTMUT = Path(sys.executable).parent / "mutmut"

# What is mutated, by group. A path alone mutates every function in it; "path:a,B.c" only the
# function `a` and the method `c` of class `B` (the rest of such a file is not about outcomes).
TARGETS: dict[str, list[str]] = {
    "dispatch": [
        "delivery/services/dispatch/checks.py",
        "delivery/services/dispatch/claim.py",
        "delivery/services/dispatch/handover.py",
        "delivery/services/dispatch/outcomes.py",
        "delivery/services/dispatch/report.py",
        "delivery/services/dispatch/run.py",
    ],
    "receipts": [
        "delivery/services/receipts.py",
        "delivery/services/failures.py",
    ],
    # The selectors' rules (what blocks, what an account may see or delete), not the console's reads
    # for display (histories, actor labels), which the console pages' tests cover.
    "intercepts": [
        "intercepts/services.py",
        "intercepts/selectors.py:blocking_intercepts,intercept_rules_by_code,_ids_that_blocked,_visible,"
        "intercept_list_for,intercept_get_for,intercept_is_customer_deletable,intercept_is_deletable_now,"
        "intercepts_deletable_now",
    ],
    # Attaching replies, unsubscribing and flagging; what dispatch asks (unsubscribed numbers).
    "replies": [
        "replies/services.py:is_unsubscribe,looks_like_optout,reply_fingerprint,replies_ingest,"
        "_messages_by_phone,_answered_message",
        "replies/selectors.py:unsubscribed_pairs,unsubscribe_keywords",
    ],
    "retention": [
        "delivery/services/retention.py",
    ],
    "filters": [
        "smsconsole/filters.py",
        "delivery/filters.py",
        "intercepts/filters.py",
        "replies/filters.py",
    ],
    "csv": [
        "smsconsole/csv_export.py",
    ],
    "signatures": [
        "delivery/channels/base.py:sign,signed_headers,_same,signature_problem",
        "delivery/channels/kannel.py:_token,dlr_token,mo_token,token_matches",
        "delivery/api.py:ChannelWebhookView.post",
        "delivery/kannel_api.py:KannelReplyWebhookView.receive",
    ],
}

# The tests each group is judged by: those that exercise its modules on purpose.
TESTS: dict[str, list[str]] = {
    "dispatch": [
        "tests/delivery/test_dispatch_checks.py",
        "tests/delivery/test_dispatch_claims.py",
        "tests/delivery/test_dispatch_outcomes.py",
        "tests/delivery/test_dispatch_send_log_wording.py",
        "tests/delivery/test_dispatch_faults.py",
        "tests/delivery/test_http_channel.py",
        "tests/delivery/test_send_api.py",
        "tests/kannel/test_kannel_channel.py",
    ],
    "receipts": [
        "tests/delivery/test_receipts.py",
        "tests/delivery/test_webhooks.py",
        "tests/kannel/test_kannel_webhooks.py",
        "tests/intercepts/test_apply.py",
        "tests/replies/test_replies.py",
        "tests/delivery/test_receipt_outcomes.py",
        "tests/intercepts/test_intercept_rules.py",
    ],
    "intercepts": [
        "tests/intercepts",
        "tests/delivery/test_receipts.py",
        "tests/delivery/test_dispatch_checks.py",
        "tests/smsconsole/test_console_access.py",
        "tests/smsconsole/test_console_csv.py",
    ],
    "replies": [
        "tests/replies",
        "tests/delivery/test_dispatch_checks.py",
        "tests/kannel/test_kannel_webhooks.py",
    ],
    "retention": ["tests/delivery/test_retention.py", "tests/delivery/test_retention_rules.py"],
    "filters": [
        "tests/delivery/test_console_status.py",
        "tests/intercepts/test_console_intercepts.py",
        "tests/replies/test_console_replies.py",
        "tests/smsconsole",
    ],
    "csv": [
        "tests/smsconsole/test_console_csv.py",
        "tests/smsconsole/test_console_access.py",
        "tests/smsconsole/test_csv_cells.py",
    ],
    "signatures": [
        "tests/delivery/test_webhook_signatures.py",
        "tests/delivery/test_webhooks.py",
        "tests/kannel/test_kannel_webhooks.py",
        "tests/kannel/test_kannel_reply_answers.py",
    ],
}
OTHER_TESTS = ["tests"]  # a file given on the command line that is in no group

# Never part of a mutation run: the browser and real-Kannel tests (servers and a browser per test:
# seconds each), and the broker tests, which watch sockets of Celery's connection pool: run again in
# the same process (mutmut runs pytest in-process, then forks per mutant) they see the pool of the
# first run. They test smsconsole/queueing.py, which is not mutated.
ALWAYS_EXCLUDED = [
    "-m",
    "not browser and not kannel",
    "--ignore=tests/browser",
    "--ignore=tests/kannel/test_kannel_e2e.py",
    "--deselect=tests/delivery/test_dispatch_faults.py::test_a_hung_broker_does_not_hold_up_the_send_api",
    "--deselect=tests/delivery/test_dispatch_faults.py::test_a_hung_broker_does_not_hold_up_a_webhook",
    "--deselect=tests/delivery/test_dispatch_faults.py::test_queueing_reaches_a_live_broker",
]

# Apps and files the suite needs beside the Python packages.
SOURCE_PATHS = ["smsconsole", "delivery", "intercepts", "replies", "callbacks", "benchmarks"]
ALSO_COPY = ["templates", "locale", "static", "deploy", "manage.py", f"{PLUGIN}.py"]

# Every mutant's pytest session. The unraisable-exception plugin runs gc.collect() at the end of
# each one: 0.24 s a mutant.
PYTEST_ARGS = ["-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", PLUGIN, "--reuse-db"]

KILLED, SURVIVED, TIMEOUT, NO_TESTS = "killed", "survived", "timeout", "no tests"


def status_of(exit_code) -> str:
    if exit_code in (1, 3):
        return KILLED
    if exit_code in (36, -24, 24, 152, 255):
        return TIMEOUT
    if exit_code in (5, 33):
        return NO_TESTS
    if exit_code == 0:
        return SURVIVED
    return f"not run (exit {exit_code})"


def module_of(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def parse_target(target: str) -> tuple[str, list[str]]:
    """(path, mutant-name globs) of one TARGETS entry."""
    path, _, functions = target.partition(":")
    module = module_of(path)
    if not functions:
        return path, [f"{module}.*"]
    globs = []
    for name in functions.split(","):
        cls, _, method = name.rpartition(".")
        mangled = f"x\u01c1{cls}\u01c1{method}" if cls else f"x_{method}"
        globs.append(f"{module}.{mangled}__mutmut_*")
    return path, globs


def selected_targets(paths: list[str] | None) -> dict[str, list[str]]:
    """The TARGETS entries (by group) for `paths`, or all of them; a path in no group is mutated whole."""
    if paths is None:
        return TARGETS
    wanted = {p.strip().removeprefix("./") for p in paths if p.strip()}
    chosen: dict[str, list[str]] = {}
    for group, targets in TARGETS.items():
        for target in targets:
            path = target.partition(":")[0]
            if path in wanted:
                chosen.setdefault(group, []).append(target)
    for path in sorted(wanted - {t.partition(":")[0] for ts in TARGETS.values() for t in ts}):
        if not path.endswith(".py") or not (ROOT / path).is_file():
            raise SystemExit(f"mutation: {path} is not a Python file of this repository")
        chosen.setdefault("other", []).append(path)
    return chosen


def changed_target_paths(since: str) -> list[str]:
    """Target files changed between `since` and the working tree (read-only git)."""
    all_paths = {t.partition(":")[0] for targets in TARGETS.values() for t in targets}
    result = subprocess.run(
        ["git", "diff", "--name-only", since, "--"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return sorted(all_paths & set(result.stdout.split()))


def copy_tree(workdir: Path, source: Path | None) -> None:
    """A fresh copy of the working tree's files in `workdir` (never the other way round).

    `source`: another directory to copy instead (a snapshot of the tree), without its .venv."""
    if workdir.exists():
        shutil.rmtree(workdir)
    if source is not None:
        ignore = shutil.ignore_patterns(".git", ".venv", ".mutation", "mutants", "__pycache__", "*.sqlite3")
        shutil.copytree(source, workdir, ignore=ignore)
    else:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        for raw in filter(None, listed):
            name = os.fsdecode(raw)
            if not (ROOT / name).is_file():  # deleted in the working tree, still in the index
                continue
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, workdir / name)
    shutil.copy2(ROOT / "scripts" / f"{PLUGIN}.py", workdir / f"{PLUGIN}.py")


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_config(workdir: Path, paths: list[str], tests: list[str]) -> None:
    """mutmut reads [tool.mutmut] from the pyproject.toml of its directory: the copy's, not ours."""
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {toml_list(SOURCE_PATHS)}",
            f"only_mutate = {toml_list(paths)}",
            f"also_copy = {toml_list(ALSO_COPY)}",
            f"pytest_add_cli_args_test_selection = {toml_list(tests + ALWAYS_EXCLUDED)}",
            f"pytest_add_cli_args = {toml_list(PYTEST_ARGS)}",
            "use_git_change_detection = false",
            # Dependency tracking serves mutmut's incremental reruns; every run here starts afresh.
            "track_dependencies = false",
            "",
        ]
    )
    with open(workdir / "pyproject.toml", "a") as f:
        f.write(config)


def make_template_db(workdir: Path, env: dict) -> Path:
    """Migrate the database each test session of the run starts from a copy of (mutation_plugin)."""
    template = workdir / "template.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=workdir,
        env={**env, "DATABASE_URL": f"sqlite:///{template}"},
        check=True,
    )
    return template


def load_results(workdir: Path, path: str) -> tuple[dict, dict]:
    meta = workdir / "mutants" / (path + ".meta")
    if not meta.exists():
        return {}, {}
    data = json.loads(meta.read_text())
    return data["exit_code_by_key"], data.get("durations_by_key", {})


def mutant_diff(workdir: Path, name: str) -> str:
    result = subprocess.run([str(MUTMUT), "show", name], cwd=workdir, capture_output=True, text=True)
    # Drop the header lines (the name, ---/+++): the hunk says it all.
    return "\n".join(
        line for line in result.stdout.splitlines() if not line.startswith(("# ", "--- ", "+++ "))
    )


def run_group(group: str, targets: list[str], args, env: dict) -> dict:
    """Mutate one group on its own copy; returns its rows, survivors and wall time."""
    workdir = args.workdir / group
    parsed = [parse_target(t) for t in targets]
    paths = [path for path, _ in parsed]
    before = {p: (ROOT / p).read_bytes() for p in paths}
    started = time.monotonic()
    copy_tree(workdir, args.source)
    write_config(workdir, paths, TESTS.get(group, OTHER_TESTS))
    group_env = {**env, "MUTATION_TEMPLATE_DB": str(make_template_db(workdir, env))}
    log_path = workdir / "mutmut.log"
    print(f"--- {group}: {' '.join(paths)} (log: {log_path})", flush=True)
    command = [
        str(MUTMUT),
        "run",
        "--max-children",
        str(args.max_children),
        *[g for _, gs in parsed for g in gs],
    ]
    timed_out = False
    with open(log_path, "w") as log:
        # Its own process group, so that running out of time stops mutmut and every test it forked.
        process = subprocess.Popen(
            command, cwd=workdir, env=group_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=args.deadline - time.monotonic() if args.deadline else None)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            timed_out, returncode = True, 0
    wall = time.monotonic() - started
    if timed_out:
        print(f"    {group}: out of time after {wall / 60:.1f} min; the mutants not yet run are not counted")
    if returncode != 0:
        print("\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
        raise SystemExit(f"mutation: mutmut failed on {group} (exit {returncode}); see {log_path}")
    if args.source is None and any((ROOT / p).read_bytes() != before[p] for p in paths):
        print(f"mutation: a file of {group} changed in the working tree during the run: results are stale")

    rows, survivors = [], []
    for path, globs in parsed:
        codes, durations = load_results(workdir, path)
        # A mutant not run (out of time) has no exit code yet: it is left out, not counted as a survivor.
        names = sorted(
            n for n, c in codes.items() if c is not None and any(fnmatch.fnmatchcase(n, g) for g in globs)
        )
        killed = sum(1 for n in names if status_of(codes[n]) in (KILLED, TIMEOUT))
        rows.append((path, killed, len(names), sum(durations.get(n, 0.0) for n in names)))
        survivors += [(n, status_of(codes[n])) for n in names if status_of(codes[n]) not in (KILLED, TIMEOUT)]
    killed, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    score = f"{100 * killed / total:.1f}%" if total else "-"
    print(f"    {group}: {killed} killed of {total} ({score}) in {wall / 60:.1f} min", flush=True)
    return {"group": group, "rows": rows, "survivors": survivors, "wall": wall, "workdir": workdir}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", help="files to mutate (default: every file in TARGETS)")
    parser.add_argument("--changed-since", metavar="REV", help="mutate the target files changed since REV")
    parser.add_argument("--groups", help="comma-separated groups to run (default: all)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument(
        "--budget-minutes",
        type=float,
        help="stop after this long (CI); what was not run yet is left out of the score, and said so",
    )
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without their diffs")
    parser.add_argument(
        "--source", type=Path, help="mutate a copy of this directory instead of the working tree"
    )
    parser.add_argument(
        "--workdir", type=Path, default=WORKDIR, help="where the copies and mutmut's files go"
    )
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    args.deadline = time.monotonic() + args.budget_minutes * 60 if args.budget_minutes else None

    if args.changed_since:
        paths = changed_target_paths(args.changed_since)
        if not paths:
            print(f"mutation: no mutated module changed since {args.changed_since}; nothing to run")
            return 0
        print(f"mutation: changed since {args.changed_since}: {' '.join(paths)}")
        groups = selected_targets(paths)
    else:
        groups = selected_targets(args.paths or None)
    if args.groups:
        groups = {g: t for g, t in groups.items() if g in args.groups.split(",")}

    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "STRICT_SKIPS")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.monotonic()
    results = []
    for group, targets in groups.items():
        if args.deadline and time.monotonic() >= args.deadline:
            print(f"--- {group}: not run, the time budget is spent (make mutation MUTATE=... runs it)")
            continue
        results.append(run_group(group, targets, args, env))
    wall = time.monotonic() - started

    print()
    print(f"{'group':<11} {'file':<44} {'killed':>6} {'of':>5} {'score':>7} {'mutant s':>9} {'wall':>8}")
    for result in results:
        for i, (path, killed, total, seconds) in enumerate(result["rows"]):
            score = f"{100 * killed / total:.1f}%" if total else "-"
            group_wall = f"{result['wall'] / 60:.1f} min" if i == 0 else ""
            name = result["group"]
            print(f"{name:<11} {path:<44} {killed:>6} {total:>5} {score:>7} {seconds:>9.0f} {group_wall:>8}")
    survivors = [(r, name, status) for r in results for name, status in r["survivors"]]
    if survivors:
        print(f"\nsurvivors ({len(survivors)}):")
        for result, name, status in survivors:
            print(f"  {name}  [{status}]")
            if not args.no_diffs:
                for line in mutant_diff(result["workdir"], name).splitlines():
                    print(f"      {line}")
    total_killed = sum(r[1] for result in results for r in result["rows"])
    total = sum(r[2] for result in results for r in result["rows"])
    score = 100 * total_killed / total if total else 100.0
    print(f"\nwall time: {wall / 60:.1f} min, {args.max_children} mutants at a time")
    print("('mutant s': the mutants' run times added up)")
    print(f"mutation score: {total_killed} killed of {total} ({score:.1f}%)")
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
