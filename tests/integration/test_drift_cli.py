"""Drift you can see and fix from the command line: `syncd drift`, `status`, `remap`,
`quarantine`, the summaries of backfill, and the drift of webhook fetches and /metrics.

The commands run as `python -m syncd --config FILE ...` subprocesses (what a user runs), one
served sandbox each. Drift is produced deterministically: a sandbox `DriftPlan` that replaces
every enum word by one nobody documented, the sandbox's own `corrupt_one_record`, or an edit
of what the mirror stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from syncd.canonical import Entity, ProposalStatus
from syncd.clock import FakeClock
from syncd.db.bulk import dialect_insert
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, drift, line_items, pending_fetches, proposals, quarantine
from syncd.drift import DriftKind, DriftNote
from syncd.engine.drift_log import DriftTally, DriftWriter
from syncd.engine.metrics import render
from syncd.engine.pull import Puller
from syncd.engine.runtime import Runtime
from syncd.engine.webhooks import run_pending_fetches
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox
from syncd.sandbox.drift import DriftPlan
from tests.integration.test_cli import Run, syncd

RPM = 100_000
SIZES = {"companies": 3, "proposals": 8, "max_items": 3, "seed": 5}
UNKNOWN_WORDS = DriftPlan(seed=1, rate=1.0, kinds=frozenset({"unknown_word"}))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def write_settings(path: Path, db_url: str, accounts: list[dict[str, Any]]) -> Path:
    """A settings file with every account table (auth, paths, status_map)."""
    lines = ["[database]", f"url = {_toml(db_url)}", "", "[sync]",
             'conflict_policy = "manual"', ""]
    for account in accounts:
        lines.append("[[accounts]]")
        lines += [f"{k} = {_toml(v)}" for k, v in account.items() if not isinstance(v, dict)]
        for key, table in account.items():
            if isinstance(table, dict) and table:
                lines.append(f"[accounts.{key}]")
                lines += [f"{_toml(k)} = {_toml(v)}" for k, v in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Served:
    """One seeded sandbox served on loopback, an account entry and a settings file."""

    def __init__(self, vendor: str, tmp: Path, db_url: str, served: Callable[..., Any]) -> None:
        self.box: Sandbox = sandbox_class(vendor)(requests_per_minute=RPM)
        self.box.seed_data(**SIZES)
        served(self.box)
        self.name = f"t-{vendor}"
        self.entry = {**self.box.account_entry(self.name), "requests_per_minute": RPM}
        self.tmp = tmp
        self.db_url = db_url
        self.db = Database(db_url)
        self.config = self.settings()

    def settings(self, **changes: Any) -> Path:
        return write_settings(self.tmp / "settings.toml", self.db_url,
                              [{**self.entry, **changes}])

    def run(self, *args: str) -> Run:
        return syncd(self.config, *args)

    def rows(self, table: Any, *where: Any) -> list[dict[str, Any]]:
        with self.db.begin() as conn:
            return [dict(r) for r in conn.execute(
                select(table).where(*where).order_by(table.c.id)).mappings()]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {t: self.rows(table) for t, table in
                {**CANONICAL_TABLES, "drift": drift, "quarantine": quarantine}.items()}


@pytest.fixture
def serve_one(tmp_path: Path, served: Callable[..., Any]) -> Iterator[Callable[[str, str], Served]]:
    made: list[Served] = []

    def build(vendor: str, db_url: str) -> Served:
        one = Served(vendor, tmp_path, db_url, served)
        made.append(one)
        return one

    yield build
    for one in made:
        one.db.dispose()


# ---- drift, status, remap ----------------------------------------------------------------------
def test_unknown_status_words_are_listed_with_their_settings_line_and_a_remap_maps_them(
    serve_one: Callable[[str, str], Served], db_url: str
) -> None:
    one = serve_one("happyoffer", db_url)
    one.box.drift = UNKNOWN_WORDS
    backfill = one.run("backfill")
    assert backfill.code == 0, backfill.out + backfill.err  # records kept: drift alone is no failure
    assert f"✓ {one.name}:" in backfill.out and "0 quarantined" in backfill.out
    last = backfill.out.strip().splitlines()[-1]
    assert last == f"{last.split()[0]} values could not be interpreted: run `syncd drift`", last
    (line,) = [x for x in backfill.out.splitlines() if x.startswith(f"✓ {one.name}:")]
    assert line.endswith(f", {last.split()[0]} values not interpreted")
    unmapped = {r["vendor_status"] for r in one.rows(proposals) if r["status"] is None
                and r["vendor_status"]}
    assert unmapped and int(last.split()[0]) >= len(unmapped)

    listed = one.run("drift", "--format", "json")
    assert listed.code == 0, listed.err
    report = listed.json()
    assert report["canonical_statuses"] == [str(s) for s in ProposalStatus]
    hints = report["status_hints"]
    words = {h["word"] for h in hints}  # a manual rejection wins over a word: not all are NULL
    assert words >= unmapped
    for hint in hints:
        assert hint["account"] == one.name and hint["section"] == "[accounts.status_map]"
        assert hint["setting"] == f'{_toml(hint["word"])} = "<canonical status>"'
        assert hint["mapped_to"] is None
    rows = report["drift"]
    assert {r["kind"] for r in rows} >= {"unmapped_word"}
    assert set(rows[0]) == {"account", "stream", "kind", "path", "word", "example_value",
                            "example_remote_id", "count", "first_seen", "last_seen"}
    table = one.run("drift")
    assert table.code == 0 and "[accounts.status_map]" in table.out
    assert f"# account '{one.name}'" in table.out and "draft, sent, viewed" in table.out
    for word in words:
        assert f'{_toml(word)} = "<canonical status>"' in table.out

    status = one.run("status", "--format", "json")
    (figures,) = status.json()
    assert figures["drift"] == sum(r["count"] for r in rows) > 0
    assert " drift " in one.run("status").out

    # the user maps every word; a dry run says what would change and changes nothing
    one.config = one.settings(status_map=dict.fromkeys(sorted(words), "sent"))
    assert all(h["mapped_to"] == "sent" for h in one.run("drift", "--format", "json")
               .json()["status_hints"])
    before, sent = one.snapshot(), len(one.box.requests)
    dry = one.run("remap", "--dry-run", "--format", "json")
    assert dry.code == 0, dry.out + dry.err
    (would,) = dry.json()
    assert would["dry_run"] and would["account"] == one.name
    assert would["changed"]["proposals"] >= len([r for r in before["proposals"]
                                                 if r["status"] is None])
    assert one.snapshot() == before
    text = one.run("remap", "--dry-run")
    assert "would change: proposals" in text.out and "dry run: nothing was written" in text.out

    done = one.run("remap")
    assert done.code == 0, done.out + done.err
    assert f"{one.name}: {would['records']} records re-mapped, changed: proposals" in done.out
    assert len(one.box.requests) == sent  # not one request
    assert not [r for r in one.rows(proposals) if r["vendor_status"] in words
                and r["status"] is None]
    after = one.run("drift", "--format", "json").json()
    assert after["status_hints"] == []
    assert one.run("status", "--format", "json").json()[0]["drift"] < figures["drift"]


def test_a_backfill_with_only_readable_drift_ends_with_the_quieter_line(
    serve_one: Callable[[str, str], Served], sqlite_url: str
) -> None:
    one = serve_one("happyoffer", sqlite_url)
    one.box.drift = DriftPlan(seed=2, rate=1.0, kinds=frozenset({"new_field"}))
    backfill = one.run("backfill")
    assert backfill.code == 0, backfill.out + backfill.err
    last = backfill.out.strip().splitlines()[-1]
    assert "could not be interpreted" not in backfill.out
    assert last.endswith("(kept in raw): see `syncd drift`"), last
    assert one.run("drift", "--format", "json").json()["status_hints"] == []


# ---- quarantine --------------------------------------------------------------------------------
def test_a_quarantined_record_fails_the_backfill_by_name_and_quarantine_commands_handle_it(
    serve_one: Callable[[str, str], Served], db_url: str
) -> None:
    one = serve_one("quickquote", db_url)
    broken = one.box.corrupt_one_record()
    backfill = one.run("backfill")
    assert backfill.code == 1, backfill.out + backfill.err
    assert f"✗ {one.name}:" in backfill.out and "1 quarantined" in backfill.out
    (named,) = [line for line in backfill.out.splitlines() if "quarantined quotes" in line]
    assert f"quarantined quotes {broken} (#" in named

    listed = one.run("quarantine", "list", "--format", "json")
    assert listed.code == 0, listed.err
    (entry,) = listed.json()
    assert (entry["account"], entry["stream"], entry["remote_id"]) == (one.name, "quotes", broken)
    assert entry["error"] and entry["created_at"]
    assert str(entry["id"]) in one.run("quarantine", "list").out

    # what the vendor sent is shown pretty-printed, secrets masked
    key = one.entry["auth"]["api_key"]
    with one.db.begin() as conn:
        raw = json.loads(conn.execute(select(quarantine.c.raw).where(
            quarantine.c.id == entry["id"])).scalar_one())
        conn.execute(update(quarantine).where(quarantine.c.id == entry["id"]).values(
            raw=json.dumps({**raw, "meta": {"access_token": "tok-live-981"},
                            "note": f"key {key}"})))
    shown = one.run("quarantine", "show", str(entry["id"]))
    assert shown.code == 0, shown.err
    assert f"#{entry['id']} {one.name} quotes {broken} (unresolved" in shown.out
    assert "error: " in shown.out and f'"id": {json.dumps(raw["id"])}' in shown.out
    assert '"access_token": "***"' in shown.out
    assert "tok-live-981" not in shown.out and key not in shown.out
    assert one.run("quarantine", "show", "99999").code == 2

    still = one.run("quarantine", "retry", str(entry["id"]))
    assert still.code == 1 and f"still quarantined #{entry['id']}" in still.out

    # a record an older syncd quarantined, which maps now: released by `retry`
    (row, *_) = one.rows(proposals, proposals.c.account == one.name)
    with one.db.begin() as conn:
        conn.execute(delete(line_items).where(line_items.c.proposal_id == row["id"]))
        conn.execute(delete(proposals).where(proposals.c.id == row["id"]))
        old = conn.execute(insert(quarantine).values(
            account=one.name, stream="quotes", remote_id=row["remote_id"], error="old",
            raw=json.dumps(row["raw"]["quotes"]), created_at=row["synced_at"],
        )).inserted_primary_key[0]
    sent = len(one.box.requests)
    released = one.run("quarantine", "retry", str(old))
    assert released.code == 0, released.out + released.err
    assert f"released #{old} {one.name} quotes {row['remote_id']}" in released.out
    assert "1 released, 0 still quarantined" in released.out
    assert len(one.box.requests) == sent
    (back,) = one.rows(proposals, proposals.c.remote_id == row["remote_id"])
    assert back["status"] == row["status"] and back["title"] == row["title"]
    assert [e["id"] for e in one.run("quarantine", "list", "--format", "json").json()] == [
        entry["id"]]
    # a remap leaves the one still failing where it is, and exits 0: nothing new failed
    remap = one.run("remap")
    assert remap.code == 0 and "1 still quarantined" in remap.out


def test_a_stored_record_that_no_longer_maps_fails_the_remap_by_name(
    serve_one: Callable[[str, str], Served], sqlite_url: str
) -> None:
    one = serve_one("quickquote", sqlite_url)
    assert one.run("backfill").code == 0
    row = one.rows(proposals)[0]
    with one.db.begin() as conn:
        conn.execute(update(proposals).where(proposals.c.id == row["id"]).values(
            raw={"quotes": {**row["raw"]["quotes"], "line_items": "[object Object]"}},
            sync_rev=row["sync_rev"] + 1))
    remap = one.run("remap", "--format", "json")
    assert remap.code == 1
    (result,) = remap.json()
    assert [(q["stream"], q["remote_id"]) for q in result["quarantined"]] == [
        ("quotes", row["remote_id"])]
    text = one.run("quarantine", "list", "--format", "json").json()
    assert [(q["stream"], q["remote_id"]) for q in text] == [("quotes", row["remote_id"])]


# ---- webhook fetches and metrics -------------------------------------------------------------------
def test_the_drift_of_a_webhook_fetch_reaches_the_drift_table(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    clock = FakeClock()
    box = sandbox_class("happyoffer")(requests_per_minute=RPM, clock=clock)
    box.seed_data(**SIZES)
    served(box)
    entry = {**box.account_entry("a"), "requests_per_minute": RPM}
    runtime = make_runtime(db_url, [entry], clock)
    assert Puller(runtime, runtime.account("a")).run(sweep=True, kind="backfill").ok
    with runtime.db.begin() as conn:
        conn.execute(delete(drift))
        rids = list(conn.execute(select(proposals.c.remote_id)).scalars())
        for rid in rids:  # the offers of a child company answer 403: those stay queued
            conn.execute(dialect_insert(conn, pending_fetches).values(
                account="a", entity=str(Entity.PROPOSALS), remote_id=rid, deleted=False,
                reason="offer.updated", created_at=clock.now()))
    box.drift = UNKNOWN_WORDS
    assert run_pending_fetches(runtime, "a") >= 1
    stream = runtime.account("a").connector.stream_for(Entity.PROPOSALS)
    with runtime.db.begin() as conn:
        left = set(conn.execute(select(pending_fetches.c.remote_id)).scalars())
        noted = [dict(r) for r in conn.execute(select(drift).where(
            drift.c.kind == "unmapped_word")).mappings()]
        words = dict(conn.execute(select(proposals.c.remote_id, proposals.c.vendor_status)).all())
    fetched = set(rids) - left
    assert noted and {r["stream"] for r in noted} == {stream}
    assert {r["example_remote_id"] for r in noted} <= fetched
    assert {words[r] for r in fetched} <= {r["example_value"] for r in noted}


def test_metrics_export_the_drift_per_account_and_kind(
    db_url: str, make_runtime: Callable[..., Runtime]
) -> None:
    accounts = [{"name": n, "vendor": "quickquote", "base_url": "http://127.0.0.1:9",
                 "auth": {"api_key": "k-123456"}} for n in ("a", "b")]
    runtime = make_runtime(db_url, accounts)
    tally = DriftTally()
    tally.add("1", [DriftNote(DriftKind.UNMAPPED_WORD, "status", "Archiviert")] * 3
              + [DriftNote(DriftKind.UNMAPPED_WORD, "status", "On Hold"),
                 DriftNote(DriftKind.COERCED_VALUE, "total", "12")])
    with runtime.db.begin() as conn:
        DriftWriter(runtime.settings.account("a"), runtime.clock.now()).add(conn, "quotes", tally)
        DriftWriter(runtime.settings.account("b"), runtime.clock.now()).add(conn, "x", tally)
        total = conn.execute(select(func.sum(drift.c["count"]))).scalar()
    text = render(runtime, ["a", "b"])
    assert "# TYPE syncd_drift_total gauge" in text
    for name in ("a", "b"):
        assert f'syncd_drift_total{{account="{name}",kind="unmapped_word"}} 4' in text
        assert f'syncd_drift_total{{account="{name}",kind="coerced_value"}} 1' in text
    assert total == 10
