"""JSON columns: compact text, and a record's canonical text reused for its raw column."""

from __future__ import annotations

import json

from sqlalchemy import select

from syncd.db.json_columns import EncodedRecord, dump_json
from syncd.db.session import Database
from syncd.db.tables import stream_state
from syncd.vendors.base import canonical_json, default_fingerprint, hash_text

RECORD = {"id": 7, "name": "Müller & Söhne", "lines": [{"b": 1.5, "a": None}], "ok": True}


def test_an_encoded_record_is_written_from_its_text_and_reads_back_equal() -> None:
    text = canonical_json(RECORD)
    written = dump_json({"quotes": EncodedRecord(RECORD, text)})
    assert written == '{"quotes":' + text + "}"
    assert json.loads(written) == {"quotes": RECORD}
    assert default_fingerprint(RECORD) == hash_text(text)  # the text the fingerprint hashed


def test_other_values_are_compact_json() -> None:
    assert dump_json({"a": [1, 2], "b": {"c": "d"}}) == '{"a":[1,2],"b":{"c":"d"}}'
    # an encoded record among other keys is encoded normally, never from a stale text
    mixed = {"quotes": EncodedRecord(RECORD, "stale"), "detail": {}}
    assert json.loads(dump_json(mixed)) == {"quotes": RECORD, "detail": {}}


def test_the_engine_writes_json_columns_with_it(mirror_url: str) -> None:
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            conn.execute(stream_state.insert().values(
                account="a", stream="s", state={"x": EncodedRecord(RECORD, canonical_json(RECORD))}))
            stored = conn.execute(select(stream_state.c.state)).scalar_one()
    finally:
        db.dispose()
    assert stored == {"x": RECORD}
