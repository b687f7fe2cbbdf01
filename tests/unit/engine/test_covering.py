"""The covering-stream rules (syncd/engine/covering.py), one table per decision; the
StrawBlond connector tests run them end to end against its sandbox in both readings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from syncd.canonical import Bundle, Entity
from syncd.engine import covering
from syncd.http.paginators import laravel_paginator
from syncd.vendors.base import Connector, StreamSpec


def _spec(name: str, **kwargs: Any) -> StreamSpec:
    return StreamSpec(name=name, path="/x", paginator=laravel_paginator, model=Any,  # type: ignore[arg-type]
                      map=lambda c, m, r: Bundle(), entity=Entity.PROPOSALS, **kwargs)


PLAIN = _spec("live")
TRASH = _spec("trash", deletes_missing=False, sweep_only=True, covers="live",
              is_deleted=lambda rec: rec.get("deleted_at") is not None)


@dataclass
class Done:
    stream: str
    complete: bool = True
    error: str | None = None


class TestDecisions:
    @pytest.mark.parametrize(("stream", "state", "tracks", "deletes"), [
        (PLAIN, {}, True, True),
        (TRASH, {}, True, False),  # only trashed records seen: nothing proven gone
        (TRASH, {covering.LIVE_SEEN: True}, True, True),
        (_spec("log", deletes_missing=False), {covering.LIVE_SEEN: True}, False, False),
    ])
    def test_which_scans_prove_unseen_records_gone(
        self, stream: StreamSpec, state: dict[str, Any], tracks: bool, deletes: bool
    ) -> None:
        assert covering.tracks_seen(stream) is tracks
        assert covering.deletes_unseen(stream, state) is deletes

    def test_only_a_covering_stream_notes_live_records(self) -> None:
        state: dict[str, Any] = {}
        covering.note_record(PLAIN, state)
        assert state == {}
        covering.note_record(TRASH, state)
        covering.note_record(TRASH, state, trashed=True)
        covering.note_record(TRASH, state)
        assert state == {covering.LIVE_SEEN: 2, covering.TRASHED_SEEN: 1}

    @pytest.mark.parametrize(("live", "trashed", "holds"), [
        (0, 0, False), (0, 5, False),
        (1, 0, True), (50, 3, True),
        (1, 6, False),  # a trashed-only list with a mark the vendor left out: not a cover
        (3, 3, False),  # a tie proves nothing: the covered scan costs less than a lost record
    ])
    def test_a_list_holds_the_live_records_when_they_outnumber_the_trashed(
        self, live: int, trashed: int, holds: bool
    ) -> None:
        state = {covering.LIVE_SEEN: live, covering.TRASHED_SEEN: trashed}
        assert covering.holds_live(state) is holds
        assert covering.deletes_unseen(TRASH, state) is holds
        assert covering.verdict("a", TRASH, state) == {covering.COVERS: holds}

    def test_held_deletions_of_a_covering_scan_go_under_the_covered_name(self) -> None:
        assert covering.guard_key(TRASH) == "live" and covering.guard_key(PLAIN) == "live"

    @pytest.mark.parametrize(("state", "verdict", "warned"), [
        ({covering.LIVE_SEEN: True}, True, False),
        ({}, False, False),
        ({covering.COVERS: True}, False, True),  # conflicting evidence: said so
        ({covering.COVERS: True, covering.LIVE_SEEN: True}, True, False),
    ])
    def test_the_verdict_is_this_scans_own(
        self, state: dict[str, Any], verdict: bool, warned: bool,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        with caplog.at_level(logging.WARNING, "syncd.pull"):
            assert covering.verdict("a", TRASH, state) == {covering.COVERS: verdict}
        assert bool(caplog.records) is warned
        assert covering.verdict("a", PLAIN, state) == {}


class TestCovered:
    @pytest.mark.parametrize(("done", "stored", "spared"), [
        ([Done("trash")], {covering.COVERS: True}, "trash"),
        ([Done("trash")], {covering.COVERS: False}, None),
        ([Done("trash")], {}, None),  # no verdict yet
        ([Done("trash", complete=False)], {covering.COVERS: True}, None),
        ([Done("trash", error="HTTP 500")], {covering.COVERS: True}, None),
        ([], {covering.COVERS: True}, None),  # a verdict of an earlier run spares nothing
    ])
    def test_a_stream_is_spared_only_by_a_scan_of_this_run(
        self, done: list[Done], stored: dict[str, Any], spared: str | None
    ) -> None:
        assert covering.covered(PLAIN, (PLAIN, TRASH), done, lambda spec: stored) == spared
        assert covering.covered(TRASH, (PLAIN, TRASH), done, lambda spec: stored) is None

    def test_a_sweep_reads_the_covering_stream_first(self) -> None:
        class Two(Connector):
            vendor = "two"
            streams = (PLAIN, TRASH)

        two = Two(None)  # type: ignore[arg-type]
        assert [s.name for s in two.active_streams(sweep=True)] == ["trash", "live"]
        assert [s.name for s in two.active_streams(sweep=False)] == ["live"]
