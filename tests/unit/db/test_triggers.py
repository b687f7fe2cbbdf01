"""syncd.db.triggers: a user's plain-SQL edit lands in `change_log`, an engine write does not.

The engine bumps `sync_rev` on every write and inserts remote rows with their `remote_id`;
a user's UPDATE leaves `sync_rev` alone and a local create has no `remote_id`.
"""

from __future__ import annotations

from sqlalchemy import insert, select, text, update

from syncd.db.session import Database
from syncd.db.tables import change_log, companies
from syncd.db.triggers import TRIGGER_TABLES, create_sql, drop_sql


def logged(mirror_db: Database) -> list[tuple[str, int, str]]:
    with mirror_db.begin() as conn:
        rows = conn.execute(select(change_log.c.table_name, change_log.c.row_id, change_log.c.op)
                            .order_by(change_log.c.id)).all()
    return [(r.table_name, r.row_id, r.op) for r in rows]


def test_an_engine_insert_and_update_log_nothing(mirror_db: Database) -> None:
    with mirror_db.begin() as conn:
        row_id = conn.execute(insert(companies).values(account="a", remote_id="r1", name="Acme")
                              .returning(companies.c.id)).scalar_one()
        conn.execute(update(companies).where(companies.c.id == row_id)
                     .values(name="Acme BV", sync_rev=companies.c.sync_rev + 1))
    assert logged(mirror_db) == []


def test_a_user_update_and_a_local_create_are_logged(mirror_db: Database) -> None:
    with mirror_db.begin() as conn:
        remote = conn.execute(insert(companies).values(account="a", remote_id="r1", name="Acme")
                              .returning(companies.c.id)).scalar_one()
        conn.execute(text("UPDATE companies SET name = 'Acme BV' WHERE id = :id"), {"id": remote})
        local = conn.execute(text("INSERT INTO companies (account, name) VALUES ('a', 'New') "
                                  "RETURNING id")).scalar_one()
    assert logged(mirror_db) == [("companies", remote, "update"), ("companies", local, "insert")]


def test_every_trigger_table_gets_an_update_and_an_insert_trigger() -> None:
    for dialect in ("sqlite", "postgresql"):
        ddl = " ".join(create_sql(dialect))
        drops = " ".join(drop_sql(dialect))
        for table in TRIGGER_TABLES:
            for kind in ("update", "insert"):
                assert f"trg_{table}_{kind}" in ddl and f"trg_{table}_{kind}" in drops
    assert "pg_notify" in " ".join(create_sql("postgresql"))


def test_a_consumed_newest_change_id_is_never_given_to_the_next_edit(mirror_db: Database) -> None:
    """The SQLite daemon learns of edits from change_log's newest id (local_changes.py):
    after reconcile deleted the newest row, the next edit must still get a higher id
    (migration 0008 on SQLite; a sequence on PostgreSQL)."""
    with mirror_db.begin() as conn:
        row = conn.execute(insert(companies).values(account="a", remote_id="r1", name="Acme")
                           .returning(companies.c.id)).scalar_one()
        conn.execute(text("UPDATE companies SET name = 'one' WHERE id = :id"), {"id": row})
        first = conn.execute(select(change_log.c.id)).scalar_one()
        conn.execute(change_log.delete())
        conn.execute(text("UPDATE companies SET name = 'two' WHERE id = :id"), {"id": row})
        second = conn.execute(select(change_log.c.id)).scalar_one()
    assert second > first
    assert logged(mirror_db) == [("companies", row, "update")]
