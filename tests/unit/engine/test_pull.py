"""The puller's steps over a toy stream served in process (an httpx MockTransport).

The toy vendor lists items in pages (`?page=N&per_page=K`, bare arrays) and answers one
item at `/items/{id}`. Outcomes asserted: the mirror's rows, what a `StreamResult` counts,
the requests the vendor saw, the stored position, where paging stops (end, high-water
mark, the stop event) and the pure steps `page_ids`, `kept_records`, `_advance` and
`_stop_early`.

A resumed pull must not leave the engine believing it has a fresh view (issue 14).

`syncd sync` killed after reading two of Offorte's five status lists used to resume, on the
next run, at the third list: a remote edit made meanwhile to a proposal of the first list
was never seen, and the push then overwrote it with a local edit of the same field, with
no conflict. Now the resumed stream is read again before pushes are planned (the edit
becomes a conflict), and a resumed backfill holds pushes of existing records until a pull
has read every stream from its start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from syncd import cli
from syncd.canonical import Bundle, Entity
from syncd.clock import FakeClock
from syncd.db.tables import companies, conflicts, outbox, proposals, stream_state
from syncd.drift import Key, Record, Text
from syncd.engine.pull import (
    Puller,
    StreamResult,
    _advance,
    _stop_early,
    kept_records,
    page_ids,
    stale_view,
)
from syncd.engine.push import Pusher
from syncd.engine.runtime import AccountRuntime, Runtime
from syncd.engine.status import account_status
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.http.paginators import PageNumberPaginator
from syncd.vendors.base import Connector, DetailSpec, StreamSpec
from tests.connectors.standard import make_case

T0 = 1_790_000_000.0
BASE = "https://toy.example.com/api"


class Item(Record):
    id: Key
    name: Text = None
    modified: Text = None


def map_item(connector: Any, model: Item, raw: dict[str, Any]) -> Bundle:
    return Bundle(companies=[{"remote_id": model.id, "name": model.name, "raw": raw}])


class ToyConnector(Connector):
    vendor = "toy"


def toy_stream(**changes: Any) -> StreamSpec:
    fields: dict[str, Any] = {
        "name": "items", "path": "/items", "model": Item, "map": map_item,
        "entity": Entity.COMPANIES, "page_size": 2,
        "paginator": lambda size, state: PageNumberPaginator(size, state, size_param="per_page"),
    }
    return StreamSpec(**{**fields, **changes})


class ToyVendor:
    """Items in pages of `per_page`; `/items/{id}` answers `{"item": …}` or 404."""

    def __init__(self, count: int) -> None:
        self.items = [{"id": str(n), "name": f"item {n}", "modified": f"2024-01-0{n}"}
                      for n in range(1, count + 1)]
        self.gone: set[str] = set()
        self.bad_list = False
        self.after_page: Callable[[int], None] | None = None
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        parts = request.url.path.strip("/").split("/")
        if len(parts) == 3:
            found = [i for i in self.items if i["id"] == parts[2] and i["id"] not in self.gone]
            return (httpx.Response(200, json={"item": found[0]}) if found
                    else httpx.Response(404, json={"message": "no such item"}))
        if self.bad_list:
            return httpx.Response(200, json={"message": "not a list"})
        page, size = int(request.url.params["page"]), int(request.url.params["per_page"])
        if self.after_page:
            self.after_page(page)
        return httpx.Response(200, json=self.items[(page - 1) * size: page * size])

    def pages_asked(self) -> list[int]:
        return [int(r.url.params["page"]) for r in self.seen if "page" in r.url.params]

    def details_asked(self) -> list[str]:
        return [r.url.path.rsplit("/", 1)[1] for r in self.seen if "page" not in r.url.params]


class Toy:
    """A puller for account "a" over the toy vendor, and what to look at afterwards."""

    def __init__(self, runtime: Runtime, vendor: ToyVendor, clock: FakeClock) -> None:
        self.runtime, self.vendor, self.clock = runtime, vendor, clock
        settings = runtime.settings.account("a")
        budget = RateBudget("a", 10_000, clock)
        client = AccountClient(account="a", base_url=BASE, budget=budget, clock=clock,
                               ledger=None, stop=runtime.stop,
                               inner_transport=httpx.MockTransport(vendor))
        self.account = AccountRuntime(settings, ToyConnector(settings), budget, client)
        self.puller = Puller(runtime, self.account)

    def run(self, stream: StreamSpec, *, sweep: bool = True) -> StreamResult:
        self.clock.advance(60)
        return self.puller.run_stream(stream, sweep=sweep)

    def names(self) -> dict[str, str | None]:
        with self.runtime.db.begin() as conn:
            return {r.remote_id: r.name for r in conn.execute(
                select(companies.c.remote_id, companies.c.name).where(
                    companies.c.account == "a", companies.c.deleted_at.is_(None)))}

    def state(self) -> dict[str, Any]:
        with self.runtime.db.begin() as conn:
            return dict(conn.execute(select(stream_state.c.state).where(
                stream_state.c.account == "a")).scalar() or {})

    @property
    def requests(self) -> int:
        return self.account.client.transport.requests_sent


@pytest.fixture
def toy(sqlite_url: str, make_runtime: Callable[..., Runtime]) -> Iterator[Toy]:
    clock = FakeClock(T0)
    runtime = make_runtime(sqlite_url, [{"name": "a", "vendor": "quickquote", "base_url": BASE,
                                         "auth": {"api_key": "k"}}], clock)
    made = Toy(runtime, ToyVendor(5), clock)
    yield made
    made.account.client.close()


class TestListStream:
    def test_a_scan_reads_every_page_once_and_mirrors_every_record(self, toy: Toy) -> None:
        result = toy.run(toy_stream())
        assert result.error is None and result.complete
        assert (result.pages, result.records, toy.requests) == (3, 5, 3)
        assert toy.vendor.pages_asked() == [1, 2, 3]  # the short page 3 ends the list
        assert toy.names() == {str(n): f"item {n}" for n in range(1, 6)}
        assert toy.state()["in_progress"] is False

    def test_a_second_scan_skips_unchanged_records_and_writes_nothing(self, toy: Toy) -> None:
        toy.run(toy_stream())
        again = toy.run(toy_stream())
        assert again.skipped_unchanged == 5 and again.writes.inserted == 0
        assert again.writes.updated == 0 and toy.requests == 6

    def test_a_changed_record_is_written_again(self, toy: Toy) -> None:
        toy.run(toy_stream())
        toy.vendor.items[3]["name"] = "renamed"
        again = toy.run(toy_stream())
        assert again.skipped_unchanged == 4 and toy.names()["4"] == "renamed"

    def test_records_the_stream_skips_are_neither_counted_nor_mirrored(self, toy: Toy) -> None:
        toy.vendor.items[1]["name"] = "draft two"
        result = toy.run(toy_stream(skip=lambda rec: rec["name"].startswith("draft"),
                                    deletes_missing=False))
        assert result.records == 4 and "2" not in toy.names()
        assert toy.vendor.pages_asked() == [1, 2, 3]  # the position ignores the filter

    def test_an_answer_without_a_list_fails_the_stream_by_name(self, toy: Toy) -> None:
        toy.vendor.bad_list = True
        result = toy.run(toy_stream())
        assert result.error is not None and "items: expected a list of records" in result.error
        assert not result.complete and toy.names() == {}
        assert toy.state()["in_progress"] is True  # the next run resumes the scan

    def test_a_record_missing_from_a_complete_scan_is_deleted(self, toy: Toy) -> None:
        toy.run(toy_stream())
        del toy.vendor.items[0]
        result = toy.run(toy_stream())
        assert result.deleted == 1 and set(toy.names()) == {"2", "3", "4", "5"}


class TestWhereAScanStops:
    def test_a_reached_high_water_mark_stops_paging_and_infers_no_deletion(
        self, toy: Toy
    ) -> None:
        toy.vendor.items.reverse()  # newest first
        stream = toy_stream(high_water=lambda rec: rec["modified"])
        toy.run(stream, sweep=False)
        assert toy.state()["marks"] == {"": "2024-01-05"}
        toy.vendor.seen.clear()
        del toy.vendor.items[-1]  # not read again: no deletion from a partial scan
        result = toy.run(stream, sweep=False)
        assert toy.vendor.pages_asked() == [1]  # "2024-01-05" is not newer than the mark
        assert not result.complete and result.deleted == 0 and len(toy.names()) == 5

    def test_the_stop_event_ends_before_the_next_request_and_the_scan_resumes(
        self, toy: Toy
    ) -> None:
        toy.vendor.after_page = lambda page: toy.runtime.stop.set() if page == 1 else None
        first = toy.run(toy_stream())
        assert first.pages == 1 and not first.complete and toy.vendor.pages_asked() == [1]
        assert toy.state()["page"] == {"page": 2} and toy.state()["in_progress"]
        toy.runtime.stop.clear()
        toy.vendor.after_page = None
        second = toy.run(toy_stream())
        assert toy.vendor.pages_asked() == [1, 2, 3] and second.complete
        assert len(toy.names()) == 5


class TestDetailStream:
    def stream(self) -> StreamSpec:
        return toy_stream(detail=DetailSpec(path="/items/{id}", name="item",
                                            records_path=("item",)))

    def test_changed_records_are_detailed_one_request_each(self, toy: Toy) -> None:
        result = toy.run(self.stream())
        assert result.details == 5 and toy.requests == 3 + 5
        assert toy.vendor.details_asked() == ["1", "2", "3", "4", "5"]
        again = toy.run(self.stream())
        assert again.details == 0 and again.skipped_unchanged == 5 and toy.requests == 11

    def test_a_detail_answering_404_marks_the_record_deleted(self, toy: Toy) -> None:
        toy.run(self.stream())
        toy.vendor.items[1]["name"] = "changed"  # a new fingerprint: detailed again
        toy.vendor.gone.add("2")
        result = toy.run(self.stream())
        assert result.details == 1 and result.deleted == 1
        assert "2" not in toy.names() and len(toy.names()) == 4


class TestSteps:
    def test_page_ids_keep_each_ids_last_entry_and_no_unusable_id(self) -> None:
        stream = toy_stream()
        ids, last = page_ids(stream, [{"id": "a"}, {"name": "no id"}, {"id": "b"},
                                      {"id": "a"}])
        assert ids == ["a", None, "b", "a"] and last == {"a": 3, "b": 2}

    def test_kept_records_drop_what_the_stream_skips_in_order(self) -> None:
        records = [{"id": "1"}, {"id": "2", "skip": True}, {"id": "3"}]
        assert kept_records(toy_stream(), records) is records
        kept = kept_records(toy_stream(skip=lambda rec: rec.get("skip", False)), records)
        assert [r["id"] for r in kept] == ["1", "3"]

    def test_advance_moves_to_the_next_page_or_partition(self) -> None:
        paginator = PageNumberPaginator(2)
        paginator.update([1, 2], [1, 2])
        state: dict[str, Any] = {"partition": 0}
        _advance(toy_stream(), paginator, state, "")
        assert state == {"partition": 0, "page": {"page": 2}}
        paginator.update([3], [3])
        _advance(toy_stream(keep_cursor=True), paginator, state, "open")
        assert state == {"partition": 1, "page": None, "kept": {"open": {"page": 2}}}

    def test_stop_early_ends_the_list_and_marks_the_scan_partial(self) -> None:
        paginator, state = PageNumberPaginator(2), {"partition": 0}
        _stop_early(paginator, state)
        assert not paginator.has_next and state["early_stop"] is True
        _advance(toy_stream(), paginator, state, "")
        assert state["partition"] == 1 and state["page"] is None


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
