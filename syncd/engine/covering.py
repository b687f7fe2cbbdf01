"""One scan instead of two: a list that turns out to hold another list's records too.

Some vendors answer a "trashed" list with the live records as well (a filter documented
as "include soft-deleted records" read literally). Reading the live list after it would
double a sweep's requests. A stream declaring
`StreamSpec.covers` is read first in sweeps (`Connector.active_streams`), and its own
answers decide, per account and per scan:

* a complete scan whose records are mostly not `is_deleted` proves that the list holds the
  live records too: the scan then proves every record it did not see gone (through the
  guard, `syncd.engine.deletes`), and the covered stream is skipped in that sweep;
* a scan holding only (or mostly) trashed records proves nothing of the live ones: the
  covered stream runs as before, with its own deletions.

Why a majority and not one live-looking record: a vendor that drops or nulls the trashed
mark of a few records (`deleted_at` missing, `null`) would otherwise turn a trashed-only
list into "every offer", and a backfill would then skip the live list and lose every live
record (bench.drift found it: 1 StrawBlond offer of 200 kept). The two mistakes are not
alike: taking a covering list for a trashed-only one costs the covered scan's requests;
the reverse loses records. So a list whose trashed records outnumber its live ones is
read as trashed-only, and an account whose bin really is that full pays both scans.

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
LIVE_SEEN = "live_seen"  # in-scan state: how many records this scan listed not trashed
TRASHED_SEEN = "trashed_seen"  # in-scan state: how many it listed trashed
COVERS = "covers"  # state after a complete scan: its verdict


class _Result(Protocol):
    stream: str
    complete: bool
    error: str | None


def tracks_seen(stream: StreamSpec) -> bool:
    """Whether a scan of `stream` records the ids it saw (to mark the unseen deleted)."""
    return stream.deletes_missing or stream.covers is not None


def note_record(stream: StreamSpec, state: dict[str, Any], *, trashed: bool = False) -> None:
    """Count a record of a covering scan, live or trashed (the verdict weighs the two)."""
    if stream.covers is not None:
        key = TRASHED_SEEN if trashed else LIVE_SEEN
        state[key] = int(state.get(key) or 0) + 1


def holds_live(state: dict[str, Any]) -> bool:
    """Whether this scan showed the list holding the live records: more of them than
    trashed ones (see the module's docstring for why not one).
    """
    live = int(state.get(LIVE_SEEN) or 0)
    return live > 0 and live > int(state.get(TRASHED_SEEN) or 0)


def deletes_unseen(stream: StreamSpec, state: dict[str, Any]) -> bool:
    """Whether the scan that just ended proves its unseen records gone."""
    return stream.deletes_missing or (stream.covers is not None and holds_live(state))


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
    covers = holds_live(state)
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
