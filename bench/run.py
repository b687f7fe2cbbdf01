"""`make bench`: run every benchmark (issues 6, 13 and 16) and rewrite BENCHMARKS.md.

Each figure runs in its own process (so peak RSS is that figure's own) and prints JSON;
this module collects them and renders the tables with `bench.report`.

    .venv/bin/python -m bench.run --output BENCHMARKS.md           # what `make bench` runs
    .venv/bin/python -m bench.run --quick --output /tmp/bench.md   # small sizes, ~3 min
    .venv/bin/python -m bench.run --full-size                      # ignore SIZE_CAP (empty now)
    .venv/bin/python -m bench.run --skip backfill ... --keep bench/.work/results.json
                                         # rerun some parts, keep the others' figures
    .venv/bin/python -m bench.run --render bench/.work/results.json  # the report text only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.backfill import FULL
from bench.common import WORK, command, log, machine, pg_available
from syncd.vendors import registered_vendors

# Proposals per vendor when a sandbox cannot serve the size in reasonable time
# (`--full-size` lifts any cap). None now: every sandbox answers a page in time proportional
# to the page (StrawBlond indexes its elements by offer, Automa copies only the page it
# serves), so the default run backfills every vendor at the full size.
SIZE_CAP: dict[str, int] = {}
# Sandbox readings benchmarked beside a vendor's default: the vendor is silent and syncd
# must be right (and at the lower bound) under each (`--sandbox NAME=VALUE` of bench.backfill).
VARIANTS: dict[str, list[tuple[str, list[str]]]] = {
    "strawblond": [("trashed list includes live", ["--sandbox", "trashed_includes_live=true"])],
}
QUICK = {"proposals": 1000, "pipeline_items": (20_000, 50_000), "reconcile_rows": (2_000, 20_000)}
ROOT = Path(__file__).resolve().parents[1]
DEFAULT = {"pipeline_items": (50_000, 200_000), "reconcile_rows": (10_000, 100_000)}


def figure(module: str, *args: str, name: str) -> dict[str, Any] | list[Any] | None:
    """Run `python -m module args` and return the JSON it printed (None if it failed)."""
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log(f"bench: {command(module, *args)}")
    with open(logs / f"{name}.err", "w") as err:
        ran = subprocess.run([sys.executable, "-m", module, *args], stdout=subprocess.PIPE,
                             stderr=err, text=True, cwd=ROOT)
    log(f"bench:   {time.perf_counter() - started:.0f} s, exit {ran.returncode}")
    if ran.returncode != 0 or not ran.stdout.strip():
        return None
    return json.loads(ran.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def backfills(quick: bool, full_size: bool) -> list[dict[str, Any]]:
    out = []
    for vendor in registered_vendors():
        proposals = QUICK["proposals"] if quick else FULL["proposals"]
        if not full_size and not quick and vendor in SIZE_CAP:
            proposals = min(proposals, SIZE_CAP[vendor])
        args = ["--vendor", vendor]
        if proposals != FULL["proposals"]:
            args += ["--proposals", str(proposals)]
        for label, extra in [("", []), *VARIANTS.get(vendor, [])]:
            name = f"backfill-{vendor}" + (f"-{label.replace(' ', '-')}" if label else "")
            got = figure("bench.backfill", *args, *extra, name=name)
            entry: dict[str, Any] = {
                "command": command("bench.backfill", *args, *extra),
                "capped": proposals < FULL["proposals"] and not quick}
            merged = {**entry, **(got or {"failed": True})}  # type: ignore[dict-item]
            merged["vendor"] = f"{vendor} ({label})" if label else vendor
            out.append(merged)
    return out


def pipelines(sizes: tuple[int, ...], postgres: bool) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for items in sizes:  # record first, in its own process: its peak RSS is not the replay's
        figure("bench.pipeline", "--items", str(items), "--record-only",
               name=f"pipeline-record-{items}")
    for items in sizes:
        for db in ("sqlite", "postgresql") if postgres else ("sqlite",):
            if db == "postgresql" and items != sizes[-1]:
                continue
            args = ["--items", str(items), "--db", db]
            got = figure("bench.pipeline", *args, name=f"pipeline-{db}-{items}")
            runs.append({"command": command("bench.pipeline", *args), "items_wanted": items,
                         "db": db, **(got or {"failed": True})})  # type: ignore[dict-item]
    args = ["--items", str(sizes[-1]), "--stages"]
    stages = figure("bench.pipeline", *args, name="pipeline-stages")
    floor_args = ["--items", str(sizes[-1]), "--floor"]
    floor = figure("bench.pipeline", *floor_args, name="pipeline-floor")
    return {"runs": runs, "stages": stages, "stages_command": command("bench.pipeline", *args),
            "floor": floor, "floor_command": command("bench.pipeline", *floor_args)}


def reconciles(rows: tuple[int, ...], postgres: bool) -> list[dict[str, Any]]:
    out = []
    for count in rows:
        for db in ("sqlite", "postgresql") if postgres else ("sqlite",):
            if db == "postgresql" and count != rows[-1]:
                continue
            args = ["--rows", str(count), "--db", db]
            got = figure("bench.reconcile", *args, name=f"reconcile-{db}-{count}")
            out.append({"command": command("bench.reconcile", *args), "rows": count, "db": db,
                        **(got or {"failed": True})})  # type: ignore[dict-item]
    return out


PARTS = ("backfill", "pipeline", "reconcile", "push", "dlt", "drift", "resume", "latency",
         "scale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="small sizes (~3 minutes)")
    parser.add_argument("--full-size", action="store_true",
                        help="the issue's sizes for every vendor, ignoring SIZE_CAP")
    parser.add_argument("--skip", action="append", default=[],
                        choices=PARTS)
    parser.add_argument("--json", default=str(WORK / "results.json"),
                        help="also keep the raw results here")
    parser.add_argument("--keep", metavar="JSON",
                        help="start from an earlier run's raw results: the parts skipped now "
                             "keep their figures (run the long parts on a quiet machine)")
    parser.add_argument("--render", metavar="JSON",
                        help="measure nothing: write the report again from a run's raw "
                             "results (after a change to the report's text)")
    args = parser.parse_args()
    if args.render:
        Path(args.output).write_text(report.render(json.loads(Path(args.render).read_text())))
        log(f"bench: wrote {args.output} from {args.render}")
        return
    started = time.perf_counter()
    postgres = pg_available()
    sizes = QUICK if args.quick else DEFAULT
    results: dict[str, Any] = json.loads(Path(args.keep).read_text()) if args.keep else {}
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.keep:  # the kept run's header stays; the parts measured again say when
        parts = [p for p in PARTS if p not in args.skip]
        results.setdefault("reruns", []).append({"parts": parts, "started": now})
    else:
        results.update({
            "machine": {**machine(), "load_before": [round(x, 2) for x in os.getloadavg()]},
            "started": now,
            "quick": args.quick, "full_size": args.full_size, "postgres": postgres,
            "size_cap": {} if (args.quick or args.full_size) else SIZE_CAP,
        })
    if "backfill" not in args.skip:
        results["backfill"] = backfills(args.quick, args.full_size)
        # control: the same engine on the connector suite's clock (no working time counted)
        control = ["--vendor", "offorte", "--quick", "--virtual-only"]
        results["backfill_control"] = {"command": command("bench.backfill", *control),
                                       **(figure("bench.backfill", *control,
                                                 name="backfill-control") or {"failed": True})}
    if "pipeline" not in args.skip:
        results["pipeline"] = pipelines(sizes["pipeline_items"], postgres)
    if "reconcile" not in args.skip:
        results["reconcile"] = reconciles(sizes["reconcile_rows"], postgres)
    if "push" not in args.skip:
        results["push"] = {"command": command("bench.push"),
                           "vendors": figure("bench.push", name="push")}
    if "dlt" not in args.skip:
        pages = WORK / "pages"
        recorded = sorted(pages.glob("quickquote-*"), key=lambda p: int(p.name.split("-")[1]))
        dlt_args = ["--pages", os.path.relpath(recorded[-1], ROOT)] if recorded else []
        results["dlt"] = {"command": command("bench.dlt_compare", *dlt_args),
                          **(figure("bench.dlt_compare", *dlt_args, name="dlt") or
                             {"available": False})}
    if "drift" not in args.skip:
        results["drift"] = {"command": command("bench.drift"),
                            "cases": figure("bench.drift", name="drift")}
    if "resume" not in args.skip:
        resume_args = ["--proposals", str(QUICK["proposals"] // 4)] if args.quick else []
        results["resume"] = {"command": command("bench.kill_resume", *resume_args),
                             "vendors": figure("bench.kill_resume", *resume_args,
                                               name="resume")}
    if "latency" not in args.skip:
        latency_args = ["--quick"] if args.quick else []
        results["latency"] = {"command": command("bench.latency", *latency_args),
                              **(figure("bench.latency", *latency_args, name="latency")
                                 or {"phases": None})}
    if "scale" not in args.skip:
        scale_args = ["--quick"] if args.quick else []
        results["scale"] = {"command": command("bench.scale", *scale_args),
                            **(figure("bench.scale", *scale_args, name="scale")
                               or {"failed": True})}  # type: ignore[dict-item]
    seconds = round(time.perf_counter() - started)
    if args.keep:
        results["reruns"][-1]["seconds"] = seconds
    else:
        results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
        results["seconds"] = seconds
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    Path(args.output).write_text(report.render(results))
    log(f"bench: wrote {args.output} in {seconds} s")


if __name__ == "__main__":
    main()
