"""Large list answers: the records array decoded a record at a time, the rest as usual."""

from __future__ import annotations

import json

import pytest

from syncd.http import lazy_records
from syncd.http.lazy_records import LazyRecords

RECORDS = [
    {"id": 1, "name": "Müller & Zoon", "total": 12.5, "items": [{"sku": "A", "qty": 2}]},
    {"id": 12345678901234567890123, "name": "big id", "total": None, "items": []},
    {"id": 3, "name": "emoji \U0001f600", "total": -0.0001, "nested": {"a": [1, [2, {}]]}},
]


@pytest.fixture(autouse=True)
def every_answer_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy_records, "LAZY_FROM_BYTES", 0)


def answer(value: object, **dumps: object) -> bytes:
    return json.dumps(value, **dumps).encode()  # type: ignore[arg-type]


@pytest.mark.parametrize("dumps", [{}, {"indent": 2}, {"ensure_ascii": False}])
def test_records_decode_as_a_whole_body_decode_does(dumps: dict[str, object]) -> None:
    body = {"meta": {"total": 3, "next": None}, "data": RECORDS, "links": ["x"]}
    decoded = lazy_records.loads(answer(body, **dumps), ("data",))
    assert isinstance(decoded["data"], LazyRecords)
    assert decoded["meta"] == body["meta"] and decoded["links"] == ["x"]
    assert len(decoded["data"]) == 3
    assert list(decoded["data"]) == RECORDS
    assert decoded["data"][1:] == RECORDS[1:]
    assert decoded["data"][-1] == RECORDS[-1]
    assert decoded["data"][1]["id"] == 12345678901234567890123  # an int, not a float


def test_a_bare_array_and_a_nested_path_are_followed() -> None:
    assert list(lazy_records.loads(answer(RECORDS), ())) == RECORDS
    nested = lazy_records.loads(answer({"result": {"page": 1, "rows": RECORDS}}),
                                ("result", "rows"))
    assert nested["result"]["page"] == 1 and list(nested["result"]["rows"]) == RECORDS
    assert list(lazy_records.loads(b'{"data": [ ]}', ("data",))["data"]) == []


def test_a_body_without_the_array_decodes_as_usual() -> None:
    assert lazy_records.loads(b'{"data": null, "error": "x"}', ("data",)) == {
        "data": None, "error": "x"}
    assert lazy_records.loads(b'{"message": "gone"}', ("data",)) == {"message": "gone"}
    assert lazy_records.loads(b'"text"', ("data",)) == "text"


@pytest.mark.parametrize("body", [
    b'{"data": [{"id": 1}, {"id": 2}',            # truncated answer
    b'{"data": [{"id": 1} {"id": 2}]}',          # missing comma
    b'{"data": [{"id": 1}, {"id": 2,}]}',        # broken record deep in the list
    b'{"data": [{"id": 1}]} trailing',           # extra data
    b'{data: []}',                               # unquoted key
    b'{"data" []}',                              # missing colon
])
def test_malformed_answers_are_refused_before_any_record_is_read(body: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        lazy_records.loads(body, ("data",))


def test_small_answers_decode_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy_records, "LAZY_FROM_BYTES", 1 << 20)
    decoded = lazy_records.loads(answer({"data": RECORDS}), ("data",))
    assert decoded == {"data": RECORDS} and type(decoded["data"]) is list


def test_nesting_beyond_the_recursion_limit_is_a_malformed_answer() -> None:
    deep = b'{"data": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    with pytest.raises(ValueError, match="nested too deeply"):
        lazy_records.loads(deep, ("data",))
