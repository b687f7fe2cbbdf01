"""`make soak`: the long convergence soak; writes RELIABILITY.md.

    SYNCD_SOAK_STEPS=10000 SYNCD_SOAK_SEED=14 python -m tests.soak.run

SYNCD_SOAK_STEPS (default 10000), SYNCD_SOAK_SEED (default 14), SYNCD_SOAK_KILLS (least
kill points, default steps/20), SYNCD_SOAK_JOBS (parts run side by side, default 2: part i
takes steps/jobs steps from base seed SEED + 1000*i, each with its own SQLite mirror),
SYNCD_SOAK_DB_URL (default a SQLite file per part in a temporary directory; a PostgreSQL URL
of an empty database works too, shared by the parts: their accounts are named by seed),
SYNCD_SOAK_OUTPUT (default RELIABILITY.md), SYNCD_SOAK_MINUTES (a time limit: each part stops
after the episode batch that passes it, and the report says how many steps were reached
against the target). Exit 1 when any divergence was found.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

from syncd.db.session import Database
from tests.soak import report
from tests.soak.harness import Stats
from tests.soak.model import SoakContext, run_soak


@dataclass(frozen=True)
class Part:
    """One share of the soak: its seed, steps, kill points and where it works."""

    seed: int
    steps: int
    kills: int
    tmp: str
    db_url: str
    command: str
    deadline: float | None  # time.time() after which no new episode batch starts


def run_part(part: Part) -> SoakContext:
    """A part in its own process (the soak is I/O and subprocess bound: parts overlap)."""
    db = Database(part.db_url)
    db.upgrade()
    db.dispose()

    shown = 0

    def progress(ctx: SoakContext) -> None:
        nonlocal shown
        print(f"soak (seed {part.seed}): {ctx.stats.steps}/{part.steps} steps, "
              f"{ctx.stats.kill_points} kill points, {len(ctx.divergences)} divergences",
              flush=True)
        for d in ctx.divergences[shown:]:  # each finding as soon as its episode ends
            print(f"  divergence {d.kind} {d.account}: {d.detail}\n  reproduce: {d.command} "
                  f"(batch seed {d.seed}, episode {d.episode})\n    "
                  + "\n    ".join(d.steps), flush=True)
        shown = len(ctx.divergences)

    return run_soak(Path(part.tmp), part.db_url, steps=part.steps, seed=part.seed,
                    min_kills=part.kills, command=part.command, progress=progress,
                    deadline=part.deadline)


def merged(contexts: list[SoakContext]) -> SoakContext:
    """One context whose counts are the parts' sums and whose findings are all of theirs."""
    total = SoakContext(tmp=contexts[0].tmp, db_url=contexts[0].db_url, seed=contexts[0].seed,
                        target_steps=sum(c.target_steps for c in contexts))
    for ctx in contexts:
        for f in fields(Stats):
            mine, theirs = getattr(total.stats, f.name), getattr(ctx.stats, f.name)
            setattr(total.stats, f.name, mine + theirs)  # ints and Counters both add
        total.divergences += ctx.divergences
    return total


def main() -> int:
    steps = int(os.environ.get("SYNCD_SOAK_STEPS", "10000"))
    base_seed = int(os.environ.get("SYNCD_SOAK_SEED", "14"))
    kills = int(os.environ.get("SYNCD_SOAK_KILLS", str(steps // 20)))
    jobs = max(1, int(os.environ.get("SYNCD_SOAK_JOBS", "2")))
    output = Path(os.environ.get("SYNCD_SOAK_OUTPUT", "RELIABILITY.md"))
    minutes = os.environ.get("SYNCD_SOAK_MINUTES")
    deadline = time.time() + float(minutes) * 60 if minutes else None
    with tempfile.TemporaryDirectory(prefix="syncd-soak-") as tmp:
        parts = []
        for i in range(jobs):
            seed, share = base_seed + 1000 * i, steps // jobs + (i < steps % jobs)
            part_kills = kills // jobs + (i < kills % jobs)
            where = Path(tmp) / f"part{i}"
            where.mkdir()
            # each part's own command reproduces it (the batch seed and episode say where);
            # kill instants are wall-clock, so a rerun takes the same steps but may kill
            # elsewhere
            command = (f"SYNCD_SOAK_SEED={seed} SYNCD_SOAK_STEPS={share} "
                       f"SYNCD_SOAK_KILLS={part_kills} SYNCD_SOAK_JOBS=1 make soak")
            parts.append(Part(seed, share, part_kills, str(where),
                              os.environ.get("SYNCD_SOAK_DB_URL")
                              or f"sqlite:///{where}/mirror.db", command, deadline))
        started = time.monotonic()
        if jobs == 1:
            contexts = [run_part(parts[0])]
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                contexts = list(pool.map(run_part, parts))
        ctx = merged(contexts)
        dialect = parts[0].db_url.split(":", 1)[0]
        report.write(output, ctx, db=dialect, seconds=time.monotonic() - started,
                     base_seed=base_seed, parts=[(p.seed, p.steps, p.command) for p in parts],
                     target=steps)
    print(f"soak: wrote {output}: {ctx.stats.steps} steps, {ctx.stats.kill_points} kill "
          f"points, {len(ctx.divergences)} divergences")
    return 1 if ctx.divergences else 0


if __name__ == "__main__":
    sys.exit(main())
