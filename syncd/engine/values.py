"""Normalised field values, so base, mirror and vendor compare equal when they mean the same.

Decimal("999.990") and 999.99, a naive SQLite datetime and the same aware UTC one, "5" and 5
as a reference: `norm` maps each to one JSON-able form, which is also what `base` stores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from syncd.canonical import LINE_ITEM_FIELDS

DATETIME_FIELDS = frozenset(
    {"created_at", "updated_at", "sent_at", "decided_at", "expires_at", "deleted_at"}
)
DECIMAL_FIELDS = frozenset(
    {"total_net", "total_tax", "total_gross", "quantity", "unit_price", "discount", "tax_rate"}
)
INT_FIELDS = frozenset({"company_id", "contact_id", "position", "proposal_id"})
BOOL_FIELDS = frozenset({"optional"})
_ = LINE_ITEM_FIELDS
T = TypeVar("T")


_BIG = 10**27  # ints below this keep every digit through Decimal's 28-digit context


def norm(value: Any) -> Any:
    """One comparable, JSON-able form per meaning."""
    kind = type(value)
    if kind is str or value is None or kind is bool:  # the common cases, answered first
        return value
    if kind is int and -_BIG < value < _BIG:  # what the Decimal route gives, without it
        return str(value)
    if kind is Decimal:
        return decimal_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Decimal | int | float):
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = format(dec.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


CACHE_SIZE = 1 << 16  # distinct amounts remembered per function (then forgotten at once)


def remembered_by_text(compute: Callable[..., T]) -> Callable[..., T]:
    """`compute(amount, *flags)` remembered per (amount text, flags): a backfill handles
    hundreds of thousands of amounts drawn from a few thousand distinct values. Keyed by
    `str(amount)`, not the Decimal, because hashing a fresh Decimal costs about a
    microsecond (a modular power) and its text 20 ns; equal amounts spelled differently
    ("1.5", "1.50") only take two entries.
    """
    cache: dict[tuple[Any, ...], T] = {}

    def remembered(amount: Decimal, *flags: Any) -> T:
        key = (str(amount), *flags)
        found = cache.get(key)
        if found is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            found = cache[key] = compute(amount, *flags)
        return found

    remembered.cache = cache  # type: ignore[attr-defined]  # for tests
    return remembered


@remembered_by_text
def decimal_text(value: Decimal) -> str:
    """Decimal text without trailing zeros ("1.50" -> "1.5")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def denorm(field: str, value: Any) -> Any:
    """A normalised value back to the Python type the column takes."""
    if value is None:
        return None
    if field in DATETIME_FIELDS:
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if field in DECIMAL_FIELDS:
        return Decimal(str(value))
    if field in INT_FIELDS:
        return int(value)
    if field in BOOL_FIELDS:
        return bool(value)
    return value


def to_json(value: Any) -> Any:
    """Values for JSON payloads and the outbox (Decimals as strings, times ISO)."""
    return norm(value)
