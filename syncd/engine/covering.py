"""One scan instead of two: a list that turns out to hold another list's records too.

Some vendors answer a "trashed" list with the live records as well (a filter documented
as "include soft-deleted records" read literally). Reading the live list after it would
double a sweep's requests. A stream declaring
`StreamSpec.covers` is read first in sweeps (`Connector.active_streams`), and its own
answers decide, per account and per scan:

* a record that is not `is_deleted` in a complete scan proves that the list holds the live
  records too: the scan then proves every record it did not see gone (through the guard,
  `syncd.engine.deletes`), and the covered stream is skipped in that sweep;
* a scan holding only trashed records proves nothing of the live ones: the covered stream
  runs as before, with its own deletions.

The verdict of the last complete scan is the stream's `covers` state (persisted with the
stream's position), so a sweep resumed in a new process, after the covering scan ended,
skips or runs the covered stream alike. A verdict is never carried over to a scan that did
not show it: a list that held live records once and only trashed ones later (conflicting
evidence) falls back to both scans at once, and no deletion is inferred from it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from syncd.vendors.base import StreamSpec

log = logging.getLogger("syncd.pull")
LIVE_SEEN = "live_seen"  # in-scan state: this scan listed a record that is not trashed
COVERS = "covers"  # state after a complete scan: its verdict


class _Result(Protocol):
    stream: str
    complete: bool
    error: str | None


def tracks_seen(stream: StreamSpec) -> bool:
    """Whether a scan of `stream` records the ids it saw (to mark the unseen deleted)."""
    return stream.deletes_missing or stream.covers is not None


def note_record(stream: StreamSpec, state: dict[str, Any]) -> None:
    """A record of a covering scan that is not trashed: the list holds the live ones."""
    if stream.covers is not None:
        state[LIVE_SEEN] = True


def deletes_unseen(stream: StreamSpec, state: dict[str, Any]) -> bool:
    """Whether the scan that just ended proves its unseen records gone."""
    return stream.deletes_missing or (stream.covers is not None and bool(state.get(LIVE_SEEN)))


def guard_key(stream: StreamSpec) -> str:
    """The stream name the guard holds a scan's deletions under: a covering scan stands in
    for the covered one, so both confirm (or clear) the same held deletions.
    """
    return stream.covers or stream.name


def verdict(account: str, stream: StreamSpec, state: dict[str, Any]) -> dict[str, Any]:
    """The state a covering stream keeps after a complete scan (empty for other streams);
    a list that covered before and now shows only trashed records is logged.
    """
    if stream.covers is None:
        return {}
    covers = bool(state.get(LIVE_SEEN))
    if state.get(COVERS) and not covers:
        log.warning("account=%s stream=%s listed live records before and only trashed ones "
                    "now: %s is read again in sweeps", account, stream.name, stream.covers,
                    extra={"account": account, "stream": stream.name})
    return {COVERS: covers}


def covered(stream: StreamSpec, streams: Sequence[StreamSpec], done: Sequence[_Result],
            state_of: Any) -> str | None:
    """The covering stream that spares `stream` in this run: one that completed in it
    (or in the interrupted run it resumes) and whose stored verdict says it covers;
    None when `stream` must be read. `state_of(spec)` loads a stream's state.
    """
    for cover in streams:
        if cover.covers != stream.name:
            continue
        result = next((r for r in done if r.stream == cover.name), None)
        if result is not None and result.complete and result.error is None and (
                state_of(cover).get(COVERS) is True):
            return cover.name
    return None
