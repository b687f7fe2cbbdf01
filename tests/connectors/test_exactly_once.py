"""Issue 14, "creates exactly once" and the push loop's loose ends, for every vendor.

Each test is named after the defect it would have caught:

* a pulled record carrying a waiting create's marker became a second mirror row;
* an in-doubt write (answer lost, or left `sending` by a killed process) waited out its
  retry backoff or its 300 s claim instead of being resolved before the next pull;
* A -> B -> A: the third edit got the idempotency key of the first (done) entry and was
  silently dropped;
* `BadRecord` from the re-read before a full-replacement Put escaped the push loop.

The per-point lost-answer tests (reset / drop / killed before commit) are in the two-way
standard suite (tests/connectors/test_two_way_suite.py, section 7).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from syncd.canonical import Entity
from syncd.db.tables import conflicts, outbox, pending_fetches
from syncd.engine.lease import SqliteSingleton
from syncd.engine.pull import Puller
from syncd.engine.push import Pusher, owns_account, resolve_before_pull
from syncd.engine.reconcile import Reconciler
from syncd.engine.webhooks import run_pending_fetches
from syncd.errors import BadRecord, VendorUnsupported
from syncd.vendors import registered_vendors
from syncd.vendors.base import Op
from tests.connectors.test_two_way_suite import (
    backfilled,
    editable,
    inserted,
    mirror,
    push,
    require,
    sql,
    sync,
    table_rows,
    writes,
)

VENDORS = registered_vendors()


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def entries(case: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in table_rows(case, outbox) if e["kind"] == kind]


def test_pulled_record_with_a_waiting_creates_marker_is_linked_not_inserted_twice(
    vendor, db_url, make_runtime, served
):
    """The answer of a create is lost; the next pull meets the record. It carries the
    marker, so the pull links it to the user's row (remote_id, base, entry done) and asks
    the vendor nothing more than a pull does: no marker lookup, no write."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Linked by a pull ({vendor})"
    row_id, create, path = inserted(case, title)
    case.sandbox.add_fault(create.method, path, "drop")
    assert push(case).retrying == 1
    [entry] = entries(case, "create")
    marker = entry["idempotency_key"]
    case.sandbox.reset_log()

    assert case.pull(sweep=False).ok

    row = mirror(case, row_id)
    assert row["remote_id"] is not None, "the pull linked the user's row"
    assert case.sandbox.proposal_title(row["remote_id"]) == title
    assert (row["base"] or {}).get("title") == title  # base: the values the create sent
    [entry] = entries(case, "create")
    assert (entry["status"], entry["result_remote_id"]) == ("done", row["remote_id"])
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["title"] == title] == [row_id]
    assert writes(case) == []
    assert not [r for r in case.sandbox.requests if marker in r.path + str(r.query)], \
        "linking costs no request: the marker is in the record"
    case.sandbox.reset_log()
    assert push(case).planned == [] and writes(case) == []


def test_create_left_sending_by_a_killed_process_is_resolved_at_start_not_after_the_claim(
    vendor, db_url, make_runtime, served
):
    """A killed process left its create `sending` with 300 s of claim left: the next
    process resolves it before its pull (found by its marker: not sent again)."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Left sending ({vendor})"
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, title)
    case.sandbox.add_fault(create.method, path, "drop")
    assert push(case).retrying == 1
    with case.runtime.db.begin() as conn:  # as a process killed mid-send leaves it
        conn.execute(update(outbox).where(outbox.c.kind == "create").values(
            status="sending", claimed_by="killed:1", claimed_until=case.clock.time() + 300))

    result = resolve_before_pull(case.runtime, case.account)

    assert result.ok and (result.sent, result.done) == (0, 1), result.refused
    assert case.sandbox.count_proposals() == before + 1
    assert len(case.sandbox.seen(create.method, path)) == 1
    assert mirror(case, row_id)["remote_id"] is not None
    assert [e["status"] for e in entries(case, "create")] == ["done"]


def test_in_doubt_create_whose_lookup_finds_nothing_is_sent_again_with_the_same_marker(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, f"Reset ({vendor})")
    case.sandbox.add_fault(create.method, path, "reset")
    assert push(case).retrying == 1  # backoff: 10 s or more from now

    result = resolve_before_pull(case.runtime, case.account)  # the clock has not moved

    assert (result.sent, result.done) == (1, 1), result.refused
    assert case.sandbox.count_proposals() == before + 1
    bodies = [r.json() for r in case.sandbox.seen(create.method, path)]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert mirror(case, row_id)["remote_id"] is not None


def test_update_left_sending_by_a_killed_process_is_sent_at_start(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    sql(case, "UPDATE proposals SET title = 'Killed mid-send' WHERE id = :id", id=row["id"])
    pusher = Pusher(case.runtime, case.runtime.account(case.account))
    pusher.reconcile()
    with case.runtime.db.begin() as conn:
        conn.execute(update(outbox).values(status="sending", claimed_by="killed:1",
                                           claimed_until=case.clock.time() + 300, attempts=1))
    assert push(case).sent == 0, "the push loop alone waits out the claim"

    result = resolve_before_pull(case.runtime, case.account)

    if not stamped(case, row["id"]):
        # Quick Quote: the vendor still shows the base, and without a modification time a
        # write that landed and was set back since looks the same: a change on both sides
        assert writes(case) == [] and held_fields(case) == [("title", "Killed mid-send")]
        assert [e["status"] for e in entries(case, "update")] == ["held"]
        return
    assert result.ok and result.done == 1, result.refused
    assert case.sandbox.proposal_title(row["remote_id"]) == "Killed mid-send"
    assert [e["status"] for e in entries(case, "update")] == ["done"]


def stamped(case: Any, row_id: int) -> bool:
    """Whether the vendor stamps the record's modification time (all but Quick Quote)."""
    return (mirror(case, row_id)["base"] or {}).get("updated_at") is not None


def held_fields(case: Any) -> list[tuple[str, str]]:
    """(field, local value) of every open conflict."""
    with case.runtime.db.begin() as conn:
        return [tuple(r) for r in conn.execute(select(
            conflicts.c.field, conflicts.c.local_value).where(conflicts.c.status == "open"))]


def kill_mid_send(case: Any) -> None:
    """The planned write is claimed and then its process killed: left `sending`."""
    Pusher(case.runtime, case.runtime.account(case.account)).reconcile()
    with case.runtime.db.begin() as conn:
        conn.execute(update(outbox).values(status="sending", claimed_by="killed:1",
                                           claimed_until=case.clock.time() + 300, attempts=1))


def test_update_in_doubt_is_not_resent_over_a_remote_edit_made_since(
    vendor, db_url, make_runtime, served
):
    """Found by the convergence soak (seed 1414, Offorte): a PATCH the vendor processed
    whose process was killed before it recorded the answer was sent again at the next
    start, after the vendor's user had edited the same field: the remote edit was
    overwritten without a conflict. An in-doubt update is re-read first."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    sql(case, "UPDATE proposals SET title = 'Local B' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.sandbox.remote_edit_title(rid, "Local B")  # the vendor processed the write ...
    case.sandbox.remote_edit_title(rid, "Remote A")  # ... and its user edited it since
    case.sandbox.reset_log()

    resolve_before_pull(case.runtime, case.account)
    sync(case)

    assert case.sandbox.proposal_title(rid) == "Remote A", "the remote edit was overwritten"
    assert writes(case) == []
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(conflicts.c.field, conflicts.c.local_value,
                                   conflicts.c.remote_value).where(
            conflicts.c.status == "open")).all()
    assert [tuple(h) for h in held] == [("title", "Local B", "Remote A")]
    [entry] = entries(case, "update")
    # the local value waits in the conflict (a full-replacement re-read settles its entry)
    refreshes = case.runtime.account(case.account).connector.refresh_before_update
    assert entry["status"] in (("held", "done") if refreshes else ("held",))


def test_update_in_doubt_set_back_at_the_vendor_since_is_not_resent_over_that_edit(
    vendor, db_url, make_runtime, served
):
    """Found by the convergence soak (CI slice, seed 1414, Offorte): a write that landed
    and whose process was killed before it recorded the answer, after which the vendor's
    user set the field back to its old value (A -> B -> A), was sent again: the vendor held
    the base value, so the re-read took the write for one that never arrived. The record's
    newer modification time says it changed since: both sides changed, a conflict.
    Quick Quote stamps nothing (found by `make soak`, seed 14, batch 20): a write that
    may have arrived (this one was killed mid-send) and finds the base is held the same."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid, before = row["remote_id"], row["title"]
    sql(case, "UPDATE proposals SET title = 'Local B' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.clock.advance(60)
    case.sandbox.remote_edit_title(rid, "Local B")  # the vendor processed the write ...
    case.clock.advance(60)
    case.sandbox.remote_edit_title(rid, before)  # ... and its user set the title back
    case.sandbox.reset_log()

    resolve_before_pull(case.runtime, case.account)
    sync(case)

    assert case.sandbox.proposal_title(rid) == before, "the user's edit was overwritten"
    assert writes(case) == []
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(conflicts.c.field, conflicts.c.local_value,
                                   conflicts.c.remote_value).where(
            conflicts.c.status == "open")).all()
    assert [tuple(h) for h in held] == [("title", "Local B", before)]


def test_update_answered_5xx_is_sent_again_without_a_conflict_even_without_stamps(
    vendor, db_url, make_runtime, served
):
    """The other side of the rule above: a write the vendor answered with 503 did not
    arrive, so finding the base at the vendor means "send it", with or without a stamp."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    sql(case, "UPDATE proposals SET title = 'After a 503' WHERE id = :id", id=row["id"])
    attempts = case.runtime.account(case.account).client.attempts
    for method in ("PUT", "PATCH", "POST"):  # Automa plans its Put from a fresh read
        case.sandbox.add_fault(method, re.escape(str(rid)), "status", status=503,
                               times=attempts)
    assert push(case).retrying == 1
    case.clock.advance(3600)  # past the backoff

    push(case)

    assert case.sandbox.proposal_title(rid) == "After a 503"
    assert held_fields(case) == []
    assert [e["status"] for e in entries(case, "update")] == ["done"]
    assert [e["unanswered"] for e in entries(case, "update")] == [False]


def test_update_in_doubt_set_back_within_the_same_second_is_not_resent_over_that_edit(
    vendor, db_url, make_runtime, served
):
    """Found by `make soak` (StrawBlond, seed 14): the write landed and the vendor's user
    set the field back within the second the base was stamped, so the record's stamp was
    no newer than the base's and the write was sent again over that edit. A record the
    vendor changed in or after the second of the write's previous attempt may hold it set
    back: both sides changed, a conflict."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    if row["updated_at"] is None:
        pytest.skip(f"{vendor}'s records carry no modification time (README)")
    case.sandbox.remote_edit_title(rid, "Remote A")  # the base is read in this second ...
    sync(case)
    assert mirror(case, row["id"])["title"] == "Remote A"
    sql(case, "UPDATE proposals SET title = 'Local B' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.sandbox.remote_edit_title(rid, "Local B")  # ... the vendor processed the write ...
    case.sandbox.remote_edit_title(rid, "Remote A")  # ... and its user set it back
    case.sandbox.reset_log()

    resolve_before_pull(case.runtime, case.account)
    sync(case)

    assert case.sandbox.proposal_title(rid) == "Remote A", "the user's edit was overwritten"
    assert writes(case) == []


def test_local_edit_back_to_the_base_after_an_in_doubt_write_that_landed_is_pushed(
    vendor, db_url, make_runtime, served
):
    """Found by `make soak` (Automa, seed 1014, batch 1015, episode 9): a write left in
    doubt landed at the vendor, and the user then set the field back to the value the base
    holds. Taking the entry for superseded (or merging the fresh read as a remote edit)
    lost that last edit: the mirror saw no local change against its base, while the vendor
    held the in-doubt value. The re-read settles the landed write first; the edit back is
    then pushed."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid, before = row["remote_id"], row["title"]
    sql(case, "UPDATE proposals SET title = 'Local C' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.sandbox.remote_edit_title(rid, "Local C")  # the vendor processed the write
    sql(case, "UPDATE proposals SET title = 'Local A' WHERE id = :id", id=row["id"])
    sql(case, "UPDATE proposals SET title = :t WHERE id = :id", t=before, id=row["id"])

    resolve_before_pull(case.runtime, case.account)
    sync(case)
    sync(case)

    assert case.sandbox.proposal_title(rid) == before, "the last local edit was lost"
    assert mirror(case, row["id"])["title"] == before


def test_update_in_doubt_that_reached_the_vendor_is_settled_without_sending_it_again(
    vendor, db_url, make_runtime, served
):
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    sql(case, "UPDATE proposals SET title = 'Landed' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.sandbox.remote_edit_title(row["remote_id"], "Landed")  # the write was processed
    case.sandbox.reset_log()

    result = resolve_before_pull(case.runtime, case.account)

    assert result.ok and result.done == 1, result.refused
    assert writes(case) == [], "a write the vendor already holds is not sent again"
    assert [e["status"] for e in entries(case, "update")] == ["done"]


def test_update_in_doubt_is_not_resent_after_the_mirror_merged_a_remote_edit_since(
    vendor, db_url, make_runtime, served
):
    """Found by the convergence soak (seed 1014, StrawBlond): a write left in doubt by a
    killed sync landed; later pulls saw it (base := C) and then a remote edit (mirror and
    base := B). The in-doubt entry was still sent at the next start, and C overwrote B at
    the vendor while the mirror kept B. The mirror already tells, without a request, that
    such an entry has nothing left to send."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    sql(case, "UPDATE proposals SET title = 'Local C' WHERE id = :id", id=row["id"])
    kill_mid_send(case)
    case.sandbox.remote_edit_title(rid, "Local C")  # the vendor processed the write
    case.clock.advance(60)
    # pulls that leave the in-doubt entry alone (a process that took it for its own
    # claim): the mirror sees C, then the vendor's user's B
    assert Puller(case.runtime, case.runtime.account(case.account)).run(sweep=False).ok
    case.sandbox.remote_edit_title(rid, "Remote B")
    case.clock.advance(60)
    assert Puller(case.runtime, case.runtime.account(case.account)).run(sweep=False).ok
    assert mirror(case, row["id"])["title"] == "Remote B"
    case.sandbox.reset_log()

    resolve_before_pull(case.runtime, case.account)
    sync(case)

    assert case.sandbox.proposal_title(rid) == "Remote B", "the remote edit was overwritten"
    assert writes(case) == []
    assert mirror(case, row["id"])["title"] == "Remote B"
    [entry] = entries(case, "update")
    assert entry["status"] in ("superseded", "done")


def test_a_live_daemons_claim_is_never_taken_by_a_cron_sync(
    vendor, db_url, make_runtime, served
):
    """Only the account's owner resolves: a `syncd sync` next to a live daemon (SQLite
    lock file held; PostgreSQL lease held by another live worker) leaves its claim."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    sql(case, "UPDATE proposals SET title = 'Daemon is sending' WHERE id = :id", id=row["id"])
    Pusher(case.runtime, case.runtime.account(case.account)).reconcile()
    with case.runtime.db.begin() as conn:
        conn.execute(update(outbox).values(status="sending", claimed_by="daemon:7",
                                           claimed_until=case.clock.time() + 300, attempts=1))
    if case.runtime.db.is_sqlite:
        daemon = SqliteSingleton(case.runtime.db.url)
        daemon.acquire()
    else:
        from syncd.engine.lease import LeaseManager

        daemon = LeaseManager(case.runtime.db, "daemon:7", case.clock)
        assert daemon.balance([case.account]) == {case.account}
    try:
        assert not owns_account(case.runtime, case.account)
        result = resolve_before_pull(case.runtime, case.account)
        assert result.sent == 0 and writes(case) == []
        assert [e["status"] for e in entries(case, "update")] == ["sending"]
    finally:
        daemon.release() if case.runtime.db.is_sqlite else daemon.release_all()
    assert owns_account(case.runtime, case.account)
    resolved = resolve_before_pull(case.runtime, case.account)
    if not stamped(case, row["id"]):  # no modification time: a possible set-back is held
        assert held_fields(case) == [("title", "Daemon is sending")]
        return
    assert resolved.done == 1


def test_edit_returning_a_field_to_an_earlier_value_is_pushed_not_dropped_as_a_duplicate_key(
    vendor, db_url, make_runtime, served
):
    """A -> B -> A, each pushed: the third edit is a new intended write (new key), so it
    reaches the vendor instead of colliding with the first, done, entry."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    rid = row["remote_id"]
    for title in ("Value A", "Value B", "Value A"):
        sql(case, "UPDATE proposals SET title = :t WHERE id = :id", t=title, id=row["id"])
        result = push(case)
        assert result.ok and result.done == 1, (title, result.refused)
        assert case.sandbox.proposal_title(rid) == title
    updates = entries(case, "update")
    assert [e["status"] for e in updates] == ["done"] * 3
    assert len({e["idempotency_key"] for e in updates}) == 3


def test_replan_of_the_same_edit_after_a_crash_keeps_its_idempotency_key(
    vendor, db_url, make_runtime, served
):
    """A reconcile whose transaction never committed (a crash) plans the same write again
    with the same key: the key names the intended write, not the attempt."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    row = editable(case)
    sql(case, "UPDATE proposals SET title = 'Replanned' WHERE id = :id", id=row["id"])
    account = case.runtime.account(case.account)
    keys = []
    for _ in range(2):
        conn = case.runtime.db.engine.connect()
        trans = conn.begin()
        try:
            keys.append([p.key for p in Reconciler(account, case.clock.now()).run(conn)])
        finally:
            trans.rollback()
            conn.close()
    assert keys[0] and keys[0] == keys[1]


def test_bad_record_while_refreshing_before_a_full_replacement_put_is_reported_not_raised(
    vendor, db_url, make_runtime, served, monkeypatch
):
    """Automa re-reads a quote before its Put; an unusable answer (`BadRecord`) fails that
    entry with the reason (not retried forever) and the push goes on with the next one."""
    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.UPDATE)
    connector = case.runtime.account(case.account).connector
    if not connector.refresh_before_update:
        pytest.skip(f"{vendor} updates are not rebuilt from a re-read")
    first = editable(case)
    with case.runtime.db.begin() as conn:  # hide the first one from `editable` for a moment
        conn.execute(update(case_table()).where(case_table().c.id == first["id"]).values(
            remote_id=None, sync_rev=case_table().c.sync_rev + 1))
    second = editable(case)
    with case.runtime.db.begin() as conn:
        conn.execute(update(case_table()).where(case_table().c.id == first["id"]).values(
            remote_id=first["remote_id"], sync_rev=case_table().c.sync_rev + 1))
    sql(case, "UPDATE proposals SET title = 'Unreadable' WHERE id = :id", id=first["id"])
    sql(case, "UPDATE proposals SET title = 'Readable' WHERE id = :id", id=second["id"])
    real = connector.fetch_one

    def fetch_one(client: Any, entity: Entity, remote_id: str) -> Any:
        if remote_id == first["remote_id"]:
            raise BadRecord(f"automa quote {remote_id}: the answer holds no quote object", {})
        return real(client, entity, remote_id)

    monkeypatch.setattr(connector, "fetch_one", fetch_one)
    result = push(case)

    assert len(result.refused) == 1 and "no quote object" in result.refused[0]
    by_row = {e["row_id"]: e for e in entries(case, "update")}
    assert by_row[first["id"]]["status"] == "failed"
    assert "no quote object" in by_row[first["id"]]["last_error"]
    assert by_row[second["id"]]["status"] == "done", "the run went on"
    assert case.sandbox.proposal_title(second["remote_id"]) == "Readable"
    case.clock.advance(3600)
    assert push(case).sent == 0, "a failed entry is not retried forever"
    assert not re.search("Unreadable", str(case.sandbox.proposal_title(first["remote_id"])))


def case_table() -> Any:
    from syncd.db.tables import CANONICAL_TABLES

    return CANONICAL_TABLES[Entity.PROPOSALS]


def test_line_item_create_answer_lost_is_linked_by_its_marker_never_inserted_twice(
    vendor, db_url, make_runtime, served
):
    """Vendors that mark line items (Quick Quote property, StrawBlond remark): a line
    item whose create answer was lost ends as one mirror row and one vendor item, through
    a pull in between and the next sync."""
    case = backfilled(vendor, db_url, make_runtime, served)
    connector = case.runtime.account(case.account).connector
    if connector.capability(Entity.LINE_ITEMS, Op.CREATE) or connector.line_items_via_parent:
        pytest.skip(f"{vendor} creates no line item on its own")
    row = editable(case)
    name = f"Item created in SQL ({vendor})"
    sql(case, "INSERT INTO line_items (account, proposal_id, position, name, quantity, "
              "unit_price) VALUES (:account, :proposal, 99, :name, 2, 10)",
        account=case.account, proposal=row["id"], name=name)
    [create] = [p for p in Pusher(case.runtime, case.runtime.account(case.account)).plan_only()
                if p.kind == "create"]
    path = re.escape(create.path) + "$"
    case.sandbox.add_fault(create.method, path, "drop")
    assert push(case).retrying == 1

    assert case.pull(sweep=False).ok
    sync(case)

    items = [r for r in case.rows(Entity.LINE_ITEMS) if r["name"] == name]
    assert len(items) == 1 and items[0]["remote_id"] is not None, items
    assert items[0]["deleted_at"] is None
    assert [r["id"] for r in case.rows(Entity.LINE_ITEMS)
            if r["remote_id"] == items[0]["remote_id"]] == [items[0]["id"]]
    assert len(case.sandbox.seen(create.method, path)) == 1, "never created twice"
    assert [e["status"] for e in entries(case, "create")] == ["done"]


def test_daemon_pull_and_backfill_resolve_in_doubt_creates_first(
    vendor, db_url, make_runtime, served
):
    """Each daemon pull (and `syncd backfill`) starts by settling the account's in-doubt
    writes: a create a killed process left `sending` is done before the pull, 0 resent."""
    from syncd.engine.daemon import Daemon

    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, f"Daemon resolves ({vendor})")
    case.sandbox.add_fault(create.method, path, "drop")
    assert push(case).retrying == 1
    with case.runtime.db.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.kind == "create").values(
            status="sending", claimed_by="killed:1", claimed_until=case.clock.time() + 300))
    daemon = Daemon(case.runtime, serve_http=False, worker="next:2")
    if daemon.leases is not None:  # PostgreSQL: this worker takes the account's lease
        daemon._balance()
    else:  # SQLite: the lock file `start` takes gives it every account
        daemon._held = {case.account}
    assert daemon.holds(case.account)
    order: list[str] = []
    real = daemon._guard

    def guard(name: str, what: str, job: Any) -> Any:
        order.append(what)
        return real(name, what, job)

    daemon._guard = guard  # type: ignore[method-assign]
    daemon._pull(case.account)

    assert order[:2] == ["resolve", "pull"]
    assert [e["status"] for e in entries(case, "create")] == ["done"]
    assert mirror(case, row_id)["remote_id"] is not None
    assert case.sandbox.count_proposals() == before + 1
    assert len(case.sandbox.seen(create.method, path)) == 1


def test_backfill_resolves_in_doubt_creates_before_it_pulls(
    vendor, db_url, make_runtime, served
):
    from typer.testing import CliRunner

    from syncd import cli

    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    before = case.sandbox.count_proposals()
    row_id, create, path = inserted(case, f"Backfill resolves ({vendor})")
    case.sandbox.add_fault(create.method, path, "reset")  # never processed
    assert push(case).retrying == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: case.runtime.settings)
        patch.setattr(cli, "runtime", lambda loaded: case.runtime)
        ran = CliRunner().invoke(cli.app, ["--quiet", "backfill"])
    assert ran.exit_code == 0, ran.output
    assert case.sandbox.count_proposals() == before + 1
    assert mirror(case, row_id)["remote_id"] is not None
    assert [e["status"] for e in entries(case, "create")] == ["done"]


def test_retry_finding_the_marker_of_a_record_already_mirrored_merges_instead_of_colliding(
    vendor, db_url, make_runtime, served, monkeypatch
):
    """The record reached the mirror as a row of its own before the marker was seen (a
    path that does not link, or a database older than linking): the retry that finds the
    marker keeps the user's row, merges the other into it (its line items too) and never
    violates `(account, remote_id)`."""
    import syncd.engine.adopt as adopt

    case = backfilled(vendor, db_url, make_runtime, served)
    require(case, Op.CREATE)
    title = f"Mirrored twice ({vendor})"
    row_id, create, path = inserted(case, title)
    case.sandbox.add_fault(create.method, path, "drop")
    assert push(case).retrying == 1
    with monkeypatch.context() as patch:  # a pull that does not link: the old defect
        patch.setattr(adopt, "adopt_marked", lambda *args, **kwargs: 0)
        assert case.pull(sweep=False).ok
    twins = [r for r in case.rows(Entity.PROPOSALS) if r["title"] == title]
    assert len(twins) == 2, "precondition: the record has a second row"
    dup = next(r for r in twins if r["id"] != row_id)
    case.clock.advance(3600)

    result = push(case)

    assert result.ok and (result.sent, result.done) == (0, 1), result.refused
    remote_id = mirror(case, row_id)["remote_id"]
    assert remote_id == dup["remote_id"]
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id] == [
        row_id]
    assert dup["id"] not in {r["id"] for r in case.rows(Entity.PROPOSALS)
                             if r["deleted_at"] is None}
    items = [r for r in case.rows(Entity.LINE_ITEMS) if r["deleted_at"] is None
             and r["remote_id"] is not None]
    assert all(r["proposal_id"] != dup["id"] for r in items)
    assert len(case.sandbox.seen(create.method, path)) == 1
    case.sandbox.reset_log()
    sync(case)
    assert writes(case) == []
    assert [r["id"] for r in case.rows(Entity.PROPOSALS) if r["title"] == title] == [row_id]


def test_remote_edit_back_to_a_value_a_webhook_fetch_replaced_is_pulled_not_skipped(
    vendor, db_url, make_runtime, served
):
    """Found by the convergence soak (seed 1014, batch 1019, Offorte): the vendor's user set a
    title C, a pull listed it (list fingerprint of C), the user set A, announced by a webhook
    whose fetch wrote A, then set C again. The list showed the fingerprint stored for C (an
    Offorte v1 list has no modification time), so no pull read the record: the mirror kept A
    for good. A targeted fetch that changes the mirror now forgets the list fingerprint."""
    case = backfilled(vendor, db_url, make_runtime, served)
    try:
        case.runtime.account(case.account).connector.webhook_subscriptions("https://x/", "s")
    except VendorUnsupported as exc:
        pytest.skip(str(exc))
    row = next(r for r in sorted(case.rows(Entity.PROPOSALS), key=lambda r: r["id"])
               if r["remote_id"] is not None and r["deleted_at"] is None)
    rid = str(row["remote_id"])
    case.sandbox.remote_edit_title(rid, "Remote C")
    assert Puller(case.runtime, case.runtime.account(case.account)).run(sweep=False).ok
    assert mirror(case, row["id"])["title"] == "Remote C"
    case.sandbox.remote_edit_title(rid, "Remote A")
    with case.runtime.db.begin() as conn:  # what an authentic `updated` event queues
        conn.execute(insert(pending_fetches).values(
            account=case.account, entity="proposals", remote_id=rid, deleted=False,
            reason="updated", created_at=case.clock.now()))
    assert run_pending_fetches(case.runtime, case.account) == 1
    assert mirror(case, row["id"])["title"] == "Remote A"
    case.sandbox.remote_edit_title(rid, "Remote C")
    case.sandbox.reset_log()

    assert Puller(case.runtime, case.runtime.account(case.account)).run(sweep=False).ok

    assert mirror(case, row["id"])["title"] == "Remote C", "the set-back was never read"
    assert case.sandbox.proposal_title(rid) == "Remote C"
    assert writes(case) == []
