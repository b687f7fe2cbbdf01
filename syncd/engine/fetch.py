"""One record read from the vendor by id and written through the mirror writer.

Shared by the webhook fetches (syncd/engine/webhooks.py) and the verification of
snapshots (syncd/engine/verify.py): the connector's `fetch_one` validates and maps the
record as a pull would, the writer merges it three-way (a remote change to a field the
user also changed is a conflict, not an overwrite), and a record the vendor no longer has
goes through the one deletion path. Either way the record has now been read from the
vendor itself, so its snapshot mark (syncd/engine/unverified.py) goes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import Connection, Executable

from syncd import drift
from syncd.canonical import Bundle, Entity
from syncd.engine import unverified
from syncd.engine.adopt import AdoptingWriter
from syncd.engine.deletes import forget_fingerprints
from syncd.engine.drift_log import DriftTally, DriftWriter
from syncd.engine.runtime import Runtime
from syncd.errors import SyncdError
from syncd.http.client import NotFound
from syncd.settings import AccountSettings

log = logging.getLogger("syncd.fetch")


class Fetched(StrEnum):
    """What one targeted fetch did to the mirror."""

    SAME = "same"  # the vendor holds what the mirror holds
    CHANGED = "changed"  # applied as a remote change (merged, maybe a conflict)
    DELETED = "deleted"  # gone at the vendor: marked deleted
    FAILED = "failed"  # no answer to go by: nothing written, the mark stays


def fetch_and_apply(runtime: Runtime, account_name: str, entity: Entity, remote_id: str,
                    then: Sequence[Executable] = ()) -> Fetched:
    """Fetch one record (at the caller's priority) and write what it says into the mirror.

    `then`: SQL statements the caller commits in the same transaction (a webhook fetch
    retires its queue entry with the write).
    """
    account = runtime.account(account_name)
    tally = DriftTally()
    bundle: Bundle | None
    try:
        # the fetch validates and maps: its drift notes are the pull's, by stream
        with drift.collecting() as notes:
            bundle = account.connector.fetch_one(account.client, entity, remote_id)
        tally.add(remote_id, notes)
    except NotFound:
        bundle = None
    except SyncdError as exc:
        log.warning("account=%s targeted fetch of %s %s failed: %s", account_name, entity,
                    remote_id, exc)
        return Fetched.FAILED
    # links a lost create's record to its waiting row by marker, as a pull does
    writer = AdoptingWriter(account_name, account.connector,
                            runtime.settings.sync.conflict_policy, runtime.clock.now())
    with runtime.db.begin() as conn:
        outcome = _write(conn, writer, account.connector.stream_for(entity), entity,
                         remote_id, bundle, tally, account.settings)
        unverified.clear(conn, account_name, str(entity), [remote_id])
        for statement in then:
            conn.execute(statement)
    return outcome


def _write(conn: Connection, writer: AdoptingWriter, stream: str, entity: Entity,
           remote_id: str, bundle: Bundle | None, tally: DriftTally,
           settings: AccountSettings) -> Fetched:
    if bundle is None:  # gone at the vendor: the one deletion path, dependants too
        writer.delete_remote_ids(conn, str(entity), [remote_id])
        return Fetched.DELETED
    stats = writer.apply(conn, bundle, stream)
    if tally:
        DriftWriter(settings, writer.now).add(conn, stream, tally)
    if not (stats.updated or stats.inserted or stats.deleted or stats.conflicts):
        return Fetched.SAME
    # the record's stored list fingerprint describes the list before this change: were the
    # vendor's user to set it back (A -> B -> A, B learned here), the list would show that
    # fingerprint again and the next pull would skip the record, keeping B (Offorte v1's
    # list carries no modification time). The list differs from it now anyway, so the next
    # pull would have read the record again: forgetting it costs no request.
    forget_fingerprints(conn, writer.account, [remote_id])
    return Fetched.CHANGED
