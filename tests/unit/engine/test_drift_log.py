"""The drift table: counts grow with pulls, a remap replaces them, secrets never stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from syncd.db.session import Database
from syncd.db.tables import drift
from syncd.drift import DriftKind, DriftNote
from syncd.engine.drift_log import DriftTally, DriftWriter, drift_rows, not_interpreted
from syncd.settings import settings_from_dict

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def _account() -> Any:
    return settings_from_dict({"accounts": [{
        "name": "a", "vendor": "quickquote", "base_url": "http://127.0.0.1:9",
        "auth": {"api_key": "sekret-key-123"}}]}).accounts[0]


def _tally(*notes: tuple[DriftKind, str, Any], rid: str = "r1") -> DriftTally:
    tally = DriftTally()
    tally.add(rid, [DriftNote(k, p, v) for k, p, v in notes])
    return tally


def test_pulls_add_up_counts_per_word_and_path(db_url: str) -> None:
    db = Database(db_url)
    with db.begin() as conn:
        DriftWriter(_account(), T0).add(conn, "quotes", _tally(
            (DriftKind.UNMAPPED_WORD, "status", "Archived"),
            (DriftKind.UNMAPPED_WORD, "status", "ARCHIVED"),
            (DriftKind.UNMAPPED_WORD, "status", "On Hold"),
            (DriftKind.UNKNOWN_FIELD, "legacy", 1)))
    with db.begin() as conn:
        DriftWriter(_account(), T1).add(conn, "quotes", _tally(
            (DriftKind.UNMAPPED_WORD, "status", "archived"), rid="r2"))
        rows = drift_rows(conn, ["a"])
    by_word = {(r["kind"], r["word"]): r for r in rows}
    archived = by_word[("unmapped_word", "archived")]
    assert archived["count"] == 3 and archived["example_remote_id"] == "r2"
    assert archived["first_seen"].replace(tzinfo=UTC) == T0
    assert archived["last_seen"].replace(tzinfo=UTC) == T1
    assert by_word[("unmapped_word", "onhold")]["count"] == 1
    assert by_word[("unknown_field", "")]["path"] == "legacy"
    db.dispose()


def test_a_remap_replaces_the_counts_and_drops_what_it_no_longer_meets(db_url: str) -> None:
    db = Database(db_url)
    with db.begin() as conn:
        DriftWriter(_account(), T0).add(conn, "quotes", _tally(
            (DriftKind.UNMAPPED_WORD, "status", "Archived"),
            (DriftKind.COERCED_VALUE, "total", "12")))
        DriftWriter(_account(), T0).add(conn, "other", _tally(
            (DriftKind.COERCED_VALUE, "total", "12")))
    with db.begin() as conn:
        DriftWriter(_account(), T1).replace(conn, ["quotes"], {"quotes": _tally(
            (DriftKind.COERCED_VALUE, "total", "13"))})
        rows = drift_rows(conn, ["a"])
    assert sorted((r["stream"], r["kind"], r["count"]) for r in rows) == [
        ("other", "coerced_value", 1), ("quotes", "coerced_value", 1)]
    db.dispose()


def test_secret_values_are_masked_in_examples(db_url: str) -> None:
    db = Database(db_url)
    with db.begin() as conn:
        DriftWriter(_account(), T0).add(conn, "quotes", _tally(
            (DriftKind.UNKNOWN_FIELD, "meta.access_token", "abc-live-token"),
            (DriftKind.UNKNOWN_FIELD, "note", "key is sekret-key-123 ok"),
            (DriftKind.UNKNOWN_FIELD, "long", "x" * 500)))
        values = {r.path: r.example_value for r in conn.execute(select(drift))}
    assert values["meta.access_token"] == "***"
    assert "sekret-key-123" not in values["note"]
    assert len(values["long"]) <= 120
    db.dispose()


def test_not_interpreted_counts_unmapped_and_unparseable_only() -> None:
    tally = _tally((DriftKind.UNMAPPED_WORD, "s", "x"), (DriftKind.UNPARSEABLE_VALUE, "t", "y"),
                   (DriftKind.COERCED_VALUE, "u", "1"), (DriftKind.UNKNOWN_FIELD, "v", 1))
    assert not_interpreted(tally.by_kind()) == 2
