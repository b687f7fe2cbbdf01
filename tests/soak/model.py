"""The convergence soak's model: a seeded hypothesis state machine over all five sandboxes.

Each example (an *episode*) serves five fresh sandboxes, backfills them into the mirror with
a real `syncd backfill`, then interleaves, in an order hypothesis draws from the seed:
remote edits (title and another field), local SQL edits (titles drawn from three values, so
A -> B -> A happens on either side), the same field edited on both sides, local INSERTs,
local deletes (accounts with and without `allow_delete`), remote deletes, 5xx and 429 bursts,
lost answers after the vendor processed a write, expired OAuth access tokens, conflict
resolutions, remote creates, local edits of a second field, `syncd sync` runs that are killed
with SIGKILL by time, after N requests or at the first write, and `syncd run` windows in which
webhook deliveries arrive in order, twice, reordered or not at all before the daemon is
killed or stopped. Teardown clears the faults, syncs until no write is planned (bounded),
runs a full sweep, and checks the invariants of issue 14; a violation is a `Divergence`
recorded with the seed and command that reproduce it, never an exception that would stop
the soak (the caller decides what fails).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlalchemy import select

from syncd.db.tables import conflicts, outbox, proposals
from syncd.engine.push import daemon_running
from syncd.engine.values import norm
from tests.soak import vendors
from tests.soak.harness import ALLOW_DELETE, WRITES, Divergence, Outcome, Stats, World

VENDORS = ("automa", "happyoffer", "offorte", "quickquote", "strawblond")
TITLES = ("soak A", "soak B", "soak C")  # few values: edits return to earlier ones
TRACKED = 4  # rows per account the model edits
QUIESCENCE_SYNCS = 6
REPORTED = ("refused", "skipped", "failed", "unsupported")
# divergence kinds of the defects issue 14 names (all fixed now: a divergence of one of them
# is a regression); `KNOWN` only labels them in the report, the caller chooses what fails
KNOWN = {
    "duplicate_row": "lost create answer: the pull inserts the vendor's record as a 2nd row",
    "local_edit_lost": "A -> B -> A: the return edit reuses a done idempotency key",
    "create_unlinked": "lost create answer: the local row keeps remote_id NULL",
    "remote_edit_lost": "a push overwrites a remote edit (a stale resumed view, an in-doubt "
                        "update sent again)",
}


Rng = random.Random
# action -> weight; syncs weigh most: they are what is killed (kill points) and converged
ACTIONS: list[tuple[str, int]] = [
    ("remote_edit_title", 8), ("remote_edit_other", 4), ("remote_delete", 1),
    ("local_edit_title", 10), ("both_sides", 3), ("local_create", 3), ("local_delete", 1),
    ("fault_5xx", 3), ("fault_429", 2), ("fault_lost_answer", 4), ("offorte_tokens_expire", 1),
    ("sync_to_the_end", 2), ("sync_killed_by_time", 7), ("sync_killed_after_requests", 7),
    ("sync_killed_at_first_write", 6), ("resolve_conflict", 2),
    ("remote_create", 2), ("local_edit_other", 3), ("daemon_window", 3),
]
NUMBERS = ("N-1", "N-2", "N-3")  # local values of a second field: edits return to them too
DELIVERIES = ("in_order", "duplicated", "reordered", "lost")
WEBHOOK_TIMEOUT = 10.0  # seconds a vendor waits for the receiver's answer
_trace = os.environ.get("SYNCD_SOAK_TRACE", "")
TRACE: tuple[str, str] | None = (_trace.split(":")[0], _trace.split(":")[1]) \
    if ":" in _trace else None


def _row(rng: Rng) -> dict[str, Any]:
    return {"vendor": rng.choice(VENDORS), "n": rng.randrange(100)}


ACTION_ARGS: dict[str, Callable[[Rng], dict[str, Any]]] = {
    "remote_edit_title": lambda r: {**_row(r), "title": r.choice(TITLES)},
    "remote_edit_other": _row,
    "remote_delete": lambda r: {"vendor": r.choice([v for v in VENDORS
                                                   if vendors.can_remote_delete(v)]),
                                "n": r.randrange(100)},
    "local_edit_title": lambda r: {**_row(r), "title": r.choice(TITLES)},
    "both_sides": lambda r: {**_row(r), "local": r.choice(TITLES), "remote": r.choice(TITLES)},
    "local_create": lambda r: {"vendor": r.choice(VENDORS)},
    "local_delete": _row,
    "fault_5xx": lambda r: {"vendor": r.choice(VENDORS), "status": r.choice([500, 502, 503]),
                            "times": r.randint(1, 2),
                            "method": r.choice(["*", "GET", "PATCH", "PUT", "POST"])},
    "fault_429": lambda r: {"vendor": r.choice(VENDORS), "times": 1},
    "fault_lost_answer": lambda r: {"vendor": r.choice(VENDORS),
                                    "method": r.choice(["POST", "PUT", "PATCH"])},
    "offorte_tokens_expire": lambda r: {},
    "sync_to_the_end": lambda r: {},
    "sync_killed_by_time": lambda r: {"seconds": r.uniform(0.0, 0.6)},
    "sync_killed_after_requests": lambda r: {"n": r.randint(1, 20)},
    "sync_killed_at_first_write": lambda r: {},
    "resolve_conflict": lambda r: {"keep": r.choice(["local", "remote"]), "n": r.randrange(100)},
    "remote_create": lambda r: {"vendor": r.choice(VENDORS)},
    "local_edit_other": lambda r: {"vendor": r.choice(sorted(vendors.OTHER_WRITABLE)),
                                   "n": r.randrange(100), "value": r.choice(NUMBERS)},
    "daemon_window": lambda r: {
        "seconds": r.uniform(0.2, 2.5), "end": r.choice(["kill", "kill", "term"]),
        "delivery": r.choice(DELIVERIES),
        "edits": [(r.choice(vendors.WEBHOOK_VENDORS), r.randrange(100), r.choice(TITLES))
                  for _ in range(r.randint(1, 3))],
        "local": (r.choice(VENDORS), r.randrange(100), r.choice(TITLES))},
}


@dataclass
class SoakContext:
    """What the episodes share: where to work, what to count, what was found."""

    tmp: Path
    db_url: str
    seed: int
    target_steps: int
    stats: Stats = field(default_factory=Stats)
    divergences: list[Divergence] = field(default_factory=list)
    command: str = ""
    episode: int = 0
    batch_examples: int = 0
    episode_steps: int = 60
    without: frozenset[str] = frozenset()  # actions this run never draws


@dataclass
class Tracked:
    vendor: str
    row_id: int
    remote_id: str
    locally_deleted: bool = False
    remotely_deleted: bool = False


class SoakMachine(RuleBasedStateMachine):
    """One episode: five sandboxes, one mirror's accounts, random interleavings."""

    ctx: ClassVar[SoakContext]

    def __init__(self) -> None:
        super().__init__()
        ctx = self.ctx
        ctx.batch_examples += 1
        # hypothesis's first example of a run is its simplest (the first rule, over and
        # over, with the smallest arguments): it would spend a whole episode on one action,
        # so it is left empty and the seeded examples after it are the soak
        self.idle = ctx.batch_examples == 1
        self.steps = 0
        if self.idle:
            return
        ctx.episode += 1
        ctx.stats.episodes += 1
        self.episode = ctx.episode
        self.world = World(ctx.tmp, ctx.db_url, f"e{ctx.seed}x{self.episode}")
        self.log: list[str] = []
        # per step, how many requests each sandbox had seen: a divergence's post-mortem
        # shows which requests about its record each step sent (costs nothing meanwhile)
        self.marks: list[dict[str, int]] = []
        self.rows: list[Tracked] = []
        # (vendor, row_id, field) -> [(side, value)], in the order they happened
        self.events: dict[tuple[str, int, str], list[tuple[str, Any]]] = defaultdict(list)
        self.created: dict[str, list[str]] = defaultdict(list)
        self.remote_created: dict[str, list[str]] = defaultdict(list)  # vendor -> remote ids
        self.extra_fields: dict[tuple[str, int], str] = {}
        # at a vendor that stamps nothing: (vendor, row_id, field) -> (the record before the
        # last remote edit, the request count then), to tell an unseen A -> B -> A
        self.unseen: dict[tuple[str, int, str], tuple[dict[str, Any], int]] = {}
        backfill = self.world.syncd("backfill")
        if backfill.code != 0:
            self.diverge("backfill_failed", "*", (backfill.out + backfill.err)[-800:])
        for vendor in VENDORS:
            found = self.world.sql(
                "SELECT id, remote_id FROM proposals WHERE account = :a AND status = 'draft' "
                "AND remote_id IS NOT NULL AND deleted_at IS NULL ORDER BY id",
                a=self.world.accounts[vendor])
            self.rows += [Tracked(vendor, int(r["id"]), str(r["remote_id"]))
                          for r in found[:TRACKED]]

    # ---- bookkeeping ------------------------------------------------------------------------
    def step(self, text: str, action: str) -> None:
        self.steps += 1
        self.ctx.stats.steps += 1
        self.ctx.stats.actions[action] += 1
        self.log.append(text)
        self.marks.append({v: len(b.requests) for v, b in self.world.boxes.items()})
        if TRACE:
            self.log.append(self.trace(*TRACE))

    def trace(self, vendor: str, remote: str) -> str:
        """SYNCD_SOAK_TRACE=vendor:remote_id: one row's mirror value, base, outbox entries,
        conflicts and vendor value after each step, in the episode's log (for debugging a
        divergence; the remote id is the one the divergence names in brackets)."""
        row = self.world.sql("SELECT id, title, base FROM proposals WHERE remote_id = :r "
                             "AND account = :a", r=remote, a=self.account(vendor))
        if not row:
            return f"      . {remote}: no row"
        base = row[0]["base"]
        base = base if isinstance(base, dict) else __import__("json").loads(base or "{}")
        row_id = row[0]["id"]
        entries = [(e["id"], e["kind"], e["status"], e["attempts"], str(e["body"])[:40],
                    e["claimed_by"], e["claimed_until"])
                   for e in self.outbox_rows(vendor) if e["row_id"] == row_id]
        held = self.world.sql("SELECT id, status, local_value, remote_value FROM conflicts "
                              "WHERE row_id = :id AND account = :a", id=row_id,
                              a=self.account(vendor))
        at_vendor = self.world.boxes[vendor].proposal_title(remote)
        return (f"      . mirror {row[0]['title']!r} base {base.get('title')!r} vendor "
                f"{at_vendor!r} outbox {entries} conflicts {[tuple(c.values()) for c in held]}"
                f" daemon lock {daemon_running(self.world.db_url)}")

    def diverge(self, kind: str, account: str, detail: str,
                record: tuple[str, Tracked] | None = None) -> None:
        steps = list(self.log) if record is None else self.postmortem(*record)
        self.ctx.divergences.append(Divergence(
            kind, account, detail, self.ctx.seed, self.episode,
            self.ctx.command.format(seed=self.ctx.seed), steps))

    def postmortem(self, vendor: str, tracked: Tracked) -> list[str]:
        """The episode's steps, each followed by the requests about the diverged record
        that the vendor saw during it, then the record's outbox entries and conflicts."""
        box, rid = self.world.boxes[vendor], tracked.remote_id
        out, start = [], 0
        for text, mark in [*zip(self.log, self.marks, strict=False),
                           ("quiescence and sweep", {vendor: len(box.requests)})]:
            out.append(text)
            end = mark[vendor]
            out += [f"      > {r.method} {r.path} {r.status} {r.body[:150]!r}"
                    for r in box.requests[start:end] if rid in r.path or rid.encode() in r.body]
            start = end
        out += [f"      outbox {e['id']} {e['kind']} {e['status']} attempts {e['attempts']} "
                f"values {e['values']} error {e['last_error']!r}"
                for e in self.outbox_rows(vendor) if e["row_id"] == tracked.row_id]
        out += [f"      conflict {c}" for c in self.world.sql(
            "SELECT id, field, status, resolution, base_value, local_value, remote_value "
            "FROM conflicts WHERE row_id = :id AND account = :a", id=tracked.row_id,
            a=self.account(vendor))]
        return out

    def pick(self, vendor: str, n: int, *, live: bool = True) -> Tracked | None:
        rows = [r for r in self.rows if r.vendor == vendor
                and not (live and (r.locally_deleted or r.remotely_deleted))]
        return rows[n % len(rows)] if rows else None

    def remote_title(self, vendor: str, row: Tracked, title: str) -> None:
        """A remote edit; it is an event only when it changes the vendor's value (setting
        the value the vendor already holds is no change to merge, at any vendor)."""
        box = self.world.boxes[vendor]
        before = box.proposal_fields(row.remote_id)
        box.remote_edit_title(row.remote_id, title)
        if before.get("title") != title:
            self.remote_event(vendor, row, "title", title, before)

    def remote_event(self, vendor: str, row: Tracked, name: str, value: Any,
                     before: dict[str, Any]) -> None:
        """Record a remote edit. At a vendor that stamps no modification time (Quick
        Quote), an edit that puts the whole record back as it was before the previous
        remote edit, with no read of the record by syncd in between, undoes that edit
        unseen: no one can tell it happened (make soak, seed 14, batch 20 and seed 1014,
        batch 1024), so both leave the events."""
        key, box = (vendor, row.row_id, name), self.world.boxes[vendor]
        if vendor in vendors.STAMPLESS:
            last = self.unseen.pop(key, None)
            if last is not None and box.proposal_fields(row.remote_id) == last[0] and \
                    not vendors.read_since(box, row.remote_id, last[1]):
                events = self.events[key]
                del events[max(i for i, (side, _) in enumerate(events) if side == "remote")]
                return
            self.unseen[key] = (before, len(box.requests))
        self.events[key].append(("remote", value))

    def local_title(self, vendor: str, row: Tracked, title: str) -> None:
        """A local SQL edit; an event only when it changes the mirror's value."""
        now = self.world.sql("SELECT title FROM proposals WHERE id = :id", id=row.row_id)
        if not now or now[0]["title"] != title:
            self.events[(vendor, row.row_id, "title")].append(("local", title))
        self.world.sql("UPDATE proposals SET title = :t WHERE id = :id", t=title, id=row.row_id)

    def account(self, vendor: str) -> str:
        return self.world.accounts[vendor]

    def record_run(self, run: Outcome) -> None:
        self.ctx.stats.syncd_runs += 1
        if run.killed and run.killed != "timeout":
            self.ctx.stats.kill_points += 1
            self.ctx.stats.kills[run.killed] += 1
        if run.killed == "timeout":
            self.diverge("syncd_hung", "*", f"`syncd {' '.join(run.args)}` ran past "
                         f"{run.seconds:.0f}s: {(run.out + run.err)[-600:]}")

    # ---- the one hypothesis rule: a seeded draw picks the next action ------------------------
    @rule(draw=st.integers(0, 2**31 - 1))
    def act(self, draw: int) -> None:
        """Hypothesis draws (from the seed) one number per step; it picks the action and its
        arguments with the soak's own weights. One rule, rather than one per action, keeps
        hypothesis's swarm testing from switching whole kinds of step off for an episode
        (an episode without syncs has no kill point)."""
        if self.idle or self.steps >= self.ctx.episode_steps \
                or self.ctx.stats.steps >= self.ctx.target_steps:
            return  # this episode (or the whole soak) has its steps: the rest are no-ops
        # hypothesis likes to repeat a drawn value: mixing in the step keeps actions apart
        rng = random.Random(draw * 1_000_003 + len(self.log))
        before = self.steps
        drawn = [a for a in ACTIONS if a[0] not in self.ctx.without]
        for _attempt in range(5):  # an action with nothing to act on draws another one
            name = rng.choices([a[0] for a in drawn], weights=[a[1] for a in drawn])[0]
            getattr(self, name)(**ACTION_ARGS[name](rng))
            if self.steps > before:
                return

    # ---- remote side ------------------------------------------------------------------------
    def remote_edit_title(self, vendor: str, n: int, title: str) -> None:
        row = self.pick(vendor, n)
        if row is None:
            return
        self.remote_title(vendor, row, title)
        self.step(f"remote title {vendor} row {row.row_id} := {title!r}", "remote_edit")

    def remote_edit_other(self, vendor: str, n: int) -> None:
        row = self.pick(vendor, n)
        if row is None:
            return
        box = self.world.boxes[vendor]
        before = box.proposal_fields(row.remote_id)
        name, value = box.remote_edit_other(row.remote_id)
        self.extra_fields[(vendor, row.row_id)] = name
        # like a title set to the value it holds: a renumbering to the number the record
        # already has changes nothing the vendor stores (only a stamp): no remote edit to merge
        if box.proposal_fields(row.remote_id) != before:
            self.remote_event(vendor, row, name, value, before)
        self.step(f"remote {name} {vendor} row {row.row_id} := {value!r}", "remote_edit")

    @rule(vendor=st.sampled_from([v for v in VENDORS if vendors.can_remote_delete(v)]),
          n=st.integers(0, 99))
    def remote_delete(self, vendor: str, n: int) -> None:
        # at most one per account and episode: more would trip the mass-deletion guard
        if any(r.remotely_deleted for r in self.rows if r.vendor == vendor):
            return
        row = self.pick(vendor, n)
        if row is None:
            return
        vendors.remote_delete(self.world.boxes[vendor], row.remote_id)
        row.remotely_deleted = True
        self.step(f"remote delete {vendor} row {row.row_id} ({row.remote_id})", "remote_delete")

    # ---- local side -------------------------------------------------------------------------
    def local_edit_title(self, vendor: str, n: int, title: str) -> None:
        row = self.pick(vendor, n)
        if row is None:
            return
        self.local_title(vendor, row, title)
        self.step(f"local title {vendor} row {row.row_id} := {title!r}", "local_edit")

    def both_sides(self, vendor: str, n: int, local: str, remote: str) -> None:
        row = self.pick(vendor, n)
        if row is None:
            return
        self.local_title(vendor, row, local)
        self.remote_title(vendor, row, remote)
        self.step(f"both sides {vendor} row {row.row_id}: local {local!r}, remote {remote!r}",
                  "both_sides")

    def local_create(self, vendor: str) -> None:
        if len(self.created[vendor]) >= 3:
            return
        box = self.world.boxes[vendor]
        refs = box.new_proposal_refs()
        ids = {}
        for key, table in (("company_id", "companies"), ("contact_id", "contacts")):
            rid = refs.get(key)
            found = self.world.sql(
                f"SELECT id FROM {table} WHERE account = :a AND remote_id = :r",
                a=self.account(vendor), r=rid) if rid else []
            ids[key] = found[0]["id"] if found else None
        title = f"soak new {self.episode}-{vendor}-{len(self.created[vendor])}"
        self.world.sql("INSERT INTO proposals (account, title, company_id, contact_id) "
                       "VALUES (:a, :t, :c, :p)", a=self.account(vendor), t=title,
                       c=ids["company_id"], p=ids["contact_id"])
        self.created[vendor].append(title)
        self.step(f"local create {vendor} {title!r}", "local_create")

    def local_delete(self, vendor: str, n: int) -> None:
        if any(r.locally_deleted for r in self.rows if r.vendor == vendor):
            return
        row = self.pick(vendor, n)
        if row is None:
            return
        self.world.sql("UPDATE proposals SET deleted_at = CURRENT_TIMESTAMP WHERE id = :id",
                       id=row.row_id)
        row.locally_deleted = True
        self.step(f"local delete {vendor} row {row.row_id} (allow_delete="
                  f"{ALLOW_DELETE[vendor]})", "local_delete")

    def remote_create(self, vendor: str) -> None:
        if len(self.remote_created[vendor]) >= 2:
            return
        title = f"soak remote {self.episode}-{vendor}-{len(self.remote_created[vendor])}"
        rid = vendors.remote_create(self.world.boxes[vendor], title)
        if rid is None:
            return
        self.remote_created[vendor].append(rid)
        self.step(f"remote create {vendor} {rid} {title!r}", "remote_create")

    def local_edit_other(self, vendor: str, n: int, value: str) -> None:
        row = self.pick(vendor, n)
        if row is None:
            return
        name = vendors.OTHER_WRITABLE[vendor]
        now = self.world.sql(f"SELECT {name} FROM proposals WHERE id = :id", id=row.row_id)
        if not now or now[0][name] != value:
            self.events[(vendor, row.row_id, name)].append(("local", value))
        self.world.sql(f"UPDATE proposals SET {name} = :v WHERE id = :id", v=value,
                       id=row.row_id)
        self.extra_fields[(vendor, row.row_id)] = name
        self.step(f"local {name} {vendor} row {row.row_id} := {value!r}", "local_edit")

    # ---- faults -----------------------------------------------------------------------------
    def fault_5xx(self, vendor: str, status: int, times: int, method: str) -> None:
        self.world.boxes[vendor].add_fault(method, r"^(?!.*(/oauth2/|/login))", "status",
                                           status=status, times=times)
        self.ctx.stats.faults[f"{status}"] += times
        self.step(f"fault {vendor}: {times} x {status} on {method}", "fault")

    def fault_429(self, vendor: str, times: int) -> None:
        self.world.boxes[vendor].add_fault("*", r"^(?!.*(/oauth2/|/login))", "status",
                                           status=429, times=times,
                                           body={"message": "Too Many Attempts."},
                                           headers={"Retry-After": "1"})
        self.ctx.stats.faults["429"] += times
        self.step(f"fault {vendor}: {times} x 429", "fault")

    def fault_lost_answer(self, vendor: str, method: str) -> None:
        self.world.boxes[vendor].add_fault(method, r"^(?!.*(/oauth2/|/login))", "drop")
        self.ctx.stats.faults["drop"] += 1
        self.step(f"fault {vendor}: next {method} processed, answer lost", "fault")

    def offorte_tokens_expire(self) -> None:
        self.world.boxes["offorte"].expire_access_tokens()  # type: ignore[attr-defined]
        self.ctx.stats.faults["token_expiry"] += 1
        self.step("offorte access tokens expire", "fault")

    # ---- syncd ------------------------------------------------------------------------------
    def sync(self, kill: tuple[str, float] | None) -> None:
        run = self.world.syncd("sync", kill=kill)
        self.record_run(run)
        what = "sync" if kill is None else f"sync killed ({kill[0]} {kill[1]:g})"
        self.step(f"{what}: {'killed' if run.killed else f'exit {run.code}'}", "sync")

    def sync_to_the_end(self) -> None:
        self.sync(None)

    def sync_killed_by_time(self, seconds: float) -> None:
        self.sync(("time", round(seconds, 3)))

    def sync_killed_after_requests(self, n: int) -> None:
        self.sync(("requests", n))

    def sync_killed_at_first_write(self) -> None:
        self.sync(("first_write", 0))

    def daemon_window(self, seconds: float, end: str, delivery: str,
                      edits: list[tuple[str, int, str]], local: tuple[str, int, str]) -> None:
        """`syncd run` for a moment: remote edits announced by webhooks (delivered in order,
        twice, in reverse order, or lost), a local edit it should push, then SIGKILL or
        SIGTERM. Events are hints: whatever is delivered, the invariants after quiescence
        are the same; an authentic delivery the daemon refuses is a divergence."""
        daemon = self.world.start_daemon()
        if daemon is None:
            self.diverge("daemon_failed", "*", self.world.daemon_log()[-800:])
            return
        held: list[tuple[str, bytes, dict[str, str]]] = []
        for vendor, n, title in edits:
            row = self.pick(vendor, n)
            if row is not None:
                self.remote_title(vendor, row, title)
                held.append(vendors.webhook_delivery(self.world.boxes[vendor], row.remote_id,
                                                     self.world.receiver(vendor)))
        vendor, n, title = local
        row = self.pick(vendor, n)
        if row is not None:
            self.local_title(vendor, row, title)
        sent = {"in_order": held, "duplicated": [d for d in held for _ in (0, 1)],
                "reordered": held[::-1], "lost": held[1::2]}[delivery]
        self.ctx.stats.webhooks[delivery] += len(held)
        for url, body, headers in sent:
            try:
                status = httpx.post(url, content=body, headers=headers,
                                    timeout=WEBHOOK_TIMEOUT).status_code
            except httpx.TimeoutException:
                # a vendor gives up on a slow receiver: the event is lost, which is one of
                # the soak's cases anyway (on a loaded machine a SQLite daemon busy writing
                # a page can take this long to record it)
                self.ctx.stats.webhooks["timed_out"] += 1
                continue
            except httpx.HTTPError as exc:
                self.diverge("webhook_unanswered", "*", f"{url}: {exc!r}")
                continue
            if status not in (200, 202):
                self.diverge("webhook_refused", "*", f"authentic delivery to {url}: {status}")
        time.sleep(seconds)
        code = self.world.stop_daemon(daemon, end)
        self.ctx.stats.syncd_runs += 1
        if end == "kill":
            self.ctx.stats.kill_points += 1
            self.ctx.stats.kills["daemon"] += 1
        elif code != 0:
            self.diverge("daemon_unclean_stop", "*", f"SIGTERM: exit {code}: "
                         f"{self.world.daemon_log()[-800:]}")
        self.step(f"daemon {seconds:.2f}s, {len(held)} webhooks {delivery}, local title "
                  f"{local}, {end}: exit {code}", "daemon")

    def resolve_conflict(self, keep: str, n: int) -> None:
        open_ = self.open_conflicts()
        if not open_:
            return
        conflict = open_[n % len(open_)]
        run = self.world.syncd("conflicts", "resolve", str(conflict["id"]), "--keep", keep)
        vendor = next((v for v, a in self.world.accounts.items() if a == conflict["account"]),
                      "?")
        # keeping local keeps what the mirror holds now: a local edit made while the
        # conflict was open is newer than the value the conflict recorded when it opened
        field_name = conflict["field"]
        now = self.world.sql(f"SELECT {field_name} AS v FROM proposals WHERE id = :id",
                             id=int(conflict["row_id"])) \
            if keep == "local" and conflict["entity"] == "proposals" else []
        value = now[0]["v"] if now else self.vendor_now(vendor, conflict) \
            if keep == "remote" else conflict["local_value"]
        self.events[(vendor, int(conflict["row_id"]), conflict["field"])].append(
            (keep, value))
        self.step(f"conflict {conflict['id']} ({vendor} row {conflict['row_id']} "
                  f"{conflict['field']}) resolved keep {keep}: exit {run.code}", "resolve")

    def vendor_now(self, vendor: str, conflict: dict[str, Any]) -> Any:
        """What keeping remote converges to: the vendor's value now, which may have moved
        on since the conflict recorded it (the next pull brings that; make soak, seed
        1014, batch 1024: a keep-remote recorded with the conflict's older value)."""
        tracked = next((r for r in self.rows if r.vendor == vendor
                        and r.row_id == int(conflict["row_id"])), None)
        if tracked is None or conflict["entity"] != "proposals":
            return conflict["remote_value"]
        box, name = self.world.boxes[vendor], conflict["field"]
        if name == "title":
            return box.proposal_title(tracked.remote_id)
        if vendors.OTHER_WRITABLE.get(vendor) == name:
            return vendors.vendor_value(box, tracked.remote_id, name)
        return conflict["remote_value"]

    # ---- mirror reads -----------------------------------------------------------------------
    def open_conflicts(self) -> list[dict[str, Any]]:
        with self.world.db.begin() as conn:
            return [dict(r) for r in conn.execute(select(conflicts).where(
                conflicts.c.account.like(f"{self.world.tag}-%"),
                conflicts.c.status == "open").order_by(conflicts.c.id)).mappings()]

    def mirror_rows(self, vendor: str) -> list[dict[str, Any]]:
        with self.world.db.begin() as conn:
            return [dict(r) for r in conn.execute(select(proposals).where(
                proposals.c.account == self.account(vendor))).mappings()]

    def outbox_rows(self, vendor: str) -> list[dict[str, Any]]:
        with self.world.db.begin() as conn:
            return [dict(r) for r in conn.execute(select(outbox).where(
                outbox.c.account == self.account(vendor)).order_by(outbox.c.id)).mappings()]

    # ---- quiescence and the invariants ------------------------------------------------------
    def teardown(self) -> None:
        if self.idle:
            return
        try:
            self.quiesce_and_check()
        finally:
            self.ctx.stats.lost_answers += lost_answers(self)
            self.world.close()

    def quiesce(self) -> None:
        """Faults cleared, syncs until no write is planned (bounded), then a full sweep (a
        remote deletion is believed only after a complete scan) and a last sync, run with
        every Offorte access token expired (no refresh token may have been lost)."""
        self.world.clear_faults()
        for _ in range(QUIESCENCE_SYNCS):
            self.world.age_outbox()
            run = self.world.syncd("sync")
            self.ctx.stats.quiescence_syncs += 1
            self.record_run(run)
            if TRACE:
                self.log += [f"    quiescence sync: exit {run.code}", self.trace(*TRACE)]
            pending = self.world.sql(
                "SELECT count(*) AS n FROM outbox WHERE account LIKE :t "
                "AND status IN ('pending', 'sending')", t=f"{self.world.tag}-%")[0]["n"]
            # both pushes of the sync sent nothing and nothing waits: no write is planned
            if run.code == 0 and not pending and not re.search(
                    r": [1-9]\d* pushed|, [1-9]\d* to retry", run.out):
                break
        else:
            self.diverge("no_quiescence", "*", f"writes still planned after "
                         f"{QUIESCENCE_SYNCS} syncs: {self.world.planned_writes()[:3]}")
        sweep = self.world.syncd("backfill")
        self.record_run(sweep)
        if TRACE:
            self.log += ["    sweep", self.trace(*TRACE)]
        if sweep.code != 0:
            self.diverge("sweep_failed", "*", (sweep.out + sweep.err)[-800:])
        self.world.age_outbox()
        box = self.world.boxes["offorte"]
        box.expire_access_tokens()  # type: ignore[attr-defined]
        refreshes = box.count("POST", r"/oauth2/refresh-token")
        last = self.world.syncd("sync")
        self.record_run(last)
        if last.code != 0:
            self.diverge("sync_failed", "*", (last.out + last.err)[-800:])
        if box.count("POST", r"/oauth2/refresh-token") == refreshes or re.search(
                rf"{self.account('offorte')}.*(401|auth|token)", last.out + last.err, re.I):
            self.diverge("refresh_token_lost", self.account("offorte"),
                         f"exit {last.code}: {(last.out + last.err)[-600:]}")

    def quiesce_and_check(self) -> None:
        self.quiesce()
        held = {(c["account"], int(c["row_id"]), c["field"]) for c in self.open_conflicts()}
        with self.world.db.begin() as conn:
            made = conn.execute(select(conflicts.c.status).where(
                conflicts.c.account.like(f"{self.world.tag}-%"))).scalars().all()
        self.ctx.stats.conflicts_made += len(made)
        self.ctx.stats.conflicts_resolved += sum(1 for s in made if s != "open")
        for vendor in VENDORS:
            self.check_account(vendor, held)

    def reported(self, vendor: str, row_id: int) -> dict[str, Any] | None:
        """The outbox entry that reports a write for this row as not made, with a reason."""
        for entry in reversed(self.outbox_rows(vendor)):
            if entry["row_id"] == row_id and entry["status"] in REPORTED and entry["last_error"]:
                return entry
        return None

    def check_account(self, vendor: str, held: set[tuple[str, int, str]]) -> None:
        account, box = self.account(vendor), self.world.boxes[vendor]
        rows = self.mirror_rows(vendor)
        by_id = {r["id"]: r for r in rows}
        vendor_titles = vendors.titles(box)
        # no remote record has two mirror rows; every live vendor record is mirrored
        linked: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            if r["remote_id"] is not None:
                linked[str(r["remote_id"])].append(r["id"])
        for rid, ids in linked.items():
            if len(ids) > 1:
                self.diverge("duplicate_row", account, f"remote {rid} has mirror rows {ids}")
        for rid in vendor_titles:
            if rid not in linked:
                self.diverge("unmirrored_remote", account,
                             f"vendor record {rid} ({vendor_titles[rid]!r}) has no mirror row")
        # remote creates: each mirrored, as one row (a marker-less record is never adopted)
        for rid in self.remote_created[vendor]:
            if rid in vendor_titles and len(linked.get(rid, [])) != 1:
                self.diverge("remote_create_unmirrored", account,
                             f"created at the vendor as {rid}: mirror rows {linked.get(rid)}")
        # local creates: one row, one vendor record
        for title in self.created[vendor]:
            mine = [r for r in rows if r["title"] == title]
            at_vendor = [rid for rid, t in vendor_titles.items() if t == title]
            if len(mine) > 1:
                self.diverge("duplicate_row", account, f"created {title!r} is mirror rows "
                             f"{[r['id'] for r in mine]} ({[r['remote_id'] for r in mine]})")
            if len(at_vendor) > 1:
                self.diverge("created_twice", account, f"{title!r} is {at_vendor} at the vendor")
            row = next((r for r in mine if r["remote_id"] is None), mine[0] if mine else None)
            if row is None:
                theirs = [(r["id"], r["title"], r["deleted_at"]) for r in rows
                          if str(r["remote_id"]) in at_vendor]
                creates = [(e["id"], e["row_id"], e["status"], e["attempts"], e["last_error"])
                           for e in self.outbox_rows(vendor) if e["kind"] == "create"]
                self.diverge("created_row_lost", account, f"{title!r} left the mirror; at "
                             f"the vendor {at_vendor}, mirrored as {theirs}; creates {creates}")
                continue
            if self.reported(vendor, row["id"]):
                continue
            if row["remote_id"] is None:
                self.diverge("create_unlinked", account, f"row {row['id']} {title!r} has no "
                             f"remote_id and no reported refusal; at vendor: {at_vendor}")
            elif not at_vendor:
                self.diverge("create_not_at_vendor", account,
                             f"row {row['id']} {title!r} -> {row['remote_id']} missing")
        # edits and deletions of the tracked rows
        for tracked in (t for t in self.rows if t.vendor == vendor):
            self.check_row(vendor, tracked, by_id.get(tracked.row_id), vendor_titles, held)

    def check_row(self, vendor: str, tracked: Tracked, row: dict[str, Any] | None,
                  vendor_titles: dict[str, str | None], held: set[tuple[str, int, str]]) -> None:
        account, rid = self.account(vendor), tracked.remote_id
        if row is None:
            self.diverge("row_vanished", account, f"row {tracked.row_id} is gone")
            return
        at_vendor = rid in vendor_titles
        if tracked.remotely_deleted:
            if row["deleted_at"] is None:
                self.diverge("remote_delete_missed", account,
                             f"row {row['id']} ({rid}) deleted at the vendor, live in the mirror")
            return
        if tracked.locally_deleted:
            if ALLOW_DELETE[vendor] and at_vendor and not self.reported(vendor, row["id"]):
                self.diverge("local_delete_lost", account,
                             f"row {row['id']} ({rid}) deleted locally, still at the vendor")
            if not ALLOW_DELETE[vendor] and not self.reported(vendor, row["id"]):
                self.diverge("local_delete_unreported", account,
                             f"row {row['id']} deleted without allow_delete, nothing reported")
            return
        if row["deleted_at"] is not None:
            self.diverge("row_deleted", account, f"row {row['id']} ({rid}) deleted, "
                         f"but neither side deleted it")
            return
        if not at_vendor:
            self.diverge("remote_record_lost", account, f"{rid} is gone from the vendor")
            return
        fields = ["title"] + ([self.extra_fields[(vendor, row["id"])]]
                              if (vendor, row["id"]) in self.extra_fields else [])
        for name in fields:
            if (account, row["id"], name) in held:
                continue  # an open conflict holds both values
            mirror_value = norm(row[name])
            events = self.events.get((vendor, row["id"], name), [])
            if name == "title" or vendors.OTHER_WRITABLE.get(vendor) == name:
                remote_value = norm(vendor_titles[rid] if name == "title"
                                    else vendors.vendor_value(self.world.boxes[vendor], rid, name))
                if mirror_value != remote_value and not self.reported(vendor, row["id"]):
                    self.diverge("mirror_vendor_differ", account,
                                 f"row {row['id']} ({rid}) {name}: mirror {mirror_value!r}, "
                                 f"vendor {remote_value!r}; events {events}",
                                 (vendor, tracked))
                    continue
            if not events:
                continue
            side, value = events[-1]
            if side == "local" and norm(value) != mirror_value:
                if not self.reported(vendor, row["id"]):
                    self.diverge("local_edit_lost", account,
                                 f"row {row['id']} ({rid}) {name}: local {value!r} never "
                                 f"reached the vendor, now {mirror_value!r}; events {events}",
                                 (vendor, tracked))
            elif side == "remote" and norm(value) != mirror_value:
                self.diverge("remote_edit_lost", account,
                             f"row {row['id']} ({rid}) {name}: remote {value!r}, mirror "
                             f"{mirror_value!r}; events {events}", (vendor, tracked))


def lost_answers(machine: SoakMachine) -> int:
    return sum(1 for box in machine.world.boxes.values() for r in box.requests
               if r.method in WRITES and r.status == -1)


def run_soak(tmp: Path, db_url: str, *, steps: int, seed: int = 14, min_kills: int = 0,
             steps_per_episode: int = 100, command: str = "",
             progress: Any = None, deadline: float | None = None,
             without: frozenset[str] = frozenset()) -> SoakContext:
    """Run episodes (hypothesis examples) until `steps` steps and `min_kills` kill points
    are reached; each batch of examples is seeded from `seed` (batch i uses seed + i)."""
    ctx = SoakContext(tmp=tmp, db_url=db_url, seed=seed, target_steps=steps, command=command,
                      episode_steps=steps_per_episode, without=without)
    batch = 0
    while ctx.stats.steps < steps or ctx.stats.kill_points < min_kills:
        if ctx.stats.steps >= steps:  # only kill points are missing: one more episode
            ctx.target_steps = ctx.stats.steps + steps_per_episode
        left = max(ctx.target_steps - ctx.stats.steps, steps_per_episode)
        examples = max(1, min(5, -(-left // steps_per_episode)))
        ctx.seed = seed + batch
        ctx.batch_examples = 0
        machine = type("SoakMachine", (SoakMachine,), {"ctx": ctx})
        hypothesis_seed(ctx.seed)(machine)
        # hypothesis steps a little past the episode's: a drawn action with nothing to act
        # on (five times over) is a step hypothesis counts and the soak does not
        run_state_machine_as_test(machine, _min_steps=steps_per_episode + 15, settings=settings(
            max_examples=examples + 1, stateful_step_count=steps_per_episode + 15,
            deadline=None,
            phases=[Phase.generate], database=None, derandomize=False, print_blob=False,
            suppress_health_check=list(HealthCheck)))
        batch += 1
        if progress is not None:
            progress(ctx)
        if batch > 10_000:  # pragma: no cover - a model that makes no steps
            break
        if deadline is not None and time.time() > deadline:
            break  # out of time: the report says how far it got
    return ctx
