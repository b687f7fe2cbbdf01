"""Amount normalisation and rounding, remembered per distinct amount text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from syncd.engine import store, values
from syncd.engine.store import storable
from syncd.engine.values import decimal_text, norm


@pytest.mark.parametrize(("amount", "text"), [
    ("1.50", "1.5"), ("1.5", "1.5"), ("100", "100"), ("1E+2", "100"), ("-0", "0"),
    ("0.000", "0"), ("-12.3400", "-12.34"), ("123456789012345678901234567.5",
                                             "123456789012345678901234567.5"),
])
def test_decimal_text_is_the_same_for_every_spelling_of_a_value(amount: str, text: str) -> None:
    assert decimal_text(Decimal(amount)) == text
    assert decimal_text(Decimal(amount)) == text  # the remembered answer too
    assert norm(Decimal(amount)) == text


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "CACHE_SIZE", 3)
    decimal_text.cache.clear()  # type: ignore[attr-defined]
    for n in range(10):
        assert decimal_text(Decimal(f"{n}.10")) == f"{n}.1"
    assert len(decimal_text.cache) <= 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("sqlite_real", [True, False])
def test_stored_amounts_round_to_four_places_whatever_was_seen_before(sqlite_real: bool) -> None:
    assert storable("unit_price", Decimal("2.5"), sqlite_real) == Decimal("2.5")
    assert storable("unit_price", Decimal("2.50"), sqlite_real) == Decimal("2.5")
    assert storable("unit_price", Decimal("0.123456"), sqlite_real) == Decimal("0.1235")
    assert storable("unit_price", Decimal("0.123449"), sqlite_real) == Decimal("0.1234")
    assert storable("unit_price", 0.1, sqlite_real) == Decimal("0.1")
    assert storable("unit_price", 7, sqlite_real) == Decimal(7)
    assert storable("name", Decimal("0.123456"), sqlite_real) == Decimal("0.123456")


def test_sqlite_amounts_beyond_exact_floats_come_back_as_the_float_keeps_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store._amount_forms.cache.clear()  # type: ignore[attr-defined]
    big = Decimal("123456789012.3456")
    assert storable("total_net", big, True) == Decimal(f"{float(big):.4f}")
    assert storable("total_net", big, False) == big


@pytest.mark.parametrize("sqlite_real", [True, False])
@pytest.mark.parametrize(("name", "value"), [
    ("unit_price", Decimal("2.50")), ("unit_price", Decimal("0.123456")), ("quantity", 7),
    ("total_net", 0.1), ("total_net", "12.30"), ("discount", None), ("tax_rate", True),
    ("total_net", Decimal("123456789012.3456")), ("total_net", -0.0), ("name", "Wool Rug"),
    ("position", 3), ("optional", False), ("title", None), ("proposal_id", 10**30),
])
def test_stored_forms_are_storable_and_its_norm(name: str, value: object,
                                                sqlite_real: bool) -> None:
    """The writer takes both forms from one call; they must be what the two functions
    give one after the other, whatever the cache has seen before."""
    for _ in range(2):  # computed, then remembered
        stored, normal = store.stored_forms(name, value, sqlite_real)
        assert stored == storable(name, value, sqlite_real)
        assert type(stored) is type(storable(name, value, sqlite_real))
        assert normal == norm(storable(name, value, sqlite_real))
