"""The `drift` table: what syncd met in vendor answers but could not fully interpret.

A pull (and `syncd remap`) collects `DriftNote`s per record (`syncd.drift`); they are
counted here by (stream, kind, field path, and for unmapped words the word itself) and
written in the page's transaction. A pull adds to the counts; a remap, which re-reads
every stored record, replaces them with what it found, so a word mapped since then
disappears from `syncd drift`. Example values are truncated and masked: a value under a
secret-looking key, or equal to one of the account's secrets, is never stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_

from syncd.db.bulk import dialect_insert
from syncd.db.tables import drift
from syncd.drift import DriftKind, DriftNote, example, normalize_word
from syncd.http.redaction import MASK, SENSITIVE_PARAMS, Redactor
from syncd.settings import AccountSettings

# kinds that mean "a value could not be interpreted" (the summary's count)
NOT_INTERPRETED = (DriftKind.UNMAPPED_WORD, DriftKind.UNPARSEABLE_VALUE)
_SECRET_HINTS = ("token", "password", "secret", "api_key", "apikey", "authorization")


@dataclass
class _Entry:
    count: int
    value: Any
    remote_id: str | None


@dataclass
class DriftTally:
    """Notes of many records of one stream, counted by (kind, path, word)."""

    entries: dict[tuple[str, str, str], _Entry] = field(default_factory=dict)

    def add(self, remote_id: str | None, notes: Iterable[DriftNote]) -> None:
        """Count a record's drift notes, keeping one example of each kind, path and word."""
        for item in notes:
            word = normalize_word(str(item.value)) if item.kind is DriftKind.UNMAPPED_WORD else ""
            key = (str(item.kind), item.path, word[:200])
            found = self.entries.get(key)
            if found is None:
                self.entries[key] = _Entry(1, item.value, remote_id)
            else:
                found.count += 1

    def by_kind(self) -> Counter[str]:
        """How many notes of each kind the run saw, for the run's summary line."""
        counts: Counter[str] = Counter()
        for (kind, _, _), entry in self.entries.items():
            counts[kind] += entry.count
        return counts

    def __bool__(self) -> bool:
        return bool(self.entries)


def not_interpreted(counts: Counter[str]) -> int:
    """How many values of `counts` (by kind) could not be interpreted at all."""
    return sum(counts[str(k)] for k in NOT_INTERPRETED)


class DriftWriter:
    """Writes tallies of one account, masking what could be a secret."""

    def __init__(self, account: AccountSettings, now: datetime) -> None:
        self.account = account.name
        self.now = now
        self.redact = Redactor([account.secret(k) or "" for k in account.auth]
                               + account.secret_values())

    def masked(self, path: str, value: Any) -> str:
        """An example value fit to store: secrets masked, everything else redacted as the logs are."""
        leaf = path.rsplit(".", 1)[-1].removesuffix("[]").lower()
        if leaf in SENSITIVE_PARAMS or any(hint in leaf for hint in _SECRET_HINTS):
            return MASK
        return self.redact(example(value))

    def _rows(self, stream: str, tally: DriftTally) -> list[dict[str, Any]]:
        return [
            {"account": self.account, "stream": stream, "kind": kind, "path": path[:300],
             "word": word, "example_value": self.masked(path, entry.value),
             "example_remote_id": entry.remote_id, "count": entry.count,
             "first_seen": self.now, "last_seen": self.now}
            for (kind, path, word), entry in tally.entries.items()
        ]

    def add(self, conn: Connection, stream: str, tally: DriftTally) -> None:
        """A pull's notes: counts grow, the latest example is kept."""
        self._upsert(conn, self._rows(stream, tally), replace=False)

    def replace(self, conn: Connection, streams: Sequence[str],
                tallies: dict[str, DriftTally]) -> None:
        """A remap's notes: the drift of `streams` becomes exactly what it found (first
        seen kept for what is still there).
        """
        for stream in streams:
            tally = tallies.get(stream, DriftTally())
            keys = list(tally.entries)
            stale = delete(drift).where(drift.c.account == self.account, drift.c.stream == stream)
            if keys:
                stale = stale.where(tuple_(drift.c.kind, drift.c.path, drift.c.word).not_in(
                    [(k, p[:300], w) for k, p, w in keys]))
            conn.execute(stale)
            self._upsert(conn, self._rows(stream, tally), replace=True)

    def _upsert(self, conn: Connection, rows: list[dict[str, Any]], *, replace: bool) -> None:
        if not rows:
            return
        stmt = dialect_insert(conn, drift)
        count = stmt.excluded["count"] if replace else drift.c["count"] + stmt.excluded["count"]
        stmt = stmt.on_conflict_do_update(
            index_elements=["account", "stream", "kind", "path", "word"],
            set_={"count": count, "example_value": stmt.excluded.example_value,
                  "example_remote_id": stmt.excluded.example_remote_id,
                  "last_seen": stmt.excluded.last_seen})
        conn.execute(stmt, rows)


def drift_rows(conn: Connection, accounts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The drift table, most frequent first (for `syncd drift`, status and metrics)."""
    query = select(drift).order_by(drift.c.account, drift.c["count"].desc(), drift.c.path)
    if accounts:
        query = query.where(drift.c.account.in_(list(accounts)))
    return [dict(r) for r in conn.execute(query).mappings()]


def secret_key(name: str) -> bool:
    """Whether a JSON key names a secret (its value is masked wherever syncd shows it)."""
    leaf = name.rsplit(".", 1)[-1].removesuffix("[]").lower()
    return leaf in SENSITIVE_PARAMS or any(hint in leaf for hint in _SECRET_HINTS)
