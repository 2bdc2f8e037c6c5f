"""The table the harness prints: fault -> messages -> lost -> duplicated -> latency, and the why."""

import json
from dataclasses import asdict

from e2e.checks import PhaseResult

COLUMNS = [
    ("fault", "<"),
    ("messages", ">"),
    ("lost", ">"),
    ("unknown", ">"),
    ("duplicated", ">"),
    ("at-least-once", ">"),
    ("receipts 2xx", ">"),
    ("5xx", ">"),
    ("p50", ">"),
    ("p95", ">"),
    ("submit p95", ">"),
    ("result", "<"),
]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def row_of(result: PhaseResult, title: str) -> list[str]:
    return [
        title,
        str(result.messages),
        str(result.lost),
        str(result.unknown),
        str(result.duplicated),
        str(result.at_least_once),
        str(result.receipts_acked),
        str(result.http_5xx),
        _seconds(result.latency_p50),
        _seconds(result.latency_p95),
        _seconds(result.submit_p95),
        "PASS" if result.passed else "FAIL",
    ]


def table(results: list[tuple[PhaseResult, str]]) -> str:
    rows = [[name for name, _ in COLUMNS]] + [row_of(r, title) for r, title in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.ljust(w) if align == "<" else cell.rjust(w)
                for cell, w, (_, align) in zip(cells, widths, COLUMNS, strict=True)
            )
            + " |"
        )

    separator = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2))
            for w, (_, a) in zip(widths, COLUMNS, strict=True)
        )
        + "|"
    )
    return "\n".join([line(rows[0]), separator] + [line(r) for r in rows[1:]])


def details(results: list[tuple[PhaseResult, str]]) -> str:
    lines = []
    for result, title in results:
        fault = "; ".join(result.fault.notes) or "-"
        extra = (
            f", max submit during the fault {result.submit_max_in_fault:.1f} s"
            if result.submit_max_in_fault is not None
            else ""
        )
        lines.append(
            f"- {title} ({result.phase_seconds:.0f} s): {fault}; stored {result.stored} "
            f"({result.replayed} requests sent twice with their key), "
            f"settled {result.settle_seconds:.0f} s after the last submission"
            f"; carrier: {result.carrier_batches} batches, {result.carrier_503} answered 503, "
            f"{result.carrier_late} answered late; 503s seen by the client and carrier {result.http_503}"
            f", receipts not applied {result.receipts_unapplied}"
            f", effects not exactly once {result.effects_wrong}{extra}"
        )
        for restart in result.fault.supervised_restarts:
            lines.append(f"    restarted by its supervisor, as deployed: {restart}")
        for problem in result.problems:
            lines.append(f"    FAIL: {problem}")
        for example in result.examples:
            lines.append(f"    e.g. {example}")
    return "\n".join(lines)


def to_json(results: list[tuple[PhaseResult, str]], meta: dict) -> str:
    return json.dumps(
        {"meta": meta, "phases": [{**asdict(r), "title": t, "passed": r.passed} for r, t in results]},
        indent=2,
        default=str,
    )
