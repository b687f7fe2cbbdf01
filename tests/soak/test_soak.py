"""The bounded convergence soak `make test` runs (issue 14): real `syncd` processes, killed.

The same model as `make soak` (tests/soak/model.py), over all five sandboxes served on
127.0.0.1, seeded so a failure names the seed that reproduces it: SQLite takes most of the
steps, PostgreSQL the rest; together at least 300 steps and 50 SIGKILL kill points. Every
invariant of issue 14 is asserted after each episode's quiescence; divergence kinds listed
in SYNCD_SOAK_EXCLUDE (comma-separated; default `KNOWN_EXCLUDED`) are printed, not failed on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak.model import run_soak

# the share of the CI slice each database runs: (steps, kill points, steps per episode);
# long episodes spend fewer processes on set-up and quiescence
SLICE = {"sqlite": (240, 40, 120), "postgresql": (60, 10, 60)}
# divergence kinds printed but not failed on (SYNCD_SOAK_EXCLUDE=kind,... to choose): none.
# Every kind this slice and `make soak` found is fixed in the engine, each with its
# regression test (RELIABILITY.md and tests/connectors/test_exactly_once.py list them); the
# last were a daemon pushing at start-up before its first pull (seed 1014;
# tests/integration/test_daemon.py), an in-doubt update sent again after the mirror had
# merged a remote edit, and a forked process taking a dead sibling's claim for its own.
KNOWN_EXCLUDED = ""
# `syncd run` windows are drawn here too; SYNCD_SOAK_DAEMON=0 leaves them out.
WITHOUT = frozenset({"daemon_window"}) if os.environ.get("SYNCD_SOAK_DAEMON") == "0" \
    else frozenset()
SEED = 1414


def test_convergence_soak_has_no_divergence(db_url: str, tmp_path: Path) -> None:
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    steps, kills, per_episode = SLICE[dialect]
    excluded = {k for k in os.environ.get("SYNCD_SOAK_EXCLUDE", KNOWN_EXCLUDED).split(",") if k}
    ctx = run_soak(tmp_path, db_url, steps=steps, seed=SEED, min_kills=kills,
                   steps_per_episode=per_episode, without=WITHOUT,
                   command=f"pytest tests/soak/test_soak.py  # {dialect}, batch seed {{seed}}")
    stats = ctx.stats
    print(f"soak {dialect}: {stats}")  # shown with -s / -rP: what the slice did
    assert stats.steps >= steps and stats.kill_points >= kills, stats
    assert sum(stats.faults.values()) > 0 and stats.syncd_runs > stats.kill_points
    for known in (d for d in ctx.divergences if d.kind in excluded):
        print(f"known defect, not failed on: {known.kind} {known.account}: {known.detail} "
              f"({known.command})")
    found = [d for d in ctx.divergences if d.kind not in excluded]
    if found:
        first = found[0]
        pytest.fail(f"{len(found)} divergences, first: {first.kind} in {first.account}: "
                    f"{first.detail}\nreproduce: {first.command}\nsteps:\n"
                    + "\n".join(first.steps))
