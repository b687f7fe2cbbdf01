"""How JSON columns are written, and how a record's JSON is encoded only once.

The raw vendor JSON of every row is the largest thing a backfill writes. Two things keep
its cost down:

* compact text (no spaces after separators), non-ASCII characters as UTF-8: a quarter
  less encoding time and storage, the same JSON to every reader;
* `EncodedRecord`: a list record whose canonical JSON text the pull has already made for
  its fingerprint carries that text, and the `raw` column `{stream: record}` is written
  from it instead of encoding the record a second time. Its keys are sorted (that is what
  makes the fingerprint stable); to JSON readers it is the same object.
"""

from __future__ import annotations

from typing import Any

from syncd import jsontext


class EncodedRecord(dict[str, Any]):
    """A vendor record (a plain dict to everyone) that also holds its canonical JSON text.

    Mappings receive it as the record's raw dict; nothing may change it in place (the text
    would then no longer match), which holds for every connector: they build new dicts.
    """

    __slots__ = ("text",)

    def __init__(self, record: dict[str, Any], text: str) -> None:
        super().__init__(record)
        self.text = text


def dump_json(value: Any) -> str:
    """The engine's `json_serializer`: compact text, reusing a record's encoded form."""
    if type(value) is dict and len(value) == 1:
        ((key, inner),) = value.items()
        if type(inner) is EncodedRecord and type(key) is str:
            return "{" + jsontext.stored(key) + ":" + inner.text + "}"
    return jsontext.stored(value)
