"""syncd.engine.store.MirrorWriter: the three-way merge, on SQLite and PostgreSQL.

Each test applies hand-built bundles (what a connector would produce) and edits the mirror
with plain SQL the way a user would, then asserts rows, `base`, `sync_rev`, `change_log` and
`conflicts`.

The per-account `currency` setting: given by the mirror writer to proposals the vendor
sends without one (Quick Quote, StrawBlond), never over a currency the vendor does send.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from syncd.canonical import Bundle
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, change_log, conflicts, proposals
from syncd.engine.pull import Puller
from syncd.engine.remap import remap_accounts
from syncd.engine.runtime import Runtime
from syncd.engine.store import MirrorWriter, WriteStats, with_currency
from syncd.engine.values import norm
from syncd.errors import SettingsError
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.quickquote import QuickQuoteSandbox
from syncd.settings import settings_from_dict

ACCOUNT = "acct"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
UPDATED = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def db(mirror_url: str) -> Iterator[Database]:
    database = Database(mirror_url)
    yield database
    database.dispose()


def bundle(title: str = "Kitchen", updated: datetime = UPDATED, items: int = 2,
           complete: bool = True, **proposal: Any) -> Bundle:
    """One company, contact, proposal and `items` line items, as a connector maps them."""
    return Bundle(
        companies=[{"remote_id": "c1", "name": "Acme BV", "email": "info@acme.test",
                    "raw": {"id": "c1", "name": "Acme BV"}}],
        contacts=[{"remote_id": "p1", "company_id": "c1", "first_name": "Ann",
                   "last_name": "Lee", "full_name": "Ann Lee", "raw": {"id": "p1"}}],
        proposals=[{"remote_id": "q1", "number": "Q-1", "title": title, "status": "sent",
                    "vendor_status": "Sent", "company_id": "c1", "contact_id": "p1",
                    "currency": "EUR", "total_net": Decimal("100.5"),
                    "total_tax": Decimal("21.105"), "total_gross": Decimal("121.605"),
                    "created_at": datetime(2025, 4, 1, tzinfo=UTC), "updated_at": updated,
                    "raw": {"id": "q1", "title": title}, **proposal}],
        line_items=[{"remote_id": f"l{n}", "proposal_remote_id": "q1", "position": n,
                     "name": f"Item {n}", "quantity": Decimal("2"),
                     "unit_price": Decimal("25.125"), "total_net": Decimal("50.25"),
                     "optional": False, "raw": {"id": f"l{n}"}} for n in range(1, items + 1)],
        complete_line_items={"q1"} if complete else set(),
    )


def apply(db: Database, data: Bundle, policy: str = "manual", now: datetime = NOW) -> WriteStats:
    with db.begin() as conn:
        return MirrorWriter(ACCOUNT, policy, now).apply(conn, copy.deepcopy(data), "quotes")


def row(db: Database, entity: str = "proposals", remote_id: str = "q1") -> dict[str, Any]:
    table = CANONICAL_TABLES[entity]
    with db.begin() as conn:
        found = conn.execute(select(table).where(table.c.account == ACCOUNT,
                                                 table.c.remote_id == remote_id)).mappings().one()
    return dict(found)


def user_sql(db: Database, sql: str) -> None:
    """A user's plain-SQL edit, not through the engine."""
    with db.begin() as conn:
        conn.execute(text(sql))


def change_log_rows(db: Database) -> list[tuple[str, int, str]]:
    with db.begin() as conn:
        return [tuple(r) for r in conn.execute(
            select(change_log.c.table_name, change_log.c.row_id, change_log.c.op)
            .order_by(change_log.c.id))]


def conflict_rows(db: Database) -> list[dict[str, Any]]:
    with db.begin() as conn:
        return [dict(r) for r in conn.execute(select(conflicts).order_by(conflicts.c.id)).mappings()]


def revs(db: Database) -> dict[tuple[str, str], int]:
    out = {}
    with db.begin() as conn:
        for name, table in CANONICAL_TABLES.items():
            for rid, rev in conn.execute(select(table.c.remote_id, table.c.sync_rev)):
                out[(name, rid)] = rev
    return out


class TestInsertAndReapply:
    def test_insert_creates_rows_with_base_and_resolved_references(self, db: Database) -> None:
        stats = apply(db, bundle())
        assert stats.inserted == 5 and stats.updated == 0
        proposal = row(db)
        assert proposal["title"] == "Kitchen"
        assert proposal["total_gross"] == Decimal("121.605")
        assert proposal["company_id"] == row(db, "companies", "c1")["id"]
        assert proposal["contact_id"] == row(db, "contacts", "p1")["id"]
        assert row(db, "contacts", "p1")["company_id"] == row(db, "companies", "c1")["id"]
        assert proposal["base"]["title"] == "Kitchen"
        assert proposal["raw"] == {"quotes": {"id": "q1", "title": "Kitchen"}}
        assert proposal["sync_rev"] == 1
        assert row(db, "line_items", "l2")["proposal_id"] == proposal["id"]
        assert change_log_rows(db) == []

    def test_unchanged_reapply_writes_nothing(self, db: Database) -> None:
        apply(db, bundle())
        before = revs(db)
        stats = apply(db, bundle())
        assert stats.written == 0 and stats.inserted == 0 and stats.updated == 0
        assert stats.unchanged == 5
        assert revs(db) == before
        assert change_log_rows(db) == []

    def test_same_amount_in_another_spelling_is_unchanged(self, db: Database) -> None:
        apply(db, bundle())
        stats = apply(db, bundle(total_gross=Decimal("121.6050"), total_net=100.5))
        assert stats.written == 0


class TestBaseMatchesMirror:
    """After an engine write the mirror row must equal its base, or reconcile would see a
    phantom local edit and push (or report as unsupported) a value nobody changed."""

    @pytest.mark.parametrize(("column", "value"), [
        ("total_tax", Decimal(100) / Decimal(3)),  # more decimals than NUMERIC(18,4) keeps
        ("total_gross", Decimal("12345678901234.5678")),  # 18 digits: more than a REAL holds
        ("total_net", Decimal("100.5")),
    ])
    def test_engine_written_amounts_equal_their_base(
        self, db: Database, column: str, value: Decimal
    ) -> None:
        apply(db, bundle(**{column: value}))
        proposal = row(db)
        assert norm(proposal[column]) == proposal["base"][column]


class TestRemoteChange:
    def test_remote_change_is_applied(self, db: Database) -> None:
        apply(db, bundle())
        rev = row(db)["sync_rev"]
        stats = apply(db, bundle(title="Kitchen v2", updated=UPDATED + timedelta(hours=1)))
        assert stats.updated >= 1
        proposal = row(db)
        assert proposal["title"] == "Kitchen v2"
        assert proposal["base"]["title"] == "Kitchen v2"
        assert proposal["sync_rev"] == rev + 1
        assert proposal["raw"]["quotes"]["title"] == "Kitchen v2"
        assert change_log_rows(db) == []

    def test_older_updated_at_never_overwrites_newer(self, db: Database) -> None:
        apply(db, bundle(title="New", updated=UPDATED))
        stats = apply(db, bundle(title="Old", updated=UPDATED - timedelta(minutes=5)))
        assert stats.stale == 1
        assert row(db)["title"] == "New"

    def test_stale_with_subsecond_precision(self, db: Database) -> None:
        later = UPDATED + timedelta(microseconds=500_000)
        apply(db, bundle(title="New", updated=later))
        stats = apply(db, bundle(title="Old", updated=UPDATED))
        assert stats.stale == 1
        assert row(db)["title"] == "New"


class TestLocalEdits:
    def test_user_sql_is_logged_engine_writes_are_not(self, db: Database) -> None:
        apply(db, bundle())
        pid = row(db)["id"]
        user_sql(db, "UPDATE proposals SET title = 'Mine' WHERE remote_id = 'q1'")
        assert change_log_rows(db) == [("proposals", pid, "update")]
        apply(db, bundle(title="Kitchen", total_net=Decimal("1")))  # an engine write
        assert change_log_rows(db) == [("proposals", pid, "update")]

    def test_local_insert_without_remote_id_is_logged(self, db: Database) -> None:
        user_sql(db, "INSERT INTO proposals (account, title) VALUES ('acct', 'Brand new')")
        logged = change_log_rows(db)
        assert len(logged) == 1 and logged[0][0] == "proposals" and logged[0][2] == "insert"

    def test_pull_never_overwrites_an_unpushed_local_change(self, db: Database) -> None:
        apply(db, bundle())
        user_sql(db, "UPDATE proposals SET title = 'Mine' WHERE remote_id = 'q1'")
        apply(db, bundle())  # the vendor still says "Kitchen"
        assert row(db)["title"] == "Mine"
        apply(db, bundle(status="accepted", updated=UPDATED + timedelta(hours=1)))
        proposal = row(db)
        assert proposal["title"] == "Mine"  # still unpushed
        assert proposal["status"] == "accepted"  # the other field flowed in
        assert proposal["base"]["title"] == "Kitchen"
        assert conflict_rows(db) == []

    def test_both_sides_agree_moves_base_without_conflict(self, db: Database) -> None:
        apply(db, bundle())
        user_sql(db, "UPDATE proposals SET title = 'Same' WHERE remote_id = 'q1'")
        apply(db, bundle(title="Same", updated=UPDATED + timedelta(hours=1)))
        proposal = row(db)
        assert proposal["title"] == "Same" and proposal["base"]["title"] == "Same"
        assert conflict_rows(db) == []


class TestConflicts:
    def edit_both(self, db: Database, policy: str) -> WriteStats:
        apply(db, bundle(), policy)
        user_sql(db, "UPDATE proposals SET title = 'Local' WHERE remote_id = 'q1'")
        return apply(db, bundle(title="Remote", updated=UPDATED + timedelta(hours=1)), policy)

    def test_manual_records_a_conflict_and_keeps_local(self, db: Database) -> None:
        stats = self.edit_both(db, "manual")
        assert stats.conflicts == 1
        proposal = row(db)
        assert proposal["title"] == "Local"
        assert proposal["base"]["title"] == "Kitchen"
        [conflict] = conflict_rows(db)
        assert conflict["account"] == ACCOUNT and conflict["entity"] == "proposals"
        assert conflict["row_id"] == proposal["id"] and conflict["remote_id"] == "q1"
        assert conflict["field"] == "title" and conflict["status"] == "open"
        assert (conflict["base_value"], conflict["local_value"], conflict["remote_value"]) == (
            "Kitchen", "Local", "Remote")
        # the non-conflicting remote change (updated_at) still flowed in
        assert proposal["updated_at"].replace(tzinfo=UTC) == UPDATED + timedelta(hours=1)

    def test_repeated_pull_does_not_duplicate_the_conflict(self, db: Database) -> None:
        self.edit_both(db, "manual")
        stats = apply(db, bundle(title="Remote 2", updated=UPDATED + timedelta(hours=2)))
        assert stats.conflicts == 0
        [conflict] = conflict_rows(db)
        assert conflict["remote_value"] == "Remote 2"
        assert row(db)["title"] == "Local"

    def test_remote_wins(self, db: Database) -> None:
        stats = self.edit_both(db, "remote_wins")
        proposal = row(db)
        assert proposal["title"] == "Remote" and proposal["base"]["title"] == "Remote"
        assert conflict_rows(db) == [] and stats.conflicts == 0

    def test_local_wins(self, db: Database) -> None:
        self.edit_both(db, "local_wins")
        proposal = row(db)
        assert proposal["title"] == "Local"
        assert proposal["base"]["title"] == "Remote"  # so the push sends Local over it
        assert conflict_rows(db) == []

    @pytest.mark.parametrize(("remote_at", "winner"), [
        (datetime(2099, 1, 1, tzinfo=UTC), "Remote"),
        (UPDATED + timedelta(hours=1), "Local"),  # local edit (now) is newer than 2025-05
    ])
    def test_newest_wins(self, db: Database, remote_at: datetime, winner: str) -> None:
        apply(db, bundle(), "newest_wins")
        user_sql(db, "UPDATE proposals SET title = 'Local' WHERE remote_id = 'q1'")
        apply(db, bundle(title="Remote", updated=remote_at), "newest_wins")
        assert row(db)["title"] == winner
        assert conflict_rows(db) == []


class TestChildren:
    def test_complete_line_items_delete_the_missing_ones(self, db: Database) -> None:
        apply(db, bundle(items=3))
        stats = apply(db, bundle(items=1))
        assert stats.deleted == 2
        assert row(db, "line_items", "l1")["deleted_at"] is None
        for rid in ("l2", "l3"):
            gone = row(db, "line_items", rid)
            assert gone["deleted_at"] is not None
            assert gone["base"]["deleted_at"] is not None
        assert change_log_rows(db) == []
        assert apply(db, bundle(items=1)).written == 0  # and it stays settled

    def test_incomplete_set_deletes_nothing(self, db: Database) -> None:
        apply(db, bundle(items=3))
        stats = apply(db, bundle(items=1, complete=False))
        assert stats.deleted == 0
        assert row(db, "line_items", "l3")["deleted_at"] is None

    def test_local_unpushed_line_item_is_not_deleted(self, db: Database) -> None:
        apply(db, bundle(items=1))
        pid = row(db)["id"]
        user_sql(db, "INSERT INTO line_items (account, proposal_id, name) "
                     f"VALUES ('acct', {pid}, 'local only')")
        apply(db, bundle(items=1))
        with db.begin() as conn:
            table = CANONICAL_TABLES["line_items"]
            local = conn.execute(select(table.c.deleted_at).where(
                table.c.remote_id.is_(None))).scalar_one_or_none()
        assert local is None


class TestReferences:
    def test_unknown_reference_creates_a_stub_later_filled(self, db: Database) -> None:
        only = Bundle(proposals=[{"remote_id": "q9", "title": "Orphan", "company_id": "c9",
                                  "contact_id": "p9", "raw": {"id": "q9"}}])
        apply(db, only)
        stub = row(db, "companies", "c9")
        assert stub["name"] is None and stub["account"] == ACCOUNT
        assert row(db, "proposals", "q9")["company_id"] == stub["id"]
        assert row(db, "proposals", "q9")["contact_id"] == row(db, "contacts", "p9")["id"]
        assert change_log_rows(db) == []

        filled = Bundle(companies=[{"remote_id": "c9", "name": "Late Co", "raw": {"id": "c9"}}])
        apply(db, filled)
        assert row(db, "companies", "c9")["name"] == "Late Co"
        assert row(db, "companies", "c9")["id"] == stub["id"]
        with db.begin() as conn:
            count = conn.execute(select(func.count()).select_from(
                CANONICAL_TABLES["companies"])).scalar_one()
        assert count == 1

    def test_accounts_are_separate(self, db: Database) -> None:
        apply(db, bundle())
        with db.begin() as conn:
            MirrorWriter("other", "manual", NOW).apply(conn, bundle(title="Theirs"), "quotes")
        assert row(db)["title"] == "Kitchen"
        with db.begin() as conn:
            table = CANONICAL_TABLES["proposals"]
            titles = sorted(conn.execute(select(table.c.title)).scalars())
        assert titles == ["Kitchen", "Theirs"]


def currencies(rt: Runtime) -> set[str | None]:
    with rt.db.begin() as conn:
        return set(conn.execute(select(proposals.c.currency).where(
            proposals.c.deleted_at.is_(None))).scalars())


def test_a_vendor_currency_wins_over_the_setting() -> None:
    assert with_currency({"remote_id": "1", "currency": "PLN"}, "EUR")["currency"] == "PLN"
    assert with_currency({"remote_id": "1", "currency": None}, "EUR")["currency"] == "EUR"
    assert with_currency({"remote_id": "1"}, "EUR")["currency"] == "EUR"


def test_the_setting_must_be_an_iso_code() -> None:
    with pytest.raises(SettingsError, match="currency"):
        settings_from_dict({"accounts": [{"name": "q", "vendor": "quickquote",
                                          "base_url": "http://127.0.0.1:1", "currency": "usd"}]})


def test_pulled_quotes_get_the_account_currency_and_remap_fills_older_rows(
    served: Callable[[Sandbox], ServedApp], make_runtime: Callable[..., Runtime], sqlite_url: str
) -> None:
    box = QuickQuoteSandbox(requests_per_minute=10_000)
    box.seed_data(companies=4, proposals=12, max_items=3, seed=7)
    served(box)
    entry = {**box.account_entry("q"), "requests_per_minute": 10_000}
    without = make_runtime(sqlite_url, [entry])
    assert Puller(without, without.account("q")).run(sweep=True, kind="backfill").ok
    assert currencies(without) == {None}  # Quick Quote's API carries no currency

    configured = make_runtime(sqlite_url, [{**entry, "currency": "USD"}])
    # rows already mirrored are unchanged at the vendor: `syncd remap` applies the setting
    remap_accounts(configured, ["q"])
    assert currencies(configured) == {"USD"}

    fresh_url = sqlite_url.replace("mirror.db", "fresh.db")
    Database(fresh_url).upgrade()
    fresh = make_runtime(fresh_url, [{**entry, "currency": "USD"}])
    assert Puller(fresh, fresh.account("q")).run(sweep=True, kind="backfill").ok
    assert currencies(fresh) == {"USD"}


def open_conflict(db: Database) -> dict[str, Any]:
    with db.begin() as conn:
        return dict(conn.execute(select(conflicts)).mappings().one())


def test_an_open_conflict_closes_itself_when_the_vendor_comes_to_the_local_value(db) -> None:
    """Found by the convergence soak (Automa, seed 1014): a record read again while a
    conflict was open, now holding the local value, left the conflict open with the old
    remote value; resolving it "keep remote" then wrote that stale value into the mirror
    while the vendor held the local one. Both sides agree: the conflict closes itself."""
    apply(db, bundle(title="Kitchen"))
    with db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Local C'"))
    apply(db, bundle(title="Remote B", updated=UPDATED + timedelta(hours=1)))
    assert open_conflict(db)["remote_value"] == "Remote B"

    apply(db, bundle(title="Local C", updated=UPDATED + timedelta(hours=2)))

    closed = open_conflict(db)
    assert (closed["status"], closed["resolution"]) == ("resolved", "converged")
    assert row(db)["title"] == "Local C" and row(db)["base"]["title"] == "Local C"


def test_an_open_conflict_shows_the_vendors_value_of_now_when_it_returns_to_the_base(db):
    """The vendor's value went back to the base while the conflict was open: the conflict
    stays for the user, showing the value the vendor holds now (not the one it opened with),
    so "keep remote" writes what the vendor has."""
    apply(db, bundle(title="Kitchen"))
    with db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Local C'"))
    apply(db, bundle(title="Remote B", updated=UPDATED + timedelta(hours=1)))

    apply(db, bundle(title="Kitchen", updated=UPDATED + timedelta(hours=2)))

    held = open_conflict(db)
    assert (held["status"], held["local_value"], held["remote_value"]) == (
        "open", "Local C", "Kitchen")
    assert row(db)["title"] == "Local C"
