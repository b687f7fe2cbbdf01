"""RELIABILITY.md: what a soak did and what it found, each finding with its reproduction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.soak.model import KNOWN, SoakContext


def render(ctx: SoakContext, *, db: str, seconds: float, base_seed: int,
           parts: list[tuple[int, int, str]] | None = None, target: int | None = None) -> str:
    """The report as Markdown (numbers first, then every divergence with its seed)."""
    s = ctx.stats
    lines = [
        "# Reliability: the convergence soak",
        "",
        f"Written by `make soak` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({db}, base seed {base_seed}, {seconds / 60:.1f} min). The soak is a seeded "
        "hypothesis state machine (`tests/soak/model.py`) over the five vendor sandboxes, "
        "served over HTTP, driving real `syncd` processes that it kills with SIGKILL; after "
        "each episode it clears the faults, syncs until no write is planned, runs a full "
        "sweep and checks the invariants of issue 14.",
        "",
        *([f"Run as {len(parts)} parts side by side; each reproduces on its own: "
           + "; ".join(f"`{command}` ({steps} steps)" for _seed, steps, command in parts),
           ""] if parts and len(parts) > 1 else []),
        "| measure | value |",
        "|---|---|",
        f"| steps | {s.steps}"
        + (f" (target {target}: stopped by SYNCD_SOAK_MINUTES)" if target and s.steps < target
           else "") + " |",
        f"| episodes (fresh sandboxes each) | {s.episodes} |",
        f"| `syncd` processes run | {s.syncd_runs} |",
        f"| kill points (SIGKILL) | {s.kill_points} |",
    ]
    lines += [f"| kills {mode} | {n} |" for mode, n in sorted(s.kills.items())]
    lines += [f"| faults injected: {kind} | {n} |" for kind, n in sorted(s.faults.items())]
    lines += [
        f"| lost answers (the vendor processed a write, the answer never came) "
        f"| {s.lost_answers} |",
        f"| `syncd run` windows (SIGKILL / SIGTERM) | {s.kills.get('daemon', 0)} / "
        f"{s.actions.get('daemon', 0) - s.kills.get('daemon', 0)} |",
    ]
    lines += [f"| webhook deliveries held, then sent {how} | {n} |"
              for how, n in sorted(s.webhooks.items())]
    lines += [
        f"| conflicts made | {s.conflicts_made} |",
        f"| conflicts resolved (`syncd conflicts resolve`) | {s.conflicts_resolved} |",
        f"| quiescence syncs | {s.quiescence_syncs} |",
        f"| **divergences** | **{len(ctx.divergences)}** |",
        "",
        "Steps per action: " + ", ".join(f"{k} {v}" for k, v in sorted(s.actions.items())),
        "",
        "## Invariants checked after quiescence",
        "",
        "* every linked record's title (and any other field the soak edited remotely) equals "
        "the vendor's, or an open conflict holds both values, or the outbox reports the "
        "write refused/unsupported/skipped with the vendor's reason;",
        "* the last edit of a field (local or remote, A -> B -> A included) is the value on "
        "both sides, unless an open conflict holds it or the write is reported;",
        "* no remote record has two mirror rows; every live vendor record has a mirror row;",
        "* every local INSERT is one mirror row linked to one vendor record (never created "
        "twice), or its create is reported;",
        "* a remote deletion reaches the mirror after a sweep; a local deletion reaches the "
        "vendor (`allow_delete = true`) or is reported `skipped`;",
        "* no refresh token is lost: with every Offorte access token expired, a sync still "
        "refreshes and succeeds.",
        "",
        "## What the soak found, and what it leaves out",
        "",
        "* **A kill -9 during Offorte's OAuth refresh loses the refresh token** (found with "
        "the CI slice's seed 1414, batch seed 1415, episode 3: every later Offorte request "
        "fails with HTTP 400 on refresh). The sandbox, like the vendor, accepts a refresh "
        "token once; a process killed after the vendor rotated the token and before syncd "
        "stored the new one cannot have stored it. The harness therefore holds a kill that "
        "falls due while a refresh is the last request a sandbox saw until the next "
        "request (syncd stores the token before sending it). Reproduce the loss with "
        "`SYNCD_SOAK_KILL_IN_REFRESH=1 .venv/bin/python -m pytest -p no:cacheprovider "
        "tests/soak/test_soak.py -k sqlite`. A lost *answer* to a refresh is not injected "
        "for the same reason.",
        "* **Found and fixed** (each seed now converges, each kind has its regression "
        "test): a remote Offorte title edit overwritten without a conflict by an update a "
        "killed process had left in doubt and the next one sent again "
        "(`SYNCD_SOAK_SEED=1414 SYNCD_SOAK_STEPS=240 SYNCD_SOAK_KILLS=40 make soak`, batch "
        "seed 1415, episode 6; in-doubt updates are now re-read first, "
        "`tests/connectors/test_exactly_once.py`); a Quick Quote remote edit back to the "
        "value it held before a push skipped as unchanged (`SYNCD_SOAK_SEED=14 "
        "SYNCD_SOAK_STEPS=200 SYNCD_SOAK_KILLS=10 make soak`, episode 1; a push now forgets "
        "the list fingerprints of what it wrote, `tests/connectors/test_two_way_suite.py`).",
        "* **Found and fixed at stop 21** (`make soak` at 10,000 steps, seeds 14 and 1014; "
        "each has its regression test): a remote edit back to the value an Offorte v1 list "
        "last showed, after a webhook fetch had brought the value in between, was skipped "
        "by its unchanged list fingerprint and the mirror kept the middle value (batch "
        "seed 1019, episode 21; a targeted fetch that changes a record now forgets its "
        "list fingerprint, `tests/connectors/test_exactly_once.py`); a Quick Quote write "
        "killed mid-send that had landed, then set back by the merchant, was sent again "
        "over that edit, because Quick Quote stamps no modification time (batch seed 20, "
        "episode 32; an attempt that may have arrived, killed mid-send or unanswered after "
        "the request went out, now makes finding the base a change on both sides, one "
        "answered 5xx or 429 is sent again: `outbox.unanswered`, migration 0009, "
        "`tests/connectors/test_exactly_once.py`). The harness numbered Happyoffer's "
        "remote creates with a counter of its own and once overwrote the offer a local "
        "create had made (`created_row_lost`, batch seed 19, episode 23). The model "
        "counted a renumbering to the number a record already held as a remote edit "
        "(Happyoffer, batch seed 1016, episode 14), recorded a conflict kept remote with "
        "the value the conflict held rather than the vendor's value of now, which the next "
        "pull brings (batch seed 1024, episode 53), and expected a remote A -> B -> A at "
        "Quick Quote that syncd never read in between to be seen (it cannot be, without a "
        "stamp: batch seeds 1024 and 31).",
        "* **Found and fixed at stop 20** (seed 1014, `SYNCD_SOAK_SEED=1014 "
        "SYNCD_SOAK_STEPS=100 SYNCD_SOAK_KILLS=1 SYNCD_SOAK_JOBS=1 make soak`, and seed "
        "3014; `SYNCD_SOAK_TRACE=vendor:remote_id` prints one record's mirror value, base, "
        "outbox entries and conflicts after every step): a daemon pushed at start-up, "
        "before its first pull, and sent a local edit made while no daemon ran over a "
        "remote edit made meanwhile (its pushes now wait for its first pull of the account, "
        "`tests/integration/test_daemon.py`); an update left in doubt by a killed sync was "
        "sent again after later pulls had merged a remote edit (the mirror now settles "
        "such an entry as landed or superseded without a request, "
        "`tests/connectors/test_exactly_once.py`); syncd processes forked from one that "
        "had imported syncd (the soak's fork server) shared the name they claim outbox "
        "entries under, so a sync took a killed sibling's claim for its own and never "
        "resolved it (the name is now read from the pid when asked, "
        "`tests/unit/engine/test_worker_id.py`); a conflict kept the remote value it "
        "opened with, and resolving it keep-remote wrote a value the vendor had left (a "
        "record read again now updates an open conflict, and closes it when both sides "
        "agree, `tests/unit/engine/test_store.py`); a write that landed and was set back "
        "within the vendor's one-second stamp looked untouched and was sent again (now a "
        "conflict); an in-doubt write taken for superseded although it had landed lost a "
        "local edit back to the old base (an in-doubt write is now re-read, and a landed "
        "one moves the base first; both in `tests/connectors/test_exactly_once.py`); and "
        "the model itself recorded a conflict kept local with the value the conflict "
        "opened with, not the local edit made while it was open. Every divergence now "
        "carries a post-mortem: per step, the requests about its record. The CI slice "
        "now draws daemon windows and fails on every kind (SYNCD_SOAK_DAEMON=0 leaves "
        "the windows out).",
        "* `syncd run` windows: the daemon runs for a moment in a subprocess while remote "
        "edits are announced by authentic webhook deliveries that the soak sends in order, "
        "twice, in reverse order, or loses, and a local edit waits for its push; then it "
        "is stopped with SIGKILL (a kill point) or SIGTERM (which must exit 0). An event "
        "is a hint, so the invariants are the same whatever was delivered. Quick Quote and "
        "Happyoffer send no webhooks (vendors.md), so their windows are pulls and pushes.",
        "* Remote creates are copies of a seeded proposal made in the sandbox's store, as a "
        "vendor user would make them (no syncd marker); local edits of a second field are "
        "`number` where the vendor stores it (Automa, Happyoffer).",
        "* Quiescence ages the outbox's retry and claim timers instead of sleeping through "
        "them, so a write left `sending` by a killed process is not timed here.",
        "",
        "## Divergences",
        "",
    ]
    if not ctx.divergences:
        lines.append("None.")
    kinds: dict[str, int] = {}
    for d in ctx.divergences:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    if kinds:
        lines += ["| kind | count | known defect |", "|---|---|---|"]
        lines += [f"| {k} | {n} | {KNOWN.get(k, '')} |" for k, n in sorted(kinds.items())]
        lines.append("")
    for i, d in enumerate(ctx.divergences, 1):
        lines += [
            f"### {i}. {d.kind} — {d.account}",
            "",
            f"{d.detail}",
            "",
            f"Reproduce: `{d.command}` (batch seed {d.seed}, episode {d.episode}). Steps of "
            "the episode:",
            "",
            "```",
            *d.steps,
            "```",
            "",
        ]
    return "\n".join(lines) + "\n"


def write(path: Path, ctx: SoakContext, *, db: str, seconds: float, base_seed: int,
          parts: list[tuple[int, int, str]] | None = None, target: int | None = None) -> None:
    path.write_text(render(ctx, db=db, seconds=seconds, base_seed=base_seed, parts=parts,
                           target=target), encoding="utf-8")
