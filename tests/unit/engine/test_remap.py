"""`syncd remap`: the mirror re-derived from the vendor JSON it holds, with no request.

Each test backfills a served sandbox into a mirror, changes what syncd knows (an account
`status_map` entry, or the stored raw itself, the way a vendor's other words would have
arrived) and remaps. Outcomes asserted: the rows a fresh backfill would give, base
snapshots that keep the three-way merge honest (an unpushed edit survives, a remap is no
local change and no echo), the drift table, the quarantine, and the sandbox's request log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from syncd.canonical import FIELDS, REFERENCES, Entity, ProposalStatus
from syncd.clock import FakeClock
from syncd.db.tables import (
    CANONICAL_TABLES,
    change_log,
    drift,
    fingerprints,
    line_items,
    outbox,
    proposals,
    quarantine,
)
from syncd.drift import normalize_word
from syncd.engine.pull import Puller, PullResult
from syncd.engine.push import Pusher
from syncd.engine.remap import RemapResult, remap_accounts, retry_quarantined
from syncd.engine.runtime import Runtime
from syncd.engine.status import drift_report
from syncd.errors import SettingsError
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox
from syncd.vendors import registered_vendors
from syncd.vendors.base import default_fingerprint

RPM = 100_000
SIZES = {"companies": 3, "proposals": 8, "max_items": 3, "seed": 5}
VENDORS = registered_vendors()


@dataclass
class Mirror:
    """One served sandbox, backfilled into account "a" of a mirror."""

    sandbox: Sandbox
    entry: dict[str, Any]
    clock: FakeClock
    db_url: str
    make_runtime: Callable[..., Runtime]
    runtime: Runtime

    def with_settings(self, name: str = "a", **changes: Any) -> Runtime:
        return self.make_runtime(self.db_url, [{**self.entry, "name": name, **changes}],
                                 self.clock)

    def pull(self, runtime: Runtime | None = None, *, sweep: bool = True,
             name: str = "a") -> PullResult:
        rt = runtime or self.runtime
        return Puller(rt, rt.account(name)).run(sweep=sweep, kind="backfill" if sweep else "pull")

    def remap(self, runtime: Runtime | None = None, **kw: Any) -> RemapResult:
        self.clock.advance(60)
        before = len(self.sandbox.requests)
        (result,) = remap_accounts(runtime or self.runtime, ["a"], **kw)
        assert len(self.sandbox.requests) == before, "a remap sent requests"
        return result

    def rows(self, table: Any, *where: Any) -> list[dict[str, Any]]:
        with self.runtime.db.begin() as conn:
            return [dict(r) for r in conn.execute(
                select(table).where(table.c.account == "a", *where).order_by(table.c.id)
            ).mappings()]

    def execute(self, statement: Any) -> None:
        with self.runtime.db.begin() as conn:
            conn.execute(statement)

    def count(self, table: Any, *where: Any) -> int:
        with self.runtime.db.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def fingerprints(self) -> dict[tuple[str, str], str]:
        with self.runtime.db.begin() as conn:
            return {(s, r): f for s, r, f in conn.execute(
                select(fingerprints.c.stream, fingerprints.c.remote_id,
                       fingerprints.c.fingerprint).where(fingerprints.c.account == "a"))}

    def set_raw(self, row: dict[str, Any], stream: str, record: Any,
                fingerprint: bool = True) -> None:
        """Store other vendor JSON for a row, as if the last pull had read it: an engine
        write (sync_rev bumped, no local change) with its fingerprint, so the remap trusts
        it is what the stream read."""
        self.execute(update(proposals).where(proposals.c.id == row["id"]).values(
            raw={**row["raw"], stream: record}, sync_rev=proposals.c.sync_rev + 1))
        if fingerprint:
            self.execute(update(fingerprints).where(
                fingerprints.c.account == "a", fingerprints.c.stream == stream,
                fingerprints.c.remote_id == row["remote_id"],
            ).values(fingerprint=default_fingerprint(record)))


@pytest.fixture
def mirror(db_url: str, make_runtime: Callable[..., Runtime],
           served: Callable[..., Any]) -> Callable[[str], Mirror]:
    def build(vendor: str) -> Mirror:
        clock = FakeClock()
        box = sandbox_class(vendor)(requests_per_minute=RPM, clock=clock)
        box.seed_data(**SIZES)
        served(box)
        entry = {**box.account_entry("a"), "requests_per_minute": RPM}
        made = Mirror(box, entry, clock, db_url, make_runtime,
                      make_runtime(db_url, [entry], clock))
        result = made.pull()
        assert result.ok and not result.total("quarantined"), result.errors
        made.clock.advance(60)
        return made

    return build


def canonical_view(runtime: Runtime, account: str) -> dict[str, dict[str, Any]]:
    """Every live row of an account by table and remote id, references as remote ids: what
    two mirrors of the same vendor data must agree on."""
    out: dict[str, dict[str, Any]] = {}
    with runtime.db.begin() as conn:
        remote: dict[str, dict[int, str]] = {}
        for name, table in CANONICAL_TABLES.items():
            rows = [dict(r) for r in conn.execute(select(table).where(
                table.c.account == account)).mappings()]
            remote[name] = {r["id"]: r["remote_id"] for r in rows}
            out[name] = {r["remote_id"]: r for r in rows if r["deleted_at"] is None}
    view: dict[str, dict[str, Any]] = {}
    for name, rows in out.items():
        refs = {**REFERENCES.get(name, {}), **({"proposal_id": Entity.PROPOSALS}
                                              if name == Entity.LINE_ITEMS else {})}
        view[name] = {
            rid: {f: (remote[refs[f]].get(r[f]) if f in refs else r[f])
                  for f in (*FIELDS[name], *(("proposal_id",) if name == Entity.LINE_ITEMS else ()))}
            for rid, r in rows.items() if rid is not None}
    return view


def same_as_fresh(before: dict[str, Any], remapped: dict[str, Any], fresh: dict[str, Any]) -> bool:
    """Whether remapped rows are what a fresh backfill gives, field by field, except a value
    the mapping no longer gives at all: a remap, like a pull, does not clear what the
    record no longer says (Automa.Net's `sent_at` of a quote now mapped as ordered)."""
    assert remapped.keys() == fresh.keys()
    for table, rows in remapped.items():
        assert rows.keys() == fresh[table].keys(), table
        for rid, row in rows.items():
            for name, value in row.items():
                earlier = before[table].get(rid, {}).get(name)
                kept = fresh[table][rid][name] is None and value == earlier
                assert value == fresh[table][rid][name] or kept, (table, rid, name)
    return True


def _most_common_word(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """The vendor word most rows hold, and a canonical status none of those rows has."""
    counts: dict[str, int] = {}
    for r in rows:
        if r["vendor_status"]:
            counts[r["vendor_status"]] = counts.get(r["vendor_status"], 0) + 1
    word = max(sorted(counts), key=lambda w: counts[w])
    held = {r["status"] for r in rows if r["vendor_status"] == word}
    target = next(s for s in (ProposalStatus.ORDERED, ProposalStatus.CANCELED,
                              ProposalStatus.EXPIRED) if s not in held)
    return word, str(target)


# ---- every vendor ------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_status_map_entry_and_a_remap_give_what_a_fresh_backfill_gives(
    vendor: str, mirror: Callable[[str], Mirror]
) -> None:
    m = mirror(vendor)
    word, target = _most_common_word(m.rows(proposals))
    prints, before = m.fingerprints(), canonical_view(m.runtime, "a")
    mapped = m.with_settings(status_map={word: target})
    result = m.remap(mapped)

    assert result.tables["proposals"]["updated"] >= 1 and not result.skipped
    fixed = [r for r in m.rows(proposals) if r["vendor_status"] == word]
    assert fixed and {r["base"]["status"] for r in fixed} & {target}
    # the rows a backfill with this setting gives, read from the vendor afresh
    fresh = m.with_settings("b", status_map={word: target})
    assert m.pull(fresh, name="b").ok
    assert same_as_fresh(before, canonical_view(m.runtime, "a"), canonical_view(m.runtime, "b"))
    # no local change, nothing to push, fingerprints untouched
    assert m.count(change_log) == 0 and m.count(outbox) == 0
    assert m.fingerprints() == prints
    assert Pusher(mapped, mapped.account("a")).plan_only() == []
    # done once: remapping again and the next pull change nothing
    again = m.remap(mapped)
    assert sum(again.changed().values()) == 0 and again.conflicts == 0
    m.clock.advance(600)
    pulled = m.pull(mapped, sweep=False)
    assert pulled.ok and sum(s.writes.written for s in pulled.streams) == 0


# ---- Quick Quote: one list, line items inside, default fingerprints ----------------------------
def test_an_unpushed_local_edit_survives_a_remap_and_is_still_pushed(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    word, target = _most_common_word(m.rows(proposals))
    row = next(r for r in m.rows(proposals) if r["vendor_status"] == word)
    m.execute(update(proposals).where(proposals.c.id == row["id"]).values(title="Edited in SQL"))
    logged = m.count(change_log)
    assert logged >= 1

    mapped = m.with_settings(status_map={word: target})
    m.remap(mapped)
    (after,) = m.rows(proposals, proposals.c.id == row["id"])
    assert after["title"] == "Edited in SQL" and after["base"]["title"] == row["base"]["title"]
    assert after["status"] == target == after["base"]["status"]
    assert m.count(change_log) == logged and m.count(outbox) == 0
    plans = Pusher(mapped, mapped.account("a")).plan_only()
    assert [(p.row_id, p.fields) for p in plans] == [(row["id"], ["title"])]


def test_a_row_pushed_since_its_raw_was_read_is_left_for_the_next_pull(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    # a quote Quick Quote still lets one edit (Created, Sent, Viewed)
    pushed = next(r for r in m.rows(proposals) if r["status"] in ("draft", "sent", "viewed"))
    m.execute(update(proposals).where(proposals.c.id == pushed["id"]).values(title="Pushed title"))
    done = Pusher(m.runtime, m.runtime.account("a")).run()
    assert done.done == 1 and m.sandbox.proposal_title(pushed["remote_id"]) == "Pushed title"
    logged = m.count(change_log)

    every_word = {r["vendor_status"]: "ordered" for r in m.rows(proposals)}
    mapped = m.with_settings(status_map=every_word)
    result = m.remap(mapped)
    # the proposal and its line items (their raw is as old as the proposal's)
    assert result.kept_pushed == 1 + m.count(line_items, line_items.c.proposal_id == pushed["id"])
    (kept,) = m.rows(proposals, proposals.c.id == pushed["id"])
    assert kept["title"] == "Pushed title" == kept["base"]["title"]  # not rolled back
    assert kept["status"] == pushed["status"]  # left as it is, for the next pull
    assert {r["status"] for r in m.rows(proposals) if r["id"] != pushed["id"]} == {"ordered"}
    m.clock.advance(600)
    assert m.pull(mapped, sweep=False).ok
    (refreshed,) = m.rows(proposals, proposals.c.id == pushed["id"])
    assert (refreshed["title"], refreshed["status"]) == ("Pushed title", "ordered")
    assert m.count(change_log) == logged  # no local change since the push
    assert Pusher(mapped, mapped.account("a")).plan_only() == []


def test_a_dry_run_reports_the_same_figures_and_writes_nothing(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    word, target = _most_common_word(m.rows(proposals))
    mapped = m.with_settings(status_map={word: target})
    before = {t: m.rows(table) for t, table in CANONICAL_TABLES.items()}
    drift_before = m.rows(drift)

    dry = m.remap(mapped, dry_run=True)
    assert dry.dry_run and dry.tables["proposals"]["updated"] >= 1
    assert {t: m.rows(table) for t, table in CANONICAL_TABLES.items()} == before
    assert m.rows(drift) == drift_before
    real = m.remap(mapped)
    assert {**real.as_json(), "dry_run": True} == dry.as_json()
    assert m.rows(proposals) != before["proposals"]


def test_an_unknown_word_is_noted_then_mapped_and_the_drift_replaced(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("offorte")
    row = m.rows(proposals)[0]
    m.set_raw(row, "proposals", {**row["raw"]["proposals"], "status": "Archiviert"})
    m.execute(insert(drift).values(account="a", stream="proposals", kind="coerced_value",
                                   path="no.longer.met", word="", count=7))
    m.execute(insert(drift).values(account="a", stream="elsewhere", kind="coerced_value",
                                   path="kept", word="", count=3))

    first = m.remap()
    assert first.drift["unmapped_word"] == 1 and "proposals" not in first.unverified
    (held,) = m.rows(proposals, proposals.c.id == row["id"])
    assert (held["status"], held["vendor_status"]) == (None, "Archiviert")
    words = {(r["stream"], r["kind"], r["word"]): r for r in m.rows(drift)}
    noted = words[("proposals", "unmapped_word", "archiviert")]
    assert (noted["count"], noted["example_remote_id"]) == (1, row["remote_id"])
    assert ("proposals", "coerced_value", "") not in words  # replaced by what the remap met
    assert words[("elsewhere", "coerced_value", "")]["count"] == 3  # not a stream it re-read

    second = m.remap(m.with_settings(status_map={"ARCHIVIERT": "canceled"}))
    assert second.tables["proposals"]["updated"] == 1 and not second.drift["unmapped_word"]
    (mapped,) = m.rows(proposals, proposals.c.id == row["id"])
    assert (mapped["status"], mapped["vendor_status"]) == ("canceled", "Archiviert")
    assert mapped["base"]["status"] == "canceled"
    assert not [r for r in m.rows(drift) if r["kind"] == "unmapped_word"]
    assert m.count(change_log) == 0 and m.count(outbox) == 0


def test_a_line_item_types_entry_and_a_remap_turn_stored_elements_into_line_items(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("offorte")
    row = next(r for r in m.rows(proposals) if (r["raw"]["proposals"].get("content") or {})
               .get("pricetables"))
    record = json.loads(json.dumps(row["raw"]["proposals"]))
    record["content"]["pricetables"][0]["rows"].append(
        {"id": 990001, "type": "bundle_item", "content": "<p>Support bundle</p>"})
    m.set_raw(row, "proposals", record)
    items = m.count(line_items, line_items.c.proposal_id == row["id"],
                    line_items.c.deleted_at.is_(None))

    first = m.remap()  # no quantity, price or amount: kept in raw only, the type noted
    assert first.tables["line_items"]["inserted"] == 0 and first.drift["unmapped_word"] == 1
    with m.runtime.db.begin() as conn:
        (hint,) = drift_report(conn, m.runtime.settings, ["a"])["line_item_type_hints"]
    assert (hint["word"], hint["setting"]) == ("bundle_item", 'line_item_types = ["bundle_item"]')

    listed = m.with_settings(line_item_types=["Bundle Item"])
    second = m.remap(listed)
    assert second.tables["line_items"]["inserted"] == 1 and not second.drift["unmapped_word"]
    assert m.count(line_items, line_items.c.proposal_id == row["id"],
                   line_items.c.deleted_at.is_(None)) == items + 1
    (added,) = m.rows(line_items, line_items.c.remote_id == "990001")
    assert added["name"] == "Support bundle" and added["base"]["name"] == "Support bundle"
    with m.runtime.db.begin() as conn:
        assert drift_report(conn, listed.settings, ["a"])["line_item_type_hints"] == []
    assert m.count(change_log) == 0 and m.count(outbox) == 0


def test_a_stored_record_that_no_longer_maps_is_quarantined_and_its_row_kept(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    row = m.rows(proposals)[1]
    m.set_raw(row, "quotes", {**row["raw"]["quotes"], "line_items": "[object Object]"})
    result = m.remap()
    assert [(q["stream"], q["remote_id"]) for q in result.quarantined] == [
        ("quotes", row["remote_id"])]
    (held,) = m.rows(quarantine, quarantine.c.resolved_at.is_(None))
    assert (held["stream"], held["remote_id"]) == ("quotes", row["remote_id"])
    assert json.loads(held["raw"])["line_items"] == "[object Object]"
    (kept,) = m.rows(proposals, proposals.c.id == row["id"])
    assert {k: kept[k] for k in FIELDS["proposals"]} == {k: row[k] for k in FIELDS["proposals"]}
    assert m.count(line_items, line_items.c.proposal_id == row["id"],
                   line_items.c.deleted_at.is_(None)) == m.count(
        line_items, line_items.c.proposal_id == row["id"])


def test_a_row_holding_other_data_than_its_streams_record_is_skipped(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    row = m.rows(proposals)[0]
    m.set_raw(row, "quotes", {"note": "not a quote"}, fingerprint=False)
    m.execute(insert(drift).values(account="a", stream="quotes", kind="coerced_value",
                                   path="total", word="", count=4))
    result = m.remap(m.with_settings(status_map={row["vendor_status"]: "ordered"}))
    assert result.skipped == {"quotes": 1} and not result.quarantined
    (kept,) = m.rows(proposals, proposals.c.id == row["id"])
    assert kept["status"] == row["status"]  # not re-derived from what is no quote
    others = [r for r in m.rows(proposals) if r["id"] != row["id"]
              and normalize_word(r["vendor_status"]) == normalize_word(row["vendor_status"])]
    assert all(r["status"] == "ordered" for r in others)
    # not every record was re-read: the stream's drift stays as the pulls left it
    assert [(r["kind"], r["count"]) for r in m.rows(drift, drift.c.path == "total")] == [
        ("coerced_value", 4)]


# ---- quarantined records -------------------------------------------------------------------------
def test_quarantined_records_are_released_when_they_map_and_kept_when_not(
    mirror: Callable[[str], Mirror]
) -> None:
    m = mirror("quickquote")
    gone, broken = m.rows(proposals)[:2]
    items = m.count(line_items, line_items.c.proposal_id == gone["id"])
    # a quote that was quarantined by an older syncd: not in the mirror, raw kept
    m.execute(delete(line_items).where(line_items.c.proposal_id == gone["id"]))
    m.execute(delete(proposals).where(proposals.c.id == gone["id"]))
    entries = {}
    for key, rid, raw, error in (
        ("gone", gone["remote_id"], gone["raw"]["quotes"], "ValidationError: status"),
        ("broken", broken["remote_id"], {**broken["raw"]["quotes"], "line_items": 7}, "old"),
        ("no_id", None, {"status": "Sent"}, "quotes: record without a usable id"),
    ):
        with m.runtime.db.begin() as conn:
            entries[key] = conn.execute(insert(quarantine).values(
                account="a", stream="quotes", remote_id=rid, error=error, raw=json.dumps(raw),
                created_at=m.clock.now())).inserted_primary_key[0]

    (only,) = retry_quarantined(m.runtime, [entries["no_id"]])
    assert only.released == [] and [h["id"] for h in only.held] == [entries["no_id"]]
    result = m.remap()
    assert [(e["id"], e["remote_id"]) for e in result.released] == [
        (entries["gone"], gone["remote_id"])]
    assert sorted(h["id"] for h in result.held) == sorted([entries["broken"], entries["no_id"]])
    (back,) = m.rows(proposals, proposals.c.remote_id == gone["remote_id"])
    assert back["status"] == gone["status"] and back["base"]["status"] == gone["status"]
    assert m.count(line_items, line_items.c.proposal_id == back["id"]) == items
    state = {r["id"]: r for r in m.rows(quarantine)}
    assert state[entries["gone"]]["resolved_at"] is not None
    assert state[entries["broken"]]["resolved_at"] is None
    assert state[entries["broken"]]["error"] != "old"  # the error as it is now
    assert m.count(change_log) == 0 and m.count(outbox) == 0
    with pytest.raises(SettingsError, match="no unresolved quarantined record"):
        retry_quarantined(m.runtime, [entries["gone"]])
