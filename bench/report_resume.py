"""BENCHMARKS.md's "requests after kill -9 / clean run" rows and section (bench.kill_resume)."""

from __future__ import annotations

from typing import Any

from bench.report import FAIL, PASS, code, table

TARGET = 1.001


def _passes(v: dict[str, Any]) -> bool:
    """At most the one request in flight repeated per kill, every proposal mirrored."""
    return bool(v["complete"]) and v["max_extra"] <= 1 and all(k["killed"] for k in v["kills"])


def summary_rows(r: dict[str, Any]) -> list[list[Any]]:
    """One row per vendor: the worst of its kills."""
    d = r.get("resume")
    if not d:
        return []
    if not d.get("vendors"):
        return [["requests after kill -9 / clean run", f"<= {TARGET}", "the run failed", FAIL,
                 code(d["command"])]]
    rows = []
    for v in d["vendors"]:
        rows.append([f"requests after kill -9 / clean run, {v['vendor']}",
                     f"<= clean + 1 per kill (ratio target <= {TARGET})",
                     f"{v['worst_ratio']:.4f} (+{v['max_extra']} of {v['clean']['requests']:,}"
                     f", worst of {len(v['kills'])} kills)",
                     PASS if _passes(v) else FAIL, code(d["command"])])
    return rows


def section(r: dict[str, Any]) -> str:
    d = r["resume"]
    lines = [
        "## Requests after kill -9",
        "",
        "Each vendor's sandbox is backfilled by a real `syncd backfill` subprocess, once "
        "cleanly, then (from a fresh mirror) killed with SIGKILL after 25, 50 and 75 % of the "
        "clean run's requests and run again to the end. *requests* are what the sandbox saw "
        "for the killed run and its rerun together (token requests apart); every detail "
        "fetched commits before the next request, so a kill repeats at most the request in "
        "flight. Where a clean run is under 1,000 requests (large pages, no detail calls) "
        f"that one request is more than the {TARGET} ratio target allows: the bound that "
        f"counts is clean + 1. Command: {code(d['command'])}.",
        "",
    ]
    if not d.get("vendors"):
        return "\n".join([*lines, "The run failed (see bench/.work/logs/resume.err)."])
    rows = []
    for v in d["vendors"]:
        for k in v["kills"]:
            rows.append([v["vendor"], v["proposals"], f"{v['clean']['requests']:,}",
                         f"{int(100 * k['share'])} % (after {k['killed_after']})",
                         f"{k['requests']:,}", f"+{k['extra']}", f"{k['ratio']:.4f}",
                         k["token_requests"], f"{k['mirrored']} / {k['expected']}"])
    lines.append(table(["vendor", "proposals", "clean run", "killed at", "killed + rerun",
                        "extra", "ratio", "token requests", "mirrored"], rows))
    return "\n".join(lines)
