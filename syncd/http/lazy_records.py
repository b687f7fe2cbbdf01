"""Large list answers, decoded a slice of records at a time.

Happyoffer's lists have no pagination: one answer holds every offer of the account. Decoded
whole, ten thousand offers with their line items are several hundred megabytes of Python
objects, held while every record is validated and written; the account's size, not a page
size, would set syncd's memory. The pull already writes such an answer a slice at a time
(`RECORDS_PER_COMMIT`); here the records array of a large answer becomes `LazyRecords`,
which holds only the answer's text and where each record starts and ends, and decodes a
record when it is used. Everything else in the body (paging keys, totals) is decoded as
usual.

The whole text is still checked before the first record is used: the standard library's
`raw_decode` walks every record once (and drops it), so a truncated or malformed answer is
refused as a whole, exactly as `jsontext.loads` refuses it, and the client fetches it again.
Each record is then decoded by `jsontext.loads`, so its values are what a whole-body decode
gives. No incremental JSON parser is needed for this (none is among the chosen
dependencies): `raw_decode(text, index)` already says where a value ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, overload

from syncd import jsontext

LAZY_FROM_BYTES = 4 << 20  # smaller answers (every paginated vendor's pages) decode whole

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class LazyRecords(Sequence[Any]):
    """The records of one answer, each decoded when it is read (not kept)."""

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self._text = text
        self._spans = spans

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._decode(span) for span in self._spans[index]]
        return self._decode(self._spans[index])

    def __iter__(self) -> Iterator[Any]:
        for span in self._spans:
            yield self._decode(span)

    def _decode(self, span: tuple[int, int]) -> Any:
        start, end = span
        return jsontext.loads(self._text[start:end].encode())


def loads(data: bytes, records_path: tuple[str, ...]) -> Any:
    """`jsontext.loads(data)`, except that in a large answer the array at `records_path`
    (object keys from the top) is a `LazyRecords`. Raises ValueError for malformed JSON.
    """
    if len(data) < LAZY_FROM_BYTES or data.startswith(b"\xef\xbb\xbf"):
        return jsontext.loads(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # UTF-16 and friends: json's own detection
        return jsontext.loads(data)
    try:
        value, end = _value(text, _skip(text, 0), records_path)
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, index: int) -> int:
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]  # always matches


def _value(text: str, index: int, path: tuple[str, ...]) -> tuple[Any, int]:
    if path and text.startswith("{", index):
        return _object(text, index, path)
    if not path and text.startswith("[", index):
        return _array(text, index)
    return _DECODER.raw_decode(text, index)


def _object(text: str, index: int, path: tuple[str, ...]) -> tuple[dict[str, Any], int]:
    """An object whose `path[0]` member is followed further; other members decode whole."""
    out: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        return out, index + 1
    while True:
        if not text.startswith('"', index):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes",
                                       text, index)
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        index = _skip(text, index + 1)
        if key == path[0]:
            out[key], index = _value(text, index, path[1:])
        else:
            out[key], index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text.startswith("}", index):
            return out, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _array(text: str, index: int) -> tuple[LazyRecords, int]:
    """The records array: each element checked (decoded, then dropped) and its span kept."""
    spans: list[tuple[int, int]] = []
    index = _skip(text, index + 1)
    if text.startswith("]", index):
        return LazyRecords(text, spans), index + 1
    while True:
        _, end = _DECODER.raw_decode(text, index)
        spans.append((index, end))
        index = _skip(text, end)
        if text.startswith("]", index):
            return LazyRecords(text, spans), index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)
