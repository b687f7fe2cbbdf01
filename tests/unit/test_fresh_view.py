"""A resumed pull must not leave the engine believing it has a fresh view (issue 14).

`syncd sync` killed after reading two of Offorte's five status lists used to resume, on the
next run, at the third list: a remote edit made meanwhile to a proposal of the first list
was never seen, and the push then overwrote it with a local edit of the same field, with
no conflict. Now the resumed stream is read again before pushes are planned (the edit
becomes a conflict), and a resumed backfill holds pushes of existing records until a pull
has read every stream from its start.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from syncd import cli
from syncd.db.tables import conflicts, outbox, proposals, stream_state
from syncd.engine.pull import Puller, stale_view
from syncd.engine.push import Pusher
from syncd.engine.runtime import Runtime
from syncd.engine.status import account_status
from tests.connectors.standard import make_case

SIZES = {"companies": 4, "proposals": 30, "max_items": 2, "seed": 3}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, nothing uncommitted is kept."""


def killing_at(path_part: str) -> Any:
    """A transport factory that dies when a request for `path_part` is about to be sent."""
    class Transport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if path_part in request.url.path:
                raise Killed(request.url.path)
            return super().handle_request(request)
    return lambda settings: Transport()


def second_process(case: Any, make_runtime: Any, db_url: str, factory: Any = None) -> Runtime:
    """A new runtime over the same mirror and sandbox, as a new process would build it."""
    entry = {**case.sandbox.account_entry("acct"), "requests_per_minute": 100_000}
    rt = make_runtime(db_url, [entry], case.clock, conflict_policy="manual")
    rt.transport_factory = factory
    return rt


def cli_sync(rt: Runtime) -> str:
    """One real `syncd sync` (settle outbox, pull, reconcile + push) over `rt`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: rt.settings)
        patch.setattr(cli, "runtime", lambda loaded: rt)
        ran = CliRunner().invoke(cli.app, ["--quiet", "sync"])
    assert ran.exit_code == 0, ran.output
    return ran.output


def first_list_proposal(case: Any) -> dict[str, Any]:
    """A proposal of Offorte's first status list ("edit") that the mirror holds."""
    listed = {str(p["id"]) for p in case.sandbox.proposals.values()
              if p.get("status") == "edit" and not p.get("deleted")}
    with case.runtime.db.begin() as conn:
        rows = conn.execute(select(proposals).where(proposals.c.remote_id.in_(listed))
                            .order_by(proposals.c.id)).mappings().all()
    assert rows, "the first list holds a mirrored proposal"
    return dict(rows[0])


def test_sync_killed_after_two_status_lists_does_not_overwrite_a_remote_edit_in_the_first(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = make_case("offorte", db_url, make_runtime, served, rpm=100_000, sizes=SIZES,
                     conflict_policy="manual")
    assert case.pull().ok
    row = first_list_proposal(case)
    rid = row["remote_id"]

    # a sync dies as it is about to read the third status list ("won")
    killed = second_process(case, make_runtime, db_url, killing_at("/proposals/won"))
    with pytest.raises(Killed):
        Puller(killed, killed.account("acct")).run(sweep=False, kind="pull")
    with case.runtime.db.begin() as conn:
        state = conn.execute(select(stream_state.c.state).where(
            stream_state.c.stream == "proposals")).scalar_one()
    assert state["in_progress"] and state["partition"] == 2

    # meanwhile: the same field edited at the vendor (first list) and in the mirror
    case.sandbox.remote_edit_title(rid, "Remote side")
    with case.runtime.db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Local side' WHERE id = :id"),
                     {"id": row["id"]})
    case.sandbox.reset_log()

    rerun = second_process(case, make_runtime, db_url)
    cli_sync(rerun)

    assert case.sandbox.proposal_title(rid) == "Remote side"  # never silently overwritten
    # the resumed scan went on at the third list, then re-read the three its first part
    # covered (the earlier run's two and the one it resumed in), not all five again
    lists = [r.path.rstrip("/").rsplit("/", 1)[-1] for r in case.sandbox.requests
             if re.search(r"/proposals/[a-z]+/?$", r.path)]
    assert lists == ["won", "lost", "closed", "edit", "open", "won"]
    assert not [r for r in case.sandbox.requests if r.method in WRITES and rid in r.path]
    with rerun.db.begin() as conn:
        open_ = conn.execute(select(conflicts.c.field, conflicts.c.local_value,
                                    conflicts.c.remote_value).where(
            conflicts.c.row_id == row["id"], conflicts.c.status == "open")).all()
        assert [tuple(c) for c in open_] == [("title", "Local side", "Remote side")]
        assert not stale_view(conn, "acct")


def test_resumed_backfill_holds_pushes_of_existing_records_until_a_fresh_pull(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = make_case("offorte", db_url, make_runtime, served, rpm=100_000, sizes=SIZES,
                     conflict_policy="manual")
    killed = second_process(case, make_runtime, db_url, killing_at("/proposals/won"))
    with pytest.raises(Killed):
        Puller(killed, killed.account("acct")).run(sweep=True, kind="backfill")
    rerun = second_process(case, make_runtime, db_url)
    assert Puller(rerun, rerun.account("acct")).run(sweep=True, kind="backfill").ok
    row = first_list_proposal(case)
    case.sandbox.remote_edit_title(row["remote_id"], "Remote side")
    with rerun.db.begin() as conn:
        assert stale_view(conn, "acct")
        shown = {a["account"]: a for a in account_status(conn, rerun.settings, 0.0)}
        assert shown["acct"]["stale_view"] is True  # `syncd status` says edits wait
        conn.execute(text("UPDATE proposals SET title = 'Local side' WHERE id = :id"),
                     {"id": row["id"]})
    case.sandbox.reset_log()

    pushed = Pusher(rerun, rerun.account("acct")).run()  # `syncd push` alone: waits
    assert pushed.done == 0
    assert not [r for r in case.sandbox.requests if r.method in WRITES]
    with rerun.db.begin() as conn:
        assert conn.execute(select(outbox.c.id)).first() is None

    cli_sync(rerun)  # its pull reads every stream from the start, then reconciles
    assert case.sandbox.proposal_title(row["remote_id"]) == "Remote side"
    with rerun.db.begin() as conn:
        assert not stale_view(conn, "acct")
        assert conn.execute(select(conflicts.c.field).where(
            conflicts.c.row_id == row["id"], conflicts.c.status == "open")).scalars().all() == [
            "title"]


def test_sync_whose_pull_failed_midway_plans_no_push_until_a_pull_completes(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = make_case("offorte", db_url, make_runtime, served, rpm=100_000, sizes=SIZES,
                     conflict_policy="manual")
    assert case.pull().ok
    row = first_list_proposal(case)
    with case.runtime.db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Local side' WHERE id = :id"),
                     {"id": row["id"]})
    fault = case.sandbox.add_fault("GET", r"/proposals/won/?$", "status", status=503,
                                   times=1_000)
    case.sandbox.reset_log()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: case.runtime.settings)
        patch.setattr(cli, "runtime", lambda loaded: case.runtime)
        ran = CliRunner().invoke(cli.app, ["--quiet", "sync"])
    assert ran.exit_code == 1, ran.output
    assert "pull incomplete" in ran.output
    assert not [r for r in case.sandbox.requests if r.method in WRITES]
    with case.runtime.db.begin() as conn:
        assert conn.execute(select(outbox.c.id)).first() is None

    fault.times = 0
    cli_sync(case.runtime)
    assert case.sandbox.proposal_title(row["remote_id"]) == "Local side"
