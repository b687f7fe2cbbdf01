"""`make soak`: the long convergence soak; writes RELIABILITY.md.

    SYNCD_SOAK_STEPS=10000 SYNCD_SOAK_SEED=14 python -m tests.soak.run

SYNCD_SOAK_STEPS (default 10000), SYNCD_SOAK_SEED (default 14), SYNCD_SOAK_KILLS (least
kill points, default steps/20), SYNCD_SOAK_DB_URL (default a SQLite file in a temporary
directory; a PostgreSQL URL of an empty database works too), SYNCD_SOAK_OUTPUT (default
RELIABILITY.md). Exit 1 when any divergence was found.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from syncd.db.session import Database
from tests.soak import report
from tests.soak.model import SoakContext, run_soak


def main() -> int:
    steps = int(os.environ.get("SYNCD_SOAK_STEPS", "10000"))
    base_seed = int(os.environ.get("SYNCD_SOAK_SEED", "14"))
    kills = int(os.environ.get("SYNCD_SOAK_KILLS", str(steps // 20)))
    output = Path(os.environ.get("SYNCD_SOAK_OUTPUT", "RELIABILITY.md"))
    # the run's own command reproduces it (the batch seed and episode say where); kill
    # instants are wall-clock, so a rerun takes the same steps but may kill elsewhere
    command = (f"SYNCD_SOAK_SEED={base_seed} SYNCD_SOAK_STEPS={steps} "
               f"SYNCD_SOAK_KILLS={kills} make soak")
    with tempfile.TemporaryDirectory(prefix="syncd-soak-") as tmp:
        db_url = os.environ.get("SYNCD_SOAK_DB_URL") or f"sqlite:///{tmp}/mirror.db"
        db = Database(db_url)
        db.upgrade()
        db.dispose()
        started = time.monotonic()

        def progress(ctx: SoakContext) -> None:
            print(f"soak: {ctx.stats.steps}/{steps} steps, {ctx.stats.kill_points} kill "
                  f"points, {len(ctx.divergences)} divergences", flush=True)

        ctx = run_soak(Path(tmp), db_url, steps=steps, seed=base_seed, min_kills=kills,
                       command=command, progress=progress)
        dialect = db_url.split(":", 1)[0]
        report.write(output, ctx, db=dialect, seconds=time.monotonic() - started,
                     base_seed=base_seed)
    print(f"soak: wrote {output}: {ctx.stats.steps} steps, {ctx.stats.kill_points} kill "
          f"points, {len(ctx.divergences)} divergences")
    return 1 if ctx.divergences else 0


if __name__ == "__main__":
    sys.exit(main())
