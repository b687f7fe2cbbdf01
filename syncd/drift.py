"""Vendor drift: values syncd kept but could not fully interpret, noted while a record maps.

Strict about identity and money, tolerant about vocabulary. A record syncd can identify
is never dropped because one value held a word or a type nobody documented: that value
degrades (NULL, the vendor's word kept in raw) and a `DriftNote` says what happened, so
`syncd drift` can tell the user and `syncd remap` can fix the rows once a mapping exists.

Record models are built from the tolerant field types below. Each coerces where the
meaning is certain and notes it; anything else becomes None with a note::

    class Line(Record):
        id: Key                   # identity: a wrong type here still quarantines
        title: Text = None        # 12 -> "12" (coerced_value), {...} -> None (unparseable)
        quantity: Number = None   # "3" -> Decimal("3") (coerced_value)
        total: Money = None       # "12,50 €" -> Decimal("12.50"); "n/a" -> None, never 0

Notes go to the collector opened by `collecting()` (the pull opens one per record); with
none open, they are dropped, so the types are usable anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from itertools import pairwise
from types import UnionType
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator

from syncd.parsing import parse_datetime, parse_money

T = TypeVar("T")
_PLAIN_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_WORD_NOISE = re.compile(r"[\s_\-]+")
EXAMPLE_CHARS = 120


class DriftKind(StrEnum):
    """What kind of value syncd met (the `drift.kind` column)."""

    UNMAPPED_WORD = "unmapped_word"  # an enum word no table lists: status NULL, word kept
    UNKNOWN_FIELD = "unknown_field"  # a key the record model does not declare: kept in raw
    COERCED_VALUE = "coerced_value"  # another type whose meaning is certain ("3" -> 3)
    UNPARSEABLE_VALUE = "unparseable_value"  # could not be read: stored as NULL


@dataclass(frozen=True)
class DriftNote:
    """One value of one record: its kind, JSON path (`line_items[].quantity`) and value."""

    kind: DriftKind
    path: str
    value: Any


_NOTES: ContextVar[list[DriftNote] | None] = ContextVar("syncd_drift_notes", default=None)
# (model, raw data) of the models being validated, outermost first
_MODELS: ContextVar[tuple[tuple[type[BaseModel], Any], ...]] = ContextVar(
    "syncd_drift_models", default=())


def note(kind: DriftKind, path: str, value: Any) -> None:
    """Record a drift note in the open collector (none open: dropped)."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append(DriftNote(kind, path, value))


@contextmanager
def collecting() -> Iterator[list[DriftNote]]:
    """Collect the notes of everything validated and mapped inside the block."""
    notes: list[DriftNote] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def example(value: Any) -> str:
    """A short printable form of a value for the drift table (the caller masks secrets)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


# ---- words -------------------------------------------------------------------------------
def normalize_word(word: str) -> str:
    """The form words are matched in: case-, space-, hyphen- and underscore-insensitive."""
    return _WORD_NOISE.sub("", word).casefold()


def word_table(table: Mapping[str, T]) -> dict[str, T]:
    """A vocabulary keyed by normalised word (`lookup` reads it)."""
    return {normalize_word(k): v for k, v in table.items()}


def lookup(table: Mapping[str, T], word: Any, path: str) -> T | None:
    """The value for a vendor word in a `word_table`; an unknown word is noted as unmapped
    and gives None (the caller keeps the word itself, e.g. in `vendor_status`).
    """
    if word is None or word == "":
        return None
    text = word if isinstance(word, str) else str(word)
    found = table.get(normalize_word(text))
    if found is None:
        note(DriftKind.UNMAPPED_WORD, path, text)
    return found


# ---- field paths ---------------------------------------------------------------------------
def _model_types(annotation: Any) -> Iterator[tuple[type[BaseModel], bool]]:
    """The record models an annotation holds, each with whether it sits in a list."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
    elif origin in (list, tuple, set, frozenset):
        for inner, _ in (t for arg in get_args(annotation) for t in _model_types(arg)):
            yield inner, True
    elif origin is Union or origin is UnionType or origin is Annotated:
        for arg in get_args(annotation):
            yield from _model_types(arg)


@cache
def _children(model: type[BaseModel]) -> dict[str, tuple[type[BaseModel], bool]]:
    """Field key (alias if any) -> (nested record model, in a list), for one model."""
    found: dict[str, tuple[type[BaseModel], bool]] = {}
    for name, info in model.model_fields.items():
        for child, in_list in _model_types(info.annotation):
            found.setdefault(info.alias or name, (child, in_list))
    return found


@cache
def _known_keys(model: type[BaseModel]) -> frozenset[str]:
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        if info.alias:
            keys.add(info.alias)
        if isinstance(info.validation_alias, str):
            keys.add(info.validation_alias)
    return frozenset(keys) | getattr(model, "drift_known", frozenset())


def _key_holding(parent: Any, child: Any) -> str:
    """The key of `parent` (raw data) whose value is `child` or a list holding it."""
    if isinstance(parent, Mapping):
        for key, value in parent.items():
            if value is child:
                return str(key)
            if isinstance(value, list) and any(item is child for item in value):
                return f"{key}[]"
    return "?"


def _current_path(field: str | None) -> str:
    """The JSON path of `field` in the model being validated: worked out only when a note
    is made, from the raw objects of the enclosing models (by identity).
    """
    stack = _MODELS.get()
    parts = [_key_holding(parent, child) for (_, parent), (_, child) in pairwise(stack)]
    parts.append(field or "?")
    return ".".join(parts)


def unknown_fields(model: type[BaseModel], raw: Any, prefix: str = "") -> None:
    """Note every key of `raw` that `model` (and its nested record models) does not
    declare. The keys stay in raw; this only counts them, per field path.
    """
    if not isinstance(raw, Mapping):
        return
    for key in _unknown(model, tuple(raw)):
        note(DriftKind.UNKNOWN_FIELD, prefix + key, raw[key])
    for key, (child, in_list) in _children(model).items():
        value = raw.get(key)
        if in_list and isinstance(value, list):
            for item in value:
                unknown_fields(child, item, f"{prefix}{key}[].")
        elif isinstance(value, Mapping):
            unknown_fields(child, value, f"{prefix}{key}.")


@cache
def _unknown(model: type[BaseModel], keys: tuple[str, ...]) -> tuple[str, ...]:
    if getattr(model, "drift_open", False):
        return ()
    known = _known_keys(model)
    return tuple(k for k in keys if k not in known)


class Record(BaseModel):
    """Base of every record model: what syncd needs, not all a vendor may say.

    Undeclared keys are ignored by validation (they stay in raw; `unknown_fields` counts
    them). Subclasses may set `drift_known` (keys read from raw by the mapping, so not
    unknown) or `drift_open = True` (a free-form object whose keys are data).
    """

    model_config = ConfigDict(extra="ignore")
    drift_known: ClassVar[frozenset[str]] = frozenset()
    drift_open: ClassVar[bool] = False

    @model_validator(mode="wrap")
    @classmethod
    def _track_path(cls, data: Any, handler: Any) -> Any:
        token = _MODELS.set((*_MODELS.get(), (cls, data)))
        try:
            return handler(data)
        finally:
            _MODELS.reset(token)


# ---- tolerant field types ------------------------------------------------------------------
def _coerced(info: ValidationInfo, value: Any) -> None:
    note(DriftKind.COERCED_VALUE, _current_path(info.field_name), value)


def _unparseable(info: ValidationInfo, value: Any) -> None:
    note(DriftKind.UNPARSEABLE_VALUE, _current_path(info.field_name), value)


def _key(value: Any) -> str:
    """Identity: an int or a string (an integral float is the same number); else the
    record has no usable id and is quarantined.
    """
    if type(value) is str and value.strip():
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # beyond 2^53 a float may already name a neighbouring id
    raise ValueError(f"not a usable id: {value!r}")


def _ref(value: Any, info: ValidationInfo) -> str | None:
    """Another record's id: text; False/""/None (Offorte's "no id") are None."""
    if value is None or value is False or value == "":
        return None
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        _coerced(info, value)
        return str(int(value))
    _unparseable(info, value)
    return None


def _text(value: Any, info: ValidationInfo) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        _coerced(info, value)
        return str(value)
    _unparseable(info, value)
    return None


def _number(value: Any, info: ValidationInfo) -> int | float | Decimal | None:
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is int or kind is float or kind is Decimal:
        return value  # type: ignore[no-any-return]
    if kind is str and _PLAIN_DECIMAL.fullmatch(value.strip()):
        _coerced(info, value)
        return Decimal(value.strip())
    _unparseable(info, value)
    return None


def _integer(value: Any, info: ValidationInfo) -> int | None:
    number = _number(value, info)
    if number is None or type(number) is int:
        return number
    if Decimal(str(number)) == Decimal(str(number)).to_integral_value():
        if type(number) is not Decimal:  # a string was noted by _number already
            _coerced(info, value)
        return int(number)
    _unparseable(info, value)
    return None


def _flag(value: Any, info: ValidationInfo) -> bool | None:
    if value is None or type(value) is bool:
        return value
    text = str(value).strip().casefold() if isinstance(value, str | int) else None
    if text in ("1", "true", "yes", "y", "on"):
        _coerced(info, value)
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        _coerced(info, value)
        return False
    _unparseable(info, value)
    return None


def _date(value: Any, info: ValidationInfo) -> datetime | None:
    if value is None or value == "" or value is False:
        return None
    try:
        parsed = parse_datetime(value)
    except (ValueError, OverflowError, OSError):
        _unparseable(info, value)
        return None
    if not isinstance(value, str):
        _coerced(info, value)
    return parsed


def exact_money(value: Any) -> Decimal | None:
    """An amount whose meaning is certain, or ValueError. A plain decimal string is read
    as written ("1.234" is 1.234, as the JSON number would be); display strings go to
    `parse_money` ("€ 1.000,00"). Never a guess, never 0 for what could not be read.
    """
    if type(value) is str and _PLAIN_DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    try:
        return parse_money(value)
    except InvalidOperation as exc:  # pragma: no cover - parse_money guards this
        raise ValueError(str(exc)) from exc


def _money_of(native: tuple[type, ...]) -> Any:
    def check(value: Any, info: ValidationInfo) -> Decimal | None:
        if value is None or value == "" or value is False:
            return None
        try:
            amount = exact_money(value)
        except ValueError:
            _unparseable(info, value)
            return None
        if type(value) not in native:
            _coerced(info, value)
        return amount

    return check


Key = Annotated[str, BeforeValidator(_key)]
RefId = Annotated[str | None, BeforeValidator(_ref)]
Text = Annotated[str | None, BeforeValidator(_text)]
Word = Text  # an enum word: kept as text here, interpreted (or noted) by `lookup`
Number = Annotated[int | float | Decimal | None, BeforeValidator(_number)]
Integer = Annotated[int | None, BeforeValidator(_integer)]
Flag = Annotated[bool | None, BeforeValidator(_flag)]
Date = Annotated[datetime | None, BeforeValidator(_date)]
Money = Annotated[Decimal | None, BeforeValidator(_money_of((int, float)))]  # JSON numbers
MoneyText = Annotated[Decimal | None, BeforeValidator(_money_of((str,)))]  # decimal strings
AnyMoney = Annotated[Decimal | None, BeforeValidator(_money_of((int, float, str)))]


def carries_amount(*values: Any) -> bool:
    """True when any value is a number (a quantity, a price or an amount): an element of a
    type nobody listed is then a priced line, otherwise it stays in raw only.
    """
    for value in values:
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, int | float | Decimal):
            return True
        try:
            if exact_money(value) is not None:
                return True
        except ValueError:
            continue
    return False
