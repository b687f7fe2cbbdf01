r"""JSON text encoded by orjson, identical to what the standard library writes.

Encoding every row's `raw` and `base` and the canonical text behind each fingerprint is the
largest cost of a backfill after the database's own work, and orjson encodes several times
faster than `json`. But the text must not change with the library: a fingerprint stored by
an earlier release has to match the same record again (a mismatch re-fetches its detail,
which costs requests). orjson differs from `json` in three ways, each handled here:

* it writes floats below 1e-4 as `0.0000123` / `1.23e-7` (`json`: `1.23e-05`): such text
  is re-encoded by `json` (`stored`, for JSON columns, keeps orjson's text: a column must
  hold the same value, not the same bytes);
* it writes non-ASCII characters and DEL as they are (`json` escapes them by default):
  non-ASCII runs are escaped in place by the ASCII codec's error handler (`_escape`,
  `\u00fc` and surrogate pairs as `json` writes them: eight times faster than encoding
  again, which a third of the sandbox's quotes needed; a regular expression over the
  text measured slower than `json`); text holding DEL is re-encoded by `json`;
* it refuses integers beyond 64 bits and non-string keys: `json` encodes those.

What is left: NaN and ±Infinity (not JSON; they only reach syncd from a vendor that sends
them) become null instead of `NaN`, which a PostgreSQL JSON column would refuse anyway.
Decoding (`loads`, every vendor answer) is orjson's too, where it gives what `json` gives:
orjson reads integers outside the 64-bit range as floats, so a body holding a run of 19 or
more digits is left to `json` (a byte translation finds such a run at a fraction of the
parse), as is anything orjson refuses that `json` accepts (NaN, a BOM, lone surrogates,
UTF-16), so errors keep `json`'s words.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS

_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=str)


def compact(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"))`, the same text, faster (what JSON
    columns store; a value JSON cannot hold raises TypeError, as with `json`).
    """
    return _encode(value, _OPTIONS, _COMPACT, None)


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # -9223372036854775809 already leaves orjson's integers


def loads(data: bytes) -> Any:
    """`json.loads(data)`, the same values, about twice as fast (orjson where it agrees).

    Nesting deeper than the interpreter's recursion limit is a ValueError too (`json`
    raises RecursionError): to the client, a malformed answer like any other.
    """
    if _LONG_NUMBER in data.translate(_DIGITS_AS_ZERO):
        return _json_loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _json_loads(data)


def _json_loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None


def stored(value: Any) -> str:
    """Compact JSON text of `value` for a JSON column: orjson's own text, with non-ASCII
    characters as UTF-8 and small floats as orjson writes them (`1e-7`).

    A column only has to hold the same JSON value, not `json`'s exact bytes, so none of
    the re-encoding `compact` does applies here; it mattered: a third of Quick Quote's
    sandbox quotes hold a non-ASCII name, and each went through `json` a second time.
    Integers beyond 64 bits, non-string keys and deep nesting still go to `json`.
    """
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:
        return _COMPACT.encode(value)


def canonical(value: Any) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)`, the same
    text, faster: what a fingerprint hashes, so it must not change between releases.
    """
    return _encode(value, _SORTED, _CANONICAL, str)


def _encode(value: Any, options: int, fallback: json.JSONEncoder, default: Any) -> str:
    try:
        text = orjson.dumps(value, default=default, option=options).decode()
    except TypeError:  # integers beyond 64 bits, non-string keys, deep nesting
        return fallback.encode(value)
    if not text.isascii():
        text = text.encode("ascii", _ESCAPE).decode("ascii")
    if "\x7f" in text or _may_hold_tiny_float(text):
        return fallback.encode(value)
    return text


def _escape(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a run of non-ASCII characters as `json`'s backslash-u escapes
    (characters beyond the BMP as their UTF-16 surrogate pair).
    """
    assert isinstance(error, UnicodeEncodeError)
    out = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


_ESCAPE = "syncd-json-escape"
codecs.register_error(_ESCAPE, _escape)


def _may_hold_tiny_float(text: str) -> bool:
    """Whether orjson may have written a float below 1e-4 (`0.0000123`, `1.23e-7`).

    Plain string searches: "e-" is common in text ("White-glove"), and a regular
    expression over every record costs more than orjson saves. A string that merely
    looks like such a number only sends its record down the slower, identical path.
    """
    if "0.0000" in text:
        return True
    at = text.find("e-")
    while at != -1:
        if at and text[at - 1].isdigit() and text[at + 2 : at + 3].isdigit():
            return True
        at = text.find("e-", at + 2)
    return False
