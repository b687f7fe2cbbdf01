"""Seeded drift for sandbox answers: the vendor says the same things in other words.

Our sandboxes speak exactly our guesses of each vendor's vocabulary, so a suite run
against them alone cannot see what a real vendor's other words do to syncd. A `DriftPlan`
set on a sandbox (`sandbox.drift = DriftPlan(seed=3)`) rewrites the records of every GET
answer before it is sent, the way an independently written vendor might:

    {"id": 7, "status": "Accepted", "total": 12.5, "created_on": "2024-01-02T03:04:05"}
 -> {"id": "7", "status": "ACCEPTED", "total": "12.5", "created_on": "2024-01-02T03:04:05Z",
     "x_drift_1": {"note": "zq"}}

Kinds (each leaf gets at most one, with probability `rate`):
  * `recase`: an enum-like word in other case/spacing ("Not Yet Send" -> "not_yet_send");
  * `unknown_word`: an enum-like word replaced by one nobody documented;
  * `new_field`: an unknown key added to an object (top level or nested);
  * `drop_field`: an optional scalar removed;
  * `number_string`: a number sent as a string, or a numeric string as a number;
  * `null`: a non-key scalar sent as null;
  * `date_format`: an ISO date with or without zone, milliseconds or another offset
    (the same instant);
  * `id_type`: an id (keys `id`, `uuid`, `*_id`, `*Id`, `*_uuid`, `*Uuid`) as number or
    string — the only change ids ever get.
Containers are never removed or nulled (a list that is not a list is a broken record,
which the standard suite's `corrupt_one_record` covers). Keys in the sandbox's
`drift_exempt` are never touched: structural words the vendor's own protocol fixes.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

KINDS: tuple[str, ...] = ("recase", "unknown_word", "new_field", "drop_field",
                          "number_string", "null", "date_format", "id_type")
_WORD = re.compile(r"[A-Za-z][A-Za-z _-]{0,30}")
_NUMERIC = re.compile(r"-?\d{1,15}(\.\d{1,6})?")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_ID_KEY = re.compile(r"(?:^(?:id|uuid)$|_id$|Id$|_uuid$|Uuid$)")
_UNKNOWN_WORDS = ("Archiviert", "on_hold", "Pending Review", "zq-legacy", "UNKNOWN_7",
                  "bundle_item", "Teilweise akzeptiert", "revised")


@dataclass
class DriftPlan:
    """Seeded perturbations of GET answers; `applied` counts what was done, by kind."""

    seed: int
    rate: float = 0.25
    kinds: frozenset[str] = frozenset(KINDS)
    applied: Counter[str] = field(default_factory=Counter)
    replaced_words: set[str] = field(default_factory=set)
    _answers: int = 0

    def apply(self, records: list[dict[str, Any]], exempt: frozenset[str]) -> None:
        """Perturb `records` (dicts of one answer) in place."""
        self._answers += 1
        rng = random.Random(f"{self.seed}:{self._answers}")
        for record in records:
            self._object(record, rng, exempt, top=True)

    # ---- walking --------------------------------------------------------------------------
    def _object(self, obj: dict[str, Any], rng: random.Random, exempt: frozenset[str],
                top: bool = False) -> None:
        for key in list(obj):
            if key in exempt:
                continue
            value = obj[key]
            if isinstance(value, dict):
                self._object(value, rng, exempt)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        self._object(item, rng, exempt)
                    elif not isinstance(item, list) and rng.random() < self.rate / 2:
                        value[index] = self._scalar(key, item, rng, droppable=False)
            elif rng.random() < self.rate:
                new = self._scalar(key, value, rng, droppable=not top or not _is_id(key))
                if new is _DROP:
                    del obj[key]
                else:
                    obj[key] = new
        if "new_field" in self.kinds and rng.random() < self.rate:
            name = f"x_drift_{rng.randrange(1000)}"
            obj[name] = rng.choice([1, "text", None, {"nested": True, "n": 2}, [1, 2]])
            self.applied["new_field"] += 1

    def _scalar(self, key: str, value: Any, rng: random.Random, droppable: bool) -> Any:
        options = [k for k in self._options(key, value) if k in self.kinds]
        if not droppable:
            options = [k for k in options if k not in ("drop_field", "null")]
        if not options:
            return value
        kind = rng.choice(options)
        self.applied[kind] += 1
        return _PERTURB[kind](self, value, rng)

    def _options(self, key: str, value: Any) -> list[str]:
        if _is_id(key):
            return ["id_type"] if _numeric_id(value) else []
        if value is None or isinstance(value, bool):
            return ["drop_field"] if value is None else ["drop_field", "null"]
        options = ["drop_field", "null"]
        if isinstance(value, int | float):
            options.append("number_string")
        elif isinstance(value, str):
            if _ISO.fullmatch(value):
                options.append("date_format")
            elif _NUMERIC.fullmatch(value):
                options.append("number_string")
            elif _WORD.fullmatch(value):
                options += ["recase", "unknown_word"]
        return options

    # ---- one perturbation each -----------------------------------------------------------------
    def _recase(self, value: str, rng: random.Random) -> str:
        forms = [value.upper(), value.lower(), value.title(), value.replace(" ", "_"),
                 value.replace(" ", "-").lower(), f" {value} "]
        return rng.choice([f for f in forms if f != value] or [value.upper()])

    def _unknown_word(self, value: str, rng: random.Random) -> str:
        word = rng.choice(_UNKNOWN_WORDS)
        self.replaced_words.add(word)
        return word

    def _number_string(self, value: Any, rng: random.Random) -> Any:
        if isinstance(value, str):
            return float(value) if "." in value else int(value)
        return repr(value) if isinstance(value, float) else str(value)

    def _date_format(self, value: str, rng: random.Random) -> str:
        moment = _parse_iso(value)
        shift = rng.choice([0, 2, -5])
        local = moment.astimezone(timezone(timedelta(hours=shift)))
        forms = [
            moment.strftime("%Y-%m-%dT%H:%M:%S"),
            moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            moment.strftime("%Y-%m-%d %H:%M:%S"),
            local.isoformat(timespec="seconds"),
            local.isoformat(timespec="microseconds"),
        ]
        return rng.choice(forms)

    def _id_type(self, value: Any, rng: random.Random) -> Any:
        return str(value) if isinstance(value, int) else int(value)


_DROP = object()
_PERTURB: dict[str, Any] = {
    "recase": DriftPlan._recase,
    "unknown_word": DriftPlan._unknown_word,
    "number_string": DriftPlan._number_string,
    "date_format": DriftPlan._date_format,
    "id_type": DriftPlan._id_type,
    "null": lambda self, value, rng: None,
    "drop_field": lambda self, value, rng: _DROP,
}


def _is_id(key: str) -> bool:
    return _ID_KEY.search(key) is not None


def _numeric_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit() and len(value) < 19 and value[0] != "0"


def _parse_iso(value: str) -> datetime:
    text = value.replace("Z", "+00:00").replace(" ", "T", 1)
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    parsed = datetime.fromisoformat(text)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_records(body: Any) -> list[dict[str, Any]]:
    """The records of an answer: a bare list's objects; an object holding an id is one
    record (a detail answer); otherwise the objects of its first list of objects, or the
    records of the object under `data` (envelopes such as `{data: {items: [...]}}`).
    """
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []
    if any(_is_id(key) for key in body):
        return [body]
    for value in body.values():
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            return [item for item in value if isinstance(item, dict)]
    inner = body.get("data")
    return find_records(inner) if isinstance(inner, dict | list) else []
