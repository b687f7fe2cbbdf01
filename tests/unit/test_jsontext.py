"""orjson-encoded text must be the standard library's text, byte for byte: fingerprints
stored by earlier releases hash `json`'s output, and must still match."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from syncd import jsontext
from syncd.db.json_columns import EncodedRecord


def std_canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def std_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


ALPHABET = string.printable + "\x00\x01\x1f\x7féüß€中😀\u2028\u2029"


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**70),
                           rng.randrange(-10**12, 10**12)])
    if kind == 2:
        return rng.uniform(-1, 1) * 10 ** rng.randrange(-30, 30)
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e-5, 1e-4, 0.1, 1e16, 1.5e16, 1e100, 5e-324, 1e308, 12.5])
    if kind in (4, 5):
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(12)))
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    keys = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 6)))
            for _ in range(rng.randrange(6))]
    return {k: random_value(rng, depth + 1) for k in keys}


def test_random_documents_encode_exactly_as_json_does() -> None:
    rng = random.Random(20261125)
    for _ in range(5000):
        value = random_value(rng)
        assert jsontext.canonical(value) == std_canonical(value)
        assert jsontext.compact(value) == std_compact(value)


@pytest.mark.parametrize("value", [
    1e-5, -1.23e-7, 7.07e-05, [0.00001, "x"], {"a": 1e-300},      # json writes 1e-05
    "Müller", "€ 12,50", "中文", "😀", "\u2028", "\x7f", "tab\there\nnew",  # json escapes these
    2**64, -(2**63) - 1, [2**100],                                    # beyond 64 bits
    "White-glove", "e-mail", "1e-5 as text", "0.00001 as text",       # look-alikes in strings
])
def test_values_orjson_writes_differently_come_out_as_json_writes_them(value: Any) -> None:
    assert jsontext.canonical(value) == std_canonical(value)
    assert jsontext.compact(value) == std_compact(value)


def test_canonical_sorts_keys_and_stringifies_what_json_cannot_hold() -> None:
    value = {"b": Decimal("1.50"), "a": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
             "c": {"z": 1, "Ä": 2, "y": [3]}}
    assert jsontext.canonical(value) == std_canonical(value)
    assert jsontext.canonical({1: "int key"}) == std_canonical({1: "int key"})


def test_compact_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError):
        jsontext.compact({"amount": Decimal("1.5")})
    with pytest.raises(TypeError):
        jsontext.compact({"at": datetime(2026, 1, 1, tzinfo=UTC)})


def test_deep_nesting_beyond_orjson_limit_falls_back() -> None:
    value: Any = "leaf"
    for _ in range(300):
        value = [value]
    assert jsontext.compact(value) == std_compact(value)


def test_dict_subclasses_encode_as_their_items() -> None:
    record = EncodedRecord({"id": 1, "name": "x"}, '{"id":1,"name":"x"}')
    assert jsontext.canonical(record) == std_canonical(dict(record))


def test_nan_is_written_as_null_the_one_documented_difference() -> None:
    assert jsontext.compact([float("nan"), float("inf")]) == "[null,null]"


@pytest.mark.parametrize("value", [
    {"name": "Müller&Söhne", "emoji": "😀", "line": "\u2028", "del": "\x7f"},
    [1e-5, -1.23e-7, 7.07e-05, 0.1, 12.5, 1e308], {"a": [None, True, False, 0, -0.0]},
    [2**64, -(2**63) - 1, 2**100], {"deep": [[[["x"]]]]}, {1: "int_key"},
])
def test_stored_text_holds_the_same_json_value(value: Any) -> None:
    """JSON columns need the same value back, not json's bytes: orjson's text is kept."""
    text = jsontext.stored(value)
    assert json.loads(text) == json.loads(std_compact(value))
    assert ": " not in text and ", " not in text  # compact


def test_stored_text_keeps_non_ascii_readable() -> None:
    assert jsontext.stored({"name": "Müller"}) == '{"name":"Müller"}'


def _typed(value: Any) -> Any:
    """A value with every number tagged by its type (1 and 1.0 compare equal otherwise)."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value if value == value else "nan")


@pytest.mark.parametrize("body", [
    b"[18446744073709551615]", b"[18446744073709551616]", b"[-9223372036854775809]",
    b'{"id": 123456789012345678901234567890, "ok": 9007199254740999}',
    b"[1e400, -1e400]", b"[NaN]", b"\xef\xbb\xbf[1]", b'["\\ud800"]', b'{"a":1,"a":2}',
    b"[-0, 1E2, 0.1, 5e-324, 1.7976931348623157e308]", '["M\u00fcller"]'.encode("utf-16"),
])
def test_loads_gives_what_json_gives(body: bytes) -> None:
    assert _typed(jsontext.loads(body)) == _typed(json.loads(body))


def test_loads_agrees_with_json_on_random_documents() -> None:
    rng = random.Random(20261128)
    for _ in range(2000):
        body = json.dumps(random_value(rng)).encode()
        assert _typed(jsontext.loads(body)) == _typed(json.loads(body))


def test_loads_raises_what_json_raises_for_a_malformed_body() -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        jsontext.loads(b'{"data": [1, 2')
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(b'{"data": [1, 2')
    assert str(raised.value) == str(expected.value)
