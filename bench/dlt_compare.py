"""Figure 7: the same Offorte sandbox data through dlt's rest_api source and through syncd.

dlt 1.31 is installed from PyPI into its own virtualenv, bench/.work/dlt-venv (git-ignored),
and run as a library by `bench/dlt_job.py` in a subprocess; syncd is never imported there.
Both pull one sandbox (2,000 proposals, 1-20 price rows each) over HTTP on 127.0.0.1, twice:
a first run into an empty SQLite file, then a second run with nothing changed. The sandbox
counts the requests. dlt has no rate budget and would sleep real seconds on 429s, so here
the sandbox's limit is lifted for both (requests are counted, not paced).

    .venv/bin/python -m bench.dlt_compare            # installs dlt on first use
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import WORK, log, make_runtime, sqlite_url
from syncd.clock import FakeClock
from syncd.engine.pull import Puller
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import serve

DLT_VERSION = "1.31.0"
VENV = WORK / "dlt-venv"
JOB = Path(__file__).resolve().parent / "dlt_job.py"
SIZES = {"companies": 400, "proposals": 2000, "max_items": 20, "seed": 1}
UNLIMITED = 1_000_000_000


def dlt_python() -> Path | None:
    """The dlt virtualenv's interpreter, creating it (pip, from PyPI) on first use."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", f"import dlt; assert dlt.__version__ == '{DLT_VERSION}'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"installing dlt {DLT_VERSION} into {VENV} (once)")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"dlt[sqlalchemy]=={DLT_VERSION}"], check=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"dlt could not be installed: {exc}")
        return None
    return python if subprocess.run(probe, capture_output=True).returncode == 0 else None


def job(python: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "WARNING", "DLT_TELEMETRY": "false",
           "RUNTIME__DLTHUB_TELEMETRY": "false"}
    ran = subprocess.run([str(python), str(JOB), *args], capture_output=True, text=True,
                         env=env, timeout=1800, cwd=WORK)
    if ran.returncode != 0:
        raise RuntimeError(f"dlt job failed: {ran.stderr[-2000:]}")
    return dict(json.loads(ran.stdout.strip().splitlines()[-1]))


def rest_runs(python: Path) -> dict[str, Any]:
    """dlt twice, then syncd twice, against one served Offorte sandbox."""
    clock = FakeClock()
    sandbox = sandbox_class("offorte")(requests_per_minute=UNLIMITED, clock=clock)
    sandbox.seed_data(**SIZES)
    served = serve(sandbox)
    work = WORK / "dlt-offorte"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    entry = {**sandbox.account_entry("acct"), "requests_per_minute": UNLIMITED}
    out: dict[str, Any] = {"lower_bound": sandbox.lower_bound_requests(), "sizes": SIZES,
                           "list_pages": sandbox.lower_bound_requests() - SIZES["proposals"]}
    try:
        for label in ("first", "unchanged"):
            sandbox.reset_log()
            got = job(python, "rest", "--base-url", entry["base_url"],
                      "--token", entry["auth"]["access_token"],
                      "--db", str(work / "dlt.db"), "--work", str(work / "state"))
            out[f"dlt_{label}"] = {**got, "requests": len(sandbox.requests)}
        runtime = make_runtime(sqlite_url("dlt-compare-syncd"), entry, clock)
        try:
            for label, sweep in (("first", True), ("unchanged", False)):
                sandbox.reset_log()
                result = Puller(runtime, runtime.account("acct")).run(
                    sweep=sweep, kind="backfill" if sweep else "pull")
                out[f"syncd_{label}"] = {"ok": result.ok, "requests": len(sandbox.requests)}
        finally:
            runtime.close()
            runtime.db.dispose()
    finally:
        served.stop()
    return out


def memory_run(python: Path, folder: Path) -> dict[str, Any]:
    work = WORK / "dlt-memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return job(python, "memory", "--pages", str(folder.resolve()), "--db", str(work / "dlt.db"),
               "--work", str(work / "state"))


def run(pages: Path | None = None) -> dict[str, Any]:
    python = dlt_python()
    if python is None:
        return {"available": False}
    out: dict[str, Any] = {"available": True, "version": DLT_VERSION, "rest": rest_runs(python)}
    if pages is not None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            out["memory"] = memory_run(python, pages)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", help="recorded Quick Quote pages for the in-memory load")
    args = parser.parse_args()
    print(json.dumps(run(Path(args.pages) if args.pages else None)))


if __name__ == "__main__":
    main()
