"""One deletion path (`MirrorWriter.delete_rows`) and the guard against false mass deletion
(`syncd.engine.deletes`), on SQLite and PostgreSQL.

Hand-built bundles stand for what a connector maps; the assertions are rows in the mirror:
`deleted_at` in each row and in its base, dependants, `change_log` (the engine's writes must
not look like local edits), `pending_deletes`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from syncd.canonical import DEPENDANTS, REFERENCES, Bundle, Entity
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, change_log, pending_deletes
from syncd.engine import deletes
from syncd.engine.store import MirrorWriter, deletion_columns
from syncd.settings import AccountSettings

ACCOUNT = "acct"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def db(mirror_url: str) -> Iterator[Database]:
    database = Database(mirror_url)
    yield database
    database.dispose()


def bundle(proposals: int = 1, items: int = 2) -> Bundle:
    """A company with two people, and `proposals` proposals of `items` line items each."""
    return Bundle(
        companies=[{"remote_id": "c1", "name": "Acme BV", "raw": {"id": "c1"}}],
        contacts=[{"remote_id": f"p{n}", "company_id": "c1", "full_name": f"Person {n}",
                   "raw": {"id": f"p{n}"}} for n in (1, 2)],
        proposals=[{"remote_id": f"q{q}", "title": f"Quote {q}", "company_id": "c1",
                    "contact_id": "p1", "total_gross": Decimal("10.5"),
                    "raw": {"id": f"q{q}"}} for q in range(1, proposals + 1)],
        line_items=[{"remote_id": f"q{q}-l{n}", "proposal_remote_id": f"q{q}", "position": n,
                     "name": f"Item {n}", "raw": {"id": n}}
                    for q in range(1, proposals + 1) for n in range(1, items + 1)],
        complete_line_items={f"q{q}" for q in range(1, proposals + 1)},
        complete_contacts_of={"c1"},
    )


def writer(now: datetime = NOW) -> MirrorWriter:
    return MirrorWriter(ACCOUNT, "manual", now)


def apply(db: Database, data: Bundle) -> None:
    with db.begin() as conn:
        writer().apply(conn, copy.deepcopy(data), "quotes")


def rows(db: Database, entity: str) -> list[dict[str, Any]]:
    table = CANONICAL_TABLES[entity]
    with db.begin() as conn:
        return [dict(r) for r in conn.execute(select(table).where(table.c.account == ACCOUNT)
                                              .order_by(table.c.id)).mappings()]


def logged(db: Database) -> int:
    with db.begin() as conn:
        return len(conn.execute(select(change_log)).all())


def deleted_consistently(row: dict[str, Any]) -> bool:
    """Deleted in the row and in its base: reconcile sees no local delete to push."""
    return row["deleted_at"] is not None and (row["base"] or {}).get("deleted_at") is not None


def test_dependants_are_declared_once_next_to_the_references() -> None:
    assert DEPENDANTS[Entity.PROPOSALS] == ((Entity.LINE_ITEMS, "proposal_id"),)
    assert DEPENDANTS[Entity.COMPANIES] == ((Entity.CONTACTS, "company_id"),)
    # a proposal references its company and contact, but they do not exist through it
    assert Entity.COMPANIES in REFERENCES[Entity.PROPOSALS].values()
    assert all(child not in (Entity.COMPANIES, Entity.CONTACTS)
               for child, _ in DEPENDANTS[Entity.PROPOSALS])


def test_deleting_a_proposal_deletes_its_line_items_with_base_set(db: Database) -> None:
    apply(db, bundle(proposals=2))
    with db.begin() as conn:
        assert writer().delete_remote_ids(conn, Entity.PROPOSALS, ["q1"]) == 1
    gone, kept = rows(db, Entity.PROPOSALS)
    assert deleted_consistently(gone) and kept["deleted_at"] is None
    items = rows(db, Entity.LINE_ITEMS)
    assert all(deleted_consistently(i) for i in items if i["proposal_id"] == gone["id"])
    assert all(i["deleted_at"] is None for i in items if i["proposal_id"] == kept["id"])
    # the company and contact of the proposal are not its dependants
    assert all(r["deleted_at"] is None for r in rows(db, Entity.COMPANIES))
    assert all(r["deleted_at"] is None for r in rows(db, Entity.CONTACTS))
    assert logged(db) == 0  # engine writes are not local edits


def test_deleting_a_company_deletes_its_people(db: Database) -> None:
    apply(db, bundle())
    with db.begin() as conn:
        writer().delete_remote_ids(conn, Entity.COMPANIES, ["c1"])
    assert deleted_consistently(rows(db, Entity.COMPANIES)[0])
    assert all(deleted_consistently(p) for p in rows(db, Entity.CONTACTS))
    assert rows(db, Entity.PROPOSALS)[0]["deleted_at"] is None
    assert logged(db) == 0


def test_a_row_deleted_locally_keeps_its_time_and_its_base_learns_it(db: Database) -> None:
    """The pushed-delete case: the user's row is deleted already; its base and its
    dependants follow."""
    apply(db, bundle())
    with db.begin() as conn:
        conn.execute(text("UPDATE proposals SET deleted_at = '2025-05-05 10:00:00' "
                          "WHERE remote_id = 'q1'"))
    [mine] = rows(db, Entity.PROPOSALS)
    with db.begin() as conn:
        assert writer().delete_ids(conn, Entity.PROPOSALS, [mine["id"]]) == 1
    [after] = rows(db, Entity.PROPOSALS)
    assert after["deleted_at"] == mine["deleted_at"]
    assert deleted_consistently(after)
    assert all(deleted_consistently(i) for i in rows(db, Entity.LINE_ITEMS))
    with db.begin() as conn:  # a second call changes nothing
        assert writer().delete_ids(conn, Entity.PROPOSALS, [mine["id"]]) == 0


def test_missing_line_items_of_a_complete_proposal_go_through_the_same_path(db: Database) -> None:
    apply(db, bundle(items=3))
    apply(db, bundle(items=1))
    items = rows(db, Entity.LINE_ITEMS)
    assert [i["deleted_at"] is None for i in items] == [True, False, False]
    assert all(deleted_consistently(i) for i in items[1:])


# ---- the guard --------------------------------------------------------------------------------
def settings(**extra: Any) -> AccountSettings:
    return AccountSettings(name=ACCOUNT, vendor="quickquote", base_url="https://x.test", **extra)


def unseen(db: Database, keep: set[str]) -> list[Any]:
    table = CANONICAL_TABLES[Entity.PROPOSALS]
    with db.begin() as conn:
        return conn.execute(select(*deletion_columns(table)).where(
            table.c.account == ACCOUNT, table.c.deleted_at.is_(None),
            table.c.remote_id.not_in(keep or {"-"}))).all()


def sweep(db: Database, conf: AccountSettings, keep: set[str] = frozenset(),  # type: ignore[assignment]
          now: datetime = NOW, full: bool = True) -> int:
    missing = unseen(db, set(keep))
    with db.begin() as conn:
        return deletes.sweep_deletions(conn, writer(now), conf, Entity.PROPOSALS, "quotes",
                                       missing, sweep=full)


def held(db: Database) -> set[str]:
    with db.begin() as conn:
        return set(conn.execute(select(pending_deletes.c.remote_id).where(
            pending_deletes.c.account == ACCOUNT)).scalars())


def live(db: Database) -> int:
    return sum(r["deleted_at"] is None for r in rows(db, Entity.PROPOSALS))


def test_the_guard_threshold_has_a_floor_for_small_accounts() -> None:
    assert not deletes.too_many(1, 3, 0.1)  # a 3-row account can still delete one
    assert not deletes.too_many(deletes.GUARD_FLOOR, 1000, 0.0)
    assert deletes.too_many(deletes.GUARD_FLOOR + 1, 1000, 0.0)
    assert not deletes.too_many(10, 100, 0.1) and deletes.too_many(11, 100, 0.1)
    assert not deletes.too_many(50, 50, 1.0)  # 1.0 turns the guard off


def test_an_empty_scan_deletes_nothing_and_holds_the_rows(db: Database) -> None:
    apply(db, bundle(proposals=20))
    assert sweep(db, settings()) == 0
    assert live(db) == 20 and len(held(db)) == 20
    assert all(i["deleted_at"] is None for i in rows(db, Entity.LINE_ITEMS))
    # the same empty answer again, manual confirmation: still held, still live
    assert sweep(db, settings(), now=LATER) == 0
    assert live(db) == 20 and len(held(db)) == 20
    with db.begin() as conn:
        assert conn.execute(select(pending_deletes.c.sweeps)).scalars().all() == [2] * 20


def test_a_few_missing_rows_are_deleted_at_once(db: Database) -> None:
    apply(db, bundle(proposals=20))
    keep = {f"q{n}" for n in range(1, 19)}
    assert sweep(db, settings(), keep) == 2
    assert live(db) == 18 and held(db) == set()


def test_a_scan_that_lists_them_again_clears_the_held_deletions(db: Database) -> None:
    apply(db, bundle(proposals=20))
    sweep(db, settings())
    assert sweep(db, settings(), {f"q{n}" for n in range(1, 21)}, now=LATER) == 0
    assert held(db) == set() and live(db) == 20


def test_second_sweep_applies_what_is_missing_again(db: Database) -> None:
    conf = settings(confirm_deletes="second_sweep")
    apply(db, bundle(proposals=20))
    assert sweep(db, conf) == 0 and len(held(db)) == 20
    # the second scan misses q1..q10 again and lists the others: those ten go
    assert sweep(db, conf, {f"q{n}" for n in range(11, 21)}, now=LATER) == 10
    assert live(db) == 10 and held(db) == set()
    assert sum(deleted_consistently(i) for i in rows(db, Entity.LINE_ITEMS)) == 20


def test_second_sweep_is_not_confirmed_by_an_incremental_scan(db: Database) -> None:
    """A vendor whose every pull reads the whole list: the pull minutes later, inside the
    same bad day, keeps them held; only a full sweep confirms."""
    conf = settings(confirm_deletes="second_sweep")
    apply(db, bundle(proposals=20))
    sweep(db, conf)
    assert sweep(db, conf, now=LATER, full=False) == 0
    assert live(db) == 20 and len(held(db)) == 20
    assert sweep(db, conf, now=LATER + timedelta(days=1)) == 20


def test_confirm_applies_held_deletions_with_their_dependants(db: Database) -> None:
    apply(db, bundle(proposals=20))
    sweep(db, settings())
    with db.begin() as conn:
        assert deletes.confirm(conn, writer(LATER)) == {"proposals": 20}
    assert live(db) == 0 and held(db) == set()
    assert all(deleted_consistently(i) for i in rows(db, Entity.LINE_ITEMS))
    assert logged(db) == 0


def test_confirm_spares_a_row_written_again_after_the_scan(db: Database) -> None:
    apply(db, bundle(proposals=20))
    sweep(db, settings())
    again = bundle(proposals=1)
    again.proposals[0]["title"] = "Edited at the vendor"  # a later pull saw q1 again
    with db.begin() as conn:
        writer(LATER).apply(conn, again, "quotes")
        assert deletes.confirm(conn, writer(LATER)) == {"proposals": 19}
    assert [r["remote_id"] for r in rows(db, Entity.PROPOSALS) if r["deleted_at"] is None] == ["q1"]


def test_settings_validate_the_guard_keys() -> None:
    assert settings().max_delete_fraction == 0.1 and settings().confirm_deletes == "manual"
    with pytest.raises(ValueError, match="max_delete_fraction"):
        settings(max_delete_fraction=1.5)
    with pytest.raises(ValueError, match="confirm_deletes"):
        settings(confirm_deletes="never")
