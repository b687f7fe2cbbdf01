"""The two-way standard suite: issue 4's "Done when", for every registered vendor.

Every vendor's sandbox is served on 127.0.0.1 and backfilled into a fresh mirror (SQLite,
then PostgreSQL). Users then change the mirror with plain SQL, the sandbox plays the user
in the vendor's UI, and syncd's own push/pull do the rest:

1. a SQL UPDATE of a title is one vendor request carrying only that field (Automa's
   full-replacement Put carries the complete quote, and changes nothing else);
2. the next `syncd sync` (settle the outbox, incremental pull, reconcile + push) sends no
   write: no echo;
3. a remote edit and a local edit of different fields of one proposal both survive a sync;
4. the same field edited on both sides is a conflict (`syncd conflicts list`) with both
   values, and neither side is overwritten;
5. a SQL INSERT is created exactly once even when the sandbox drops the connection after
   processing the create: the retry finds the record by its marker.

What a vendor's API cannot do is skipped with the connector's own capability reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from syncd import cli
from syncd.canonical import FIELDS, Entity
from syncd.db.tables import CANONICAL_TABLES, change_log, conflicts, outbox
from syncd.engine.push import Pusher, PushResult
from syncd.engine.reconcile import Reconciler, primary_raw
from syncd.engine.values import norm
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.sandbox.base import SeenRequest
from syncd.vendors import registered_vendors
from syncd.vendors.base import Op
from tests.connectors.standard import Case, make_case

VENDORS = registered_vendors()
SIZES = {"companies": 4, "proposals": 16, "max_items": 3, "seed": 3}
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PROPOSALS = CANONICAL_TABLES[Entity.PROPOSALS]


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---- helpers --------------------------------------------------------------------------------
def backfilled(vendor: str, db_url: str, make_runtime: Any, served: Any) -> Case:
    case = make_case(vendor, db_url, make_runtime, served, sizes=SIZES,
                     conflict_policy="manual")
    result = case.pull()
    assert result.ok, result.errors
    case.sandbox.reset_log()
    return case


def require(case: Case, op: Op) -> None:
    """Skip, with the connector's own reason, what the vendor's API cannot do."""
    reason = case.runtime.account(case.account).connector.capability(Entity.PROPOSALS, op)
    if reason:
        pytest.skip(f"{case.vendor} cannot {op} proposals: {reason}")


def push(case: Case) -> PushResult:
    return Pusher(case.runtime, case.runtime.account(case.account)).run()


def sync(case: Case) -> str:
    """One real `syncd sync` (syncd/cli.py) against the test's runtime, clock and sandbox;
    returns what it printed. It settles the outbox, pulls incrementally, then reconciles and
    pushes: reconciling after the pull is what turns a field changed on both sides into a
    conflict instead of a silent overwrite."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: case.runtime.settings)
        patch.setattr(cli, "runtime", lambda loaded: case.runtime)
        ran = CliRunner().invoke(cli.app, ["--quiet", "sync"])
    assert ran.exit_code == 0, ran.output
    return ran.output


def pushed(output: str, account: str = "acct") -> list[int]:
    """The "N pushed" counts a `syncd sync` printed (its two pushes)."""
    return [int(n) for n in re.findall(rf"^{account}: (\d+) pushed", output, re.M)]


def sql(case: Case, statement: str, **params: Any) -> None:
    with case.runtime.db.begin() as conn:
        conn.execute(text(statement), params)


def writes(case: Case) -> list[SeenRequest]:
    return [r for r in case.sandbox.requests if r.method in WRITES]


def mirror(case: Case, row_id: int) -> dict[str, Any]:
    with case.runtime.db.begin() as conn:
        return dict(conn.execute(select(PROPOSALS).where(PROPOSALS.c.id == row_id))
                    .mappings().one())


def table_rows(case: Case, table: Any) -> list[dict[str, Any]]:
    with case.runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def editable(case: Case) -> dict[str, Any]:
    """The first mirrored proposal whose title the connector's `plan_update` accepts
    (Offorte `edit`, StrawBlond draft, Quick Quote Created/Sent/Viewed, Automa draft)."""
    account = case.runtime.account(case.account)
    reconciler = Reconciler(account, case.clock.now())
    with case.runtime.db.begin() as conn:
        rows = conn.execute(select(PROPOSALS).where(
            PROPOSALS.c.account == case.account, PROPOSALS.c.remote_id.is_not(None),
            PROPOSALS.c.deleted_at.is_(None)).order_by(PROPOSALS.c.id)).mappings().all()
        for found in rows:
            row = dict(found)
            plain = reconciler._plain(conn, Entity.PROPOSALS, row)
            children = reconciler._children(conn, Entity.PROPOSALS, row)
            try:
                planned = account.connector.plan_update(
                    Entity.PROPOSALS, row["remote_id"], {"title": "probe"}, plain,
                    primary_raw(row.get("raw")), children)
            except (VendorRefused, VendorUnsupported):
                continue
            if planned:
                return row
    pytest.fail(f"{case.vendor}: the seeded data has no proposal whose title can be pushed")


def full_replacement(case: Case) -> bool:
    """Automa's Put rewrites the whole quote (the connector declares it this way)."""
    return case.runtime.account(case.account).connector.line_items_via_parent


def local_id(case: Case, entity: Entity, remote_id: str | None) -> int | None:
    if remote_id is None:
        return None
    table = CANONICAL_TABLES[entity]
    with case.runtime.db.begin() as conn:
        found = conn.execute(select(table.c.id).where(
            table.c.account == case.account, table.c.remote_id == remote_id)).scalar()
    assert found is not None, f"{entity} {remote_id} is not in the mirror"
    return int(found)


# ---- 1. a SQL UPDATE is one request with exactly the changed field --------------------------
def test_sql_update_becomes_one_request_with_only_the_changed_field(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    title = f"Edited in SQL ({vendor})"
    before = case.sandbox.proposal_fields(rid)

    sql(case, "UPDATE proposals SET title = :title WHERE id = :id", title=title, id=row["id"])
    result = push(case)

    assert result.ok, result.refused
    assert (result.sent, result.done) == (1, 1)
    # a full-replacement vendor re-reads the record first, so a remote edit made since the
    # last pull is not overwritten by the Put: one read plus the one write
    reads = 1 if case.runtime.account(case.account).connector.refresh_before_update else 0
    assert len(case.sandbox.requests) == 1 + reads, case.sandbox.requests
    [write] = writes(case)
    assert rid in write.path and 200 <= write.status < 300
    body = write.json()
    if full_replacement(case):  # the documented exception: one Put of the complete quote
        assert write.method == "PUT" and isinstance(body, dict)
        assert title in body.values() and len(body) > 1
    else:  # one key: the vendor's word for the title
        assert isinstance(body, dict) and list(body.values()) == [title], body
    assert case.sandbox.proposal_title(rid) == title
    # nothing else about the proposal changed at the vendor (a full Put included)
    assert case.sandbox.proposal_fields(rid) == {**before, "title": title}
    [entry] = table_rows(case, outbox)
    assert (entry["status"], entry["fields"]) == ("done", ["title"])


# ---- 2. the next sync sends nothing: no echo ------------------------------------------------
def test_next_sync_after_a_push_sends_no_write_and_pulls_nothing_back(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    title = f"Pushed once ({vendor})"
    sql(case, "UPDATE proposals SET title = :title WHERE id = :id", title=title, id=row["id"])
    assert push(case).done == 1
    case.sandbox.reset_log()
    before = mirror(case, row["id"])

    first = push(case)  # the daemon's next push, then a whole `syncd sync`
    output = sync(case)

    assert first.planned == [] and first.sent == 0
    assert pushed(output) == [0, 0] and writes(case) == []
    assert re.search(rf"✓ {case.account}: [1-9]\d* records", output)  # it did pull
    after = mirror(case, row["id"])
    assert after["title"] == title
    moved = {f for f in FIELDS[Entity.PROPOSALS] if norm(after[f]) != norm(before[f])}
    # the vendor's own modification time may move (our edit was one); nothing we sent does
    assert moved <= {"updated_at"}, {f: (before[f], after[f]) for f in moved}
    assert table_rows(case, change_log) == [] and table_rows(case, conflicts) == []
    assert [e["status"] for e in table_rows(case, outbox)] == ["done"]


def test_a_remote_edit_back_to_the_value_before_a_push_is_pulled(
    vendor, db_url, make_runtime, served
):
    """Found by the convergence soak (seed 14, Quick Quote): after a push, the stored list
    fingerprint still described the vendor record before the push; a remote edit back to
    exactly that state (Quick Quote lists no modification time) was skipped as unchanged,
    leaving the mirror on the pushed value and the vendor on the old one."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid, original = row["remote_id"], case.sandbox.proposal_title(row["remote_id"])
    sql(case, "UPDATE proposals SET title = :title WHERE id = :id",
        title=f"Pushed ({vendor})", id=row["id"])
    assert push(case).done == 1

    case.sandbox.remote_edit_title(rid, original)  # the vendor's user puts it back
    sync(case)

    assert mirror(case, row["id"])["title"] == original
    assert case.sandbox.proposal_title(rid) == original
    assert table_rows(case, conflicts) == []


# ---- 3. a remote edit and a local edit of different fields both survive ---------------------
def test_remote_and_local_edits_of_different_fields_both_survive(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    title = f"Local title ({vendor})"
    field, value = case.sandbox.remote_edit_other(rid)
    assert field != "title"
    remote_state = case.sandbox.proposal_fields(rid)
    sql(case, "UPDATE proposals SET title = :title WHERE id = :id", title=title, id=row["id"])

    output = sync(case)

    assert pushed(output) == [0, 1] and len(writes(case)) == 1
    after = mirror(case, row["id"])
    assert after["title"] == title
    assert norm(after[field]) == norm(value)
    assert case.sandbox.proposal_fields(rid) == {**remote_state, "title": title}
    assert table_rows(case, conflicts) == []
    case.sandbox.reset_log()
    assert push(case).planned == [] and writes(case) == []


# ---- 4. the same field edited on both sides is a conflict ------------------------------------
def test_same_field_edited_on_both_sides_is_a_listed_conflict(
    vendor, db_url, make_runtime, served, tmp_path: Path
):
    case = backfilled(vendor, db_url, make_runtime, served)
    connector = case.runtime.account(case.account).connector
    if connector.capability(Entity.PROPOSALS, Op.UPDATE) is None:
        row = editable(case)  # a proposal whose title a push could really overwrite
    else:  # the conflict is found by the pull, whatever the vendor can take
        row = next(r for r in sorted(case.rows(Entity.PROPOSALS), key=lambda r: r["id"])
                   if r["remote_id"] and r["deleted_at"] is None and r["title"])
    rid = row["remote_id"]
    local, remote = f"Local side ({vendor})", f"Remote side ({vendor})"
    sql(case, "UPDATE proposals SET title = :title WHERE id = :id", title=local, id=row["id"])
    case.sandbox.remote_edit_title(rid, remote)

    assert pushed(sync(case)) == [0, 0]
    assert pushed(sync(case)) == [0, 0]  # the open conflict holds the field: still nothing

    [conflict] = [c for c in table_rows(case, conflicts) if c["status"] == "open"]
    assert (conflict["entity"], conflict["row_id"], conflict["field"]) == (
        "proposals", row["id"], "title")
    assert (conflict["local_value"], conflict["remote_value"]) == (local, remote)
    assert conflict["base_value"] == norm(row["title"])
    assert mirror(case, row["id"])["title"] == local
    assert case.sandbox.proposal_title(rid) == remote
    assert not [w for w in writes(case) if rid in w.path]

    settings = tmp_path / "settings.toml"
    settings.write_text(f"[database]\nurl = {json.dumps(db_url)}\n")
    listed = CliRunner().invoke(cli.app, ["--config", str(settings), "conflicts", "list",
                                      "--format", "json"])
    assert listed.exit_code == 0, listed.output
    shown = json.loads(listed.output)
    assert [(c["row_id"], c["field"], c["local_value"], c["remote_value"]) for c in shown] == [
        (row["id"], "title", local, remote)]


# ---- 5. a SQL INSERT is created once, even when the answer is lost ---------------------------
def test_sql_insert_is_created_exactly_once_when_the_answer_is_lost(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    refs = case.sandbox.new_proposal_refs()
    company = local_id(case, Entity.COMPANIES, refs.get("company_id"))
    contact = local_id(case, Entity.CONTACTS, refs.get("contact_id"))
    title = f"Created in SQL ({vendor})"
    before = case.sandbox.count_proposals()
    sql(case, "INSERT INTO proposals (account, title, company_id, contact_id) "
              "VALUES (:account, :title, :company, :contact)",
        account=case.account, title=title, company=company, contact=contact)
    row_id = next(r["id"] for r in case.rows(Entity.PROPOSALS) if r["title"] == title)
    [create] = [p for p in Pusher(case.runtime, case.runtime.account(case.account)).plan_only()
                if p.kind == "create"]
    create_path = re.escape(create.path) + "$"
    case.sandbox.add_fault(create.method, create_path, "drop")  # processed, answer lost

    first = push(case)
    assert (first.retrying, first.done) == (1, 0), first.refused
    assert case.sandbox.count_proposals() == before + 1  # the vendor did create it
    assert mirror(case, row_id)["remote_id"] is None
    case.clock.advance(3600)  # past the retry's backoff
    second = push(case)

    assert second.ok, second.refused
    assert (second.sent, second.done) == (0, 1)  # found by its marker, not sent again
    assert case.sandbox.count_proposals() == before + 1
    assert len(case.sandbox.seen(create.method, create_path)) == 1
    remote_id = mirror(case, row_id)["remote_id"]
    assert remote_id is not None
    assert case.sandbox.proposal_title(remote_id) == title
    [entry] = [e for e in table_rows(case, outbox) if e["kind"] == "create"]
    assert (entry["status"], entry["result_remote_id"]) == ("done", remote_id)

    case.sandbox.reset_log()
    assert push(case).planned == [] and writes(case) == []
    assert pushed(sync(case)) == [0, 0]  # the vendor's copy arrives; nothing goes back
    assert writes(case) == [] and len(table_rows(case, outbox)) == 1
    assert case.sandbox.count_proposals() == before + 1
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id] == [
        row_id]


# ---- 6. what the daemon's independent push cycle must also get right -----------------------
def test_full_replacement_push_keeps_a_remote_edit_made_since_the_last_pull(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    if not case.runtime.account(case.account).connector.refresh_before_update:
        pytest.skip(f"{vendor} updates send only the changed fields; nothing else is rewritten")
    row = editable(case)
    rid = row["remote_id"]
    field, value = case.sandbox.remote_edit_other(rid)  # after the last pull, before the push
    sql(case, "UPDATE proposals SET title = 'Local title' WHERE id = :id", id=row["id"])
    result = push(case)
    assert result.ok, result.refused
    assert case.sandbox.proposal_title(rid) == "Local title"
    assert case.sandbox.proposal_fields(rid)[field] == value, "the remote edit survived the Put"
    assert norm(mirror(case, row["id"])[field]) == norm(value)


def test_push_never_sends_a_field_held_by_an_open_conflict(vendor, db_url, make_runtime, served):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    sql(case, "UPDATE proposals SET title = 'Local wording' WHERE id = :id", id=row["id"])
    with case.runtime.db.begin() as conn:  # planned, not yet sent (the daemon's push cycle)
        Reconciler(case.runtime.account(case.account), case.clock.now()).run(conn)
    case.sandbox.remote_edit_title(rid, "Vendor wording")
    case.pull(sweep=False)
    case.sandbox.reset_log()
    push(case)
    assert writes(case) == [], "a conflicted field is never pushed over the vendor's value"
    assert case.sandbox.proposal_title(rid) == "Vendor wording"
    held = [e for e in table_rows(case, outbox) if e["status"] == "held"]
    assert len(held) == 1 and "title" in held[0]["fields"]
    [conflict] = [c for c in table_rows(case, conflicts) if c["status"] == "open"]
    cli.resolve_conflict(case.runtime, conflict["id"], "local")
    push(case)
    assert case.sandbox.proposal_title(rid) == "Local wording"


# ---- 7. a create whose answer is lost at each point: one row, one remote record -------------
def inserted(case: Case, title: str) -> tuple[int, Any, str]:
    """A plain-SQL INSERT of a proposal; returns its row id, its planned create and the
    create's path as a sandbox regex."""
    refs = case.sandbox.new_proposal_refs()
    company = local_id(case, Entity.COMPANIES, refs.get("company_id"))
    contact = local_id(case, Entity.CONTACTS, refs.get("contact_id"))
    sql(case, "INSERT INTO proposals (account, title, company_id, contact_id) "
              "VALUES (:account, :title, :company, :contact)",
        account=case.account, title=title, company=company, contact=contact)
    row_id = next(r["id"] for r in case.rows(Entity.PROPOSALS) if r["title"] == title)
    [create] = [p for p in Pusher(case.runtime, case.runtime.account(case.account)).plan_only()
                if p.kind == "create"]
    return row_id, create, re.escape(create.path) + "$"


def exactly_one(case: Case, row_id: int, title: str, before: int) -> str:
    """The end state every lost-answer test must reach: the vendor holds one new record,
    the mirror one row for it (the user's), linked, and the create entry is done."""
    assert case.sandbox.count_proposals() == before + 1
    remote_id = mirror(case, row_id)["remote_id"]
    assert remote_id is not None
    assert case.sandbox.proposal_title(remote_id) == title
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id] == [
        row_id]
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["title"] == title] == [row_id]
    [entry] = [e for e in table_rows(case, outbox) if e["kind"] == "create"]
    assert (entry["status"], entry["result_remote_id"]) == ("done", remote_id)
    return str(remote_id)


def test_create_answer_lost_before_the_vendor_processed_it_is_sent_again_with_its_marker(
    vendor, db_url, make_runtime, served
):
    """Lost at the first point (connection reset before the vendor saw the request): the
    next `syncd sync` looks the marker up at once (the retry backoff has not run out),
    finds nothing and sends the create again, with the same marker; then it pulls."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Reset before processing ({vendor})"
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, title)
    case.sandbox.add_fault(create.method, path, "reset")

    first = push(case)
    assert (first.retrying, first.done) == (1, 0), first.refused
    assert case.sandbox.count_proposals() == before  # the vendor never processed it
    sync(case)  # no clock advance: in doubt, so resolved before the pull anyway

    exactly_one(case, row_id, title, before)
    sent = [r.json() for r in case.sandbox.seen(create.method, path)]
    assert len(sent) == 2 and sent[0] == sent[1], "sent again with the same marker"
    case.sandbox.reset_log()
    assert pushed(sync(case)) == [0, 0] and writes(case) == []
    exactly_one(case, row_id, title, before)


def test_create_answer_lost_after_the_vendor_processed_it_is_linked_by_a_pull_in_between(
    vendor, db_url, make_runtime, served
):
    """Lost at the second point (processed, then the connection dropped): a pull that
    meets the new record before any retry links it to the user's row by the marker the
    record carries (never a second row); the next sync sends nothing."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Dropped after processing ({vendor})"
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, title)
    case.sandbox.add_fault(create.method, path, "drop")
    first = push(case)
    assert (first.retrying, first.done) == (1, 0), first.refused
    assert case.sandbox.count_proposals() == before + 1

    assert case.pull(sweep=False).ok  # a pull in between (before the retry's backoff ends)
    linked = mirror(case, row_id)["remote_id"]
    titled = [r for r in case.rows(Entity.PROPOSALS) if r["title"] == title]
    assert [r["id"] for r in titled] == [row_id], "the pull linked, never duplicated"
    sync(case)

    remote_id = exactly_one(case, row_id, title, before)
    assert linked in (None, remote_id)
    assert len(case.sandbox.seen(create.method, path)) == 1, "never created twice"


def test_create_answer_lost_before_syncd_committed_it_is_found_by_the_next_process(
    vendor, db_url, make_runtime, served, monkeypatch
):
    """Lost at the third point (answer received, the process died before committing the
    settlement): the entry is left `sending` under a 300 s claim; the next process's
    `syncd sync` resolves it at start by its marker (no waiting out the claim), without
    sending the create again."""
    import syncd.engine.push as push_module

    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Killed before commit ({vendor})"
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, title)

    def killed(*_args: Any, **_kwargs: Any) -> None:
        raise SystemExit("kill -9 between the answer and the commit")

    with monkeypatch.context() as patch:
        patch.setattr(push_module, "link_created", killed)
        with pytest.raises(SystemExit):
            Pusher(case.runtime, case.runtime.account(case.account), "killed:1").run()
    [entry] = [e for e in table_rows(case, outbox) if e["kind"] == "create"]
    assert (entry["status"], entry["claimed_by"]) == ("sending", "killed:1")
    assert case.sandbox.count_proposals() == before + 1

    sync(case)  # the clock has not moved: the claim would hold for 300 s more

    exactly_one(case, row_id, title, before)
    assert len(case.sandbox.seen(create.method, path)) == 1, "never created twice"
