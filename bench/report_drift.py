"""BENCHMARKS.md's "records kept under drift" rows and section (figures from bench.drift)."""

from __future__ import annotations

from typing import Any

from bench.report import FAIL, INFO, PASS, code, table


def _by_vendor(cases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        out.setdefault(case["vendor"], []).append(case)
    return out


def summary_rows(r: dict[str, Any]) -> list[list[Any]]:
    """One row per vendor: the worst share kept over every kind of drift."""
    d = r.get("drift")
    if not d:
        return []
    if not d.get("cases"):
        return [["records kept under drift", "100 %", "the run failed", FAIL, code(d["command"])]]
    rows = []
    for vendor, cases in _by_vendor(d["cases"]).items():
        worst = min(c["kept_share"] or 0 for c in cases)
        held = sum(c["quarantined"] for c in cases)
        remap_requests = sum(c["remap"].get("requests", 0) for c in cases)
        left = sum(c["remap"].get("left_unmapped", 0) for c in cases)
        ok = worst == 1 and held == 0 and remap_requests == 0 and left == 0
        rows.append([f"records kept under drift, {vendor}",
                     "100 %, 0 quarantined; remap fixes mapped words with 0 requests",
                     f"{100 * worst:.1f} % (worst of {len(cases)} kinds), {held} quarantined; "
                     f"remap {remap_requests} requests, {left} rows left unmapped",
                     PASS if ok else FAIL, code(d["command"])])
    return rows


def section(r: dict[str, Any]) -> str:
    d = r["drift"]
    lines = [
        "## Records kept under drift",
        "",
        "Each vendor's sandbox answers in other words (`syncd.sandbox.drift.DriftPlan`, seed "
        "11, each leaf perturbed with probability 0.3): one kind of drift at a time, then all "
        "at once. *kept* is the share of the sandbox's proposals that are live in the mirror "
        "after a backfill; *status NULL* counts proposals whose status word syncd could not "
        "map (kept, with `vendor_status` holding the word). Then every such word is mapped "
        "with an account `status_map` entry and `syncd remap` re-derives the rows from the "
        f"stored raw JSON. Command: {code(d['command'])}.",
        "",
    ]
    if not d.get("cases"):
        return "\n".join([*lines, "The run failed (see bench/.work/logs/drift.err)."])
    rows = []
    for case in d["cases"]:
        notes = case["drift"]
        remap = case["remap"]
        rows.append([
            case["vendor"], case["kind"], case["served"],
            f"{case['kept']} ({100 * (case['kept_share'] or 0):.0f} %)", case["quarantined"],
            case["status_null"],
            ", ".join(f"{k} {v}" for k, v in sorted(notes.items())) or INFO,
            f"{remap.get('words', 0)} words, {remap.get('requests', 0)} requests, "
            f"{remap.get('left_unmapped', 0)} left" if remap.get("words") else INFO,
        ])
    lines.append(table(["vendor", "drift", "proposals", "kept", "quarantined", "status NULL",
                        "drift notes by kind", "remap after status_map"], rows))
    return "\n".join(lines)
