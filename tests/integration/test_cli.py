"""The real `syncd` command line against all five sandboxes with one settings file.

Every test runs `python -m syncd --config FILE ...` in a subprocess (what a user or a cron
job runs), so the exit codes, the printed summaries and the JSON forms are the product's,
not a test double's. The sandboxes are served on loopback at a raised rate limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from syncd.canonical import Entity
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, proposals
from syncd.demo import serve_sandboxes, write_settings
from syncd.sandbox.base import Sandbox, ServedApp

RPM = 10_000
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Five:
    """Five served sandboxes and the settings entries that point syncd at them."""

    boxes: dict[str, Sandbox]
    accounts: list[dict[str, Any]]
    tmp: Path

    def settings(self, db_url: str, accounts: list[dict[str, Any]] | None = None) -> Path:
        path = self.tmp / "settings.toml"
        write_settings(path, db_url, self.accounts if accounts is None else accounts)
        return path

    def secrets(self) -> list[str]:
        return [str(v) for a in self.accounts for v in a.get("auth", {}).values()
                if len(str(v)) >= 6]

    def box(self, account: str) -> Sandbox:
        return self.boxes[account.removeprefix("t-")]


def syncd(config: Path, *args: str) -> Run:
    """Run the real console entry point; SYNCD_* variables of the test run are kept out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["COLUMNS"] = "200"
    done = subprocess.run([sys.executable, "-m", "syncd", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def five(tmp_path: Path) -> Iterator[Five]:
    served: dict[str, tuple[Sandbox, ServedApp]] = serve_sandboxes(proposals=12, rpm=RPM)
    accounts = []
    for vendor, (box, _app) in served.items():
        entry = box.account_entry(f"t-{vendor}")
        entry["requests_per_minute"] = RPM
        accounts.append(entry)
    yield Five({v: box for v, (box, _app) in served.items()}, accounts, tmp_path)
    for _box, app in served.values():  # all five shut down at once
        app.server.should_exit = True
    for _box, app in served.values():
        app.thread.join(timeout=5)


def live_rows(db_url: str) -> dict[str, dict[str, int]]:
    """Live (not deleted) rows per account and table, as a SQL report would count them."""
    db = Database(db_url)
    counts: dict[str, dict[str, int]] = {}
    with db.begin() as conn:
        for name, table in CANONICAL_TABLES.items():
            for account, n in conn.execute(
                select(table.c.account, func.count()).where(table.c.deleted_at.is_(None))
                .group_by(table.c.account)
            ):
                counts.setdefault(account, {})[str(name)] = n
    db.dispose()
    return counts


def sql(db_url: str, statement: str, **params: Any) -> list[Any]:
    db = Database(db_url)
    with db.begin() as conn:
        result = conn.execute(text(statement), params)
        rows = list(result) if result.returns_rows else []
    db.dispose()
    return rows


def first_draft(db_url: str, account: str) -> tuple[int, str]:
    """(row id, remote id) of the account's first draft proposal (editable everywhere)."""
    db = Database(db_url)
    with db.begin() as conn:
        row = conn.execute(
            select(proposals.c.id, proposals.c.remote_id).where(
                proposals.c.account == account, proposals.c.status == "draft",
                proposals.c.deleted_at.is_(None)).order_by(proposals.c.id)).first()
    db.dispose()
    assert row is not None, f"{account} has no draft proposal"
    return int(row[0]), str(row[1])


# ---- backfill and status, on SQLite and PostgreSQL -------------------------------------------
def test_backfill_fills_the_mirror_from_all_five_and_status_shows_each_account(
    five: Five, db_url: str
) -> None:
    config = five.settings(db_url)
    for _ in range(2):  # idempotent: the second upgrade finds nothing to do
        upgraded = syncd(config, "db", "upgrade")
        assert upgraded.code == 0, upgraded.err
        assert "latest schema" in upgraded.out

    backfill = syncd(config, "backfill")
    assert backfill.code == 0, backfill.out + backfill.err
    for account in five.accounts:
        assert f"✓ {account['name']}:" in backfill.out

    counts = live_rows(db_url)
    for account in five.accounts:
        expected = five.box(account["name"]).expected_counts()
        assert counts[account["name"]] == expected, account["name"]

    status = syncd(config, "status", "--format", "json")
    assert status.code == 0, status.err
    by_name = {a["account"]: a for a in status.json()}
    assert sorted(by_name) == sorted(a["name"] for a in five.accounts)
    for name, figures in by_name.items():
        box = five.box(name)
        assert figures["vendor"] == box.vendor
        assert figures["last_pull"] is not None
        assert figures["last_push"] is None
        # every request the vendor saw was budgeted and counted, none refused with a 429
        assert figures["requests_last_minute"] == len(box.requests) > 0
        assert figures["requests_last_hour"] == figures["requests_total"] == len(box.requests)
        assert figures["responses_429"] == 0
        assert figures["budget_per_minute"] == RPM
        assert figures["outbox_pending"] == 0
        assert figures["open_conflicts"] == 0
        assert figures["quarantined"] == 0
        # values kept but not fully interpreted: the drift table's counts (`syncd drift`)
        assert figures["drift"] == sql(db_url, "SELECT COALESCE(SUM(count), 0) FROM drift "
                                       "WHERE account = :a", a=name)[0][0]
        assert figures["rows"] == box.expected_counts()
        assert figures["cursors"] and not any(c["in_progress"] for c in figures["cursors"].values())

    report = syncd(config, "report", "--format", "json")
    assert report.code == 0, report.err
    per_account: dict[str, int] = {}
    for line in report.json():
        assert set(line) >= {"account", "month", "status", "proposals", "total_gross"}
        per_account[line["account"]] = per_account.get(line["account"], 0) + line["proposals"]
    assert per_account == {name: five.box(name).expected_counts()["proposals"]
                           for name in by_name}


# ---- push --dry-run, then a real sync ---------------------------------------------------------
def test_push_dry_run_lists_the_planned_requests_and_sends_none(five: Five, sqlite_url: str) -> None:
    config = five.settings(sqlite_url)
    assert syncd(config, "backfill").code == 0
    edited: dict[str, tuple[int, str, str]] = {}
    for account in five.accounts:
        name = account["name"]
        row_id, remote_id = first_draft(sqlite_url, name)
        title = f"Edited in SQL for {name}"
        sql(sqlite_url, "UPDATE proposals SET title = :t WHERE id = :i", t=title, i=row_id)
        edited[name] = (row_id, remote_id, title)
    for box in five.boxes.values():
        box.reset_log()

    dry = syncd(config, "push", "--dry-run", "--format", "json")
    assert dry.code == 0, dry.err
    plans = {p["account"]: p for p in dry.json()}
    assert sorted(plans) == sorted(edited)
    for name, plan in plans.items():
        row_id, remote_id, title = edited[name]
        assert (plan["entity"], plan["row_id"], plan["kind"], plan["fields"]) == (
            str(Entity.PROPOSALS), row_id, "update", ["title"])
        if name == "t-happyoffer":  # Happyoffer has no update endpoint: said, not sent
            assert plan["status"] == "unsupported" and plan["reason"]
            continue
        assert plan["status"] == "pending" and plan["reason"] is None
        assert plan["method"] in ("PATCH", "PUT") and remote_id in plan["path"]
        assert title in json.dumps(plan["body"])
    for box in five.boxes.values():  # a dry run spends nothing and writes nothing
        assert box.requests == [], box.vendor

    synced = syncd(config, "sync")
    # Happyoffer cannot take the edit: that sync reports it once (exit 1, reason shown) ...
    assert synced.code == 1, synced.out + synced.err
    assert "cannot change an offer after creation" in synced.out
    # ... and the next one does not report or retry it again
    quiet = syncd(config, "sync")
    assert quiet.code == 0, quiet.out + quiet.err
    for name, (_row_id, remote_id, title) in edited.items():
        box = five.box(name)
        if name == "t-happyoffer":
            assert not box.seen(method="PUT") and not box.seen(method="PATCH")
            continue
        assert box.proposal_title(remote_id) == title, name
        assert [r.method for r in box.requests if r.method in WRITES] == [
            plans[name]["method"]], name
    again = syncd(config, "push", "--dry-run", "--format", "json")
    assert [p["account"] for p in again.json() if p["status"] == "pending"] == []


# ---- conflicts ----------------------------------------------------------------------------------
def test_sync_detects_a_conflict_that_the_cli_lists_and_resolves(tmp_path: Path, five: Five) -> None:
    db_url = f"sqlite:///{tmp_path}/fresh.db"  # never migrated: `db upgrade` creates it
    config = five.settings(db_url)
    assert syncd(config, "db", "upgrade").code == 0
    assert syncd(config, "backfill").code == 0
    sides = {"t-strawblond": "local", "t-offorte": "remote"}
    rows = {}
    for name in sides:
        row_id, remote_id = first_draft(db_url, name)
        sql(db_url, "UPDATE proposals SET title = :t WHERE id = :i", t=f"Local {name}", i=row_id)
        five.box(name).remote_edit_title(remote_id, f"Vendor {name}")
        rows[name] = (row_id, remote_id)

    synced = syncd(config, "sync")
    assert synced.code == 0, synced.out + synced.err
    listed = syncd(config, "conflicts", "list", "--format", "json")
    assert listed.code == 0, listed.err
    found = {c["account"]: c for c in listed.json()}
    assert sorted(found) == sorted(sides)
    for name, conflict in found.items():
        assert (conflict["entity"], conflict["field"], conflict["status"]) == (
            "proposals", "title", "open")
        assert (conflict["row_id"], conflict["remote_id"]) == rows[name]
        assert (conflict["local_value"], conflict["remote_value"]) == (
            f"Local {name}", f"Vendor {name}")
        # manual policy: neither side was overwritten yet
        assert five.box(name).proposal_title(rows[name][1]) == f"Vendor {name}"

    for name, keep in sides.items():
        settled = syncd(config, "conflicts", "resolve", str(found[name]["id"]), "--keep", keep)
        assert settled.code == 0, settled.err
        assert f"kept {keep}" in settled.out
    assert syncd(config, "conflicts", "list", "--format", "json").json() == []
    again = syncd(config, "conflicts", "resolve", str(found["t-offorte"]["id"]), "--keep", "local")
    assert again.code == 2 and "no open conflict" in again.err

    assert syncd(config, "sync").code == 0
    # kept local: pushed to the vendor; kept remote: the mirror took the vendor's word
    assert five.box("t-strawblond").proposal_title(rows["t-strawblond"][1]) == "Local t-strawblond"
    assert five.box("t-offorte").proposal_title(rows["t-offorte"][1]) == "Vendor t-offorte"
    titles = dict(sql(db_url, "SELECT account, title FROM proposals WHERE id IN (:a, :b)",
                      a=rows["t-strawblond"][0], b=rows["t-offorte"][0]))
    assert titles == {"t-strawblond": "Local t-strawblond", "t-offorte": "Vendor t-offorte"}


# ---- exit codes -----------------------------------------------------------------------------------
BAD_SETTINGS = [
    ("plain_http_base_url", lambda a: a[1].update(base_url="http://quotes.example.com/api"),
     "accounts[1].base_url"),
    ("unknown_vendor", lambda a: a[2].update(vendor="pandadoc"), "accounts[2].vendor"),
    ("zero_budget", lambda a: a[3].update(requests_per_minute=0),
     "accounts[3].requests_per_minute"),
    ("unset_env_var", lambda a: a[4]["auth"].update(api_key="${SYNCD_CLI_TEST_UNSET}"),
     "SYNCD_CLI_TEST_UNSET"),
    ("duplicate_name", lambda a: a[0].update(name=a[1]["name"]), "accounts.name"),
]


@pytest.mark.parametrize(("spoil", "key"), [(s, k) for _n, s, k in BAD_SETTINGS],
                         ids=[n for n, _s, _k in BAD_SETTINGS])
def test_bad_settings_exit_2_naming_the_key_and_no_secret(
    five: Five, sqlite_url: str, spoil: Any, key: str
) -> None:
    accounts = json.loads(json.dumps(five.accounts))
    spoil(accounts)
    config = five.settings(sqlite_url, accounts)
    result = syncd(config, "status")
    assert result.code == 2, result.out + result.err
    assert key in result.err
    for secret in five.secrets():
        assert secret not in result.out + result.err
    for box in five.boxes.values():
        assert box.requests == []


def test_missing_settings_file_exits_2(tmp_path: Path) -> None:
    result = syncd(tmp_path / "nowhere.toml", "backfill")
    assert result.code == 2 and "--config" in result.err and "nowhere.toml" in result.err


def test_an_account_failing_exits_1_and_the_summary_names_it(five: Five, sqlite_url: str) -> None:
    accounts = json.loads(json.dumps(five.accounts))
    wrong = "qq-wrong-key-4711"
    next(a for a in accounts if a["vendor"] == "quickquote")["auth"]["api_key"] = wrong
    config = five.settings(sqlite_url, accounts)
    result = syncd(config, "backfill")
    assert result.code == 1, result.out + result.err
    failed = [line for line in result.out.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ t-quickquote:")
    assert "credentials rejected" in failed[0] or "401" in failed[0]
    for name in ("t-offorte", "t-strawblond", "t-happyoffer", "t-automa"):
        assert f"✓ {name}:" in result.out
    assert wrong not in result.out + result.err
    # the others were mirrored in full regardless
    counts = live_rows(sqlite_url)
    assert "t-quickquote" not in counts
    assert counts["t-strawblond"] == five.box("t-strawblond").expected_counts()
