"""syncd.parsing: the vendors' money, date and id formats, to exact types (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from syncd.parsing import parse_datetime, parse_id, parse_money


class TestParseMoney:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("$999.99", Decimal("999.99")),
            ("€ 1000,00", Decimal("1000.00")),
            ("€45,521.00", Decimal("45521.00")),
            ("1.234.567,89", Decimal("1234567.89")),
            ("1,234,567.89", Decimal("1234567.89")),
            ("1.234,5", Decimal("1234.5")),
            ("€1.000", Decimal("1000")),
            ("-5", Decimal("-5")),
            ("€ -5,00", Decimal("-5.00")),
            ("+7", Decimal("7")),
            ("USD 12.50", Decimal("12.50")),
            ("12", Decimal("12")),
            (999.99, Decimal("999.99")),
            (0.1, Decimal("0.1")),
            (42, Decimal("42")),
            (Decimal("1.50"), Decimal("1.50")),
            (None, None),
            ("", None),
            (False, None),
        ],
    )
    def test_parses(self, given: Any, expected: Decimal | None) -> None:
        got = parse_money(given)
        assert got == expected
        if expected is not None:
            assert isinstance(got, Decimal)

    def test_float_never_goes_through_binary_rounding(self) -> None:
        assert str(parse_money(999.99)) == "999.99"
        assert parse_money(0.1) + parse_money(0.2) == Decimal("0.3")  # type: ignore[operator]

    @pytest.mark.parametrize(
        "bad", ["abc", "12a", "€", "1e5", "nan", "--5", "+-5", "5-", True, [1], {}]
    )
    def test_bad_input_raises(self, bad: Any) -> None:
        with pytest.raises(ValueError):
            parse_money(bad)

    @pytest.mark.parametrize("bad", ["1.2.3", "1,2,3", "12.34.56"])
    def test_misgrouped_thousands_raise_instead_of_guessing(self, bad: str) -> None:
        # "1.2.3" is no amount in any locale; storing 12.3 would be a guess.
        with pytest.raises(ValueError):
            parse_money(bad)


class TestParseDatetime:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("15 jun 2018 (06:49)", datetime(2018, 6, 15, 6, 49, tzinfo=UTC)),
            ("15 jun 2018", datetime(2018, 6, 15, tzinfo=UTC)),
            ("2020-06-15 18:05:59", datetime(2020, 6, 15, 18, 5, 59, tzinfo=UTC)),
            ("Sep 5th 2025", datetime(2025, 9, 5, tzinfo=UTC)),
            ("Sep 1st, 2025", datetime(2025, 9, 1, tzinfo=UTC)),
            ("2025-01-02T03:04:05.123456Z", datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
            ("2024-01-01T10:00:00.1234567Z", datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
            ("2022-11-22T15:14:27.597", datetime(2022, 11, 22, 15, 14, 27, 597000, tzinfo=UTC)),
            ("2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, 0, tzinfo=UTC)),
            ("2023-01-01", datetime(2023, 1, 1, tzinfo=UTC)),
            ("11-22-2022", datetime(2022, 11, 22, tzinfo=UTC)),
            (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
            (1_700_000_000_123, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
            (datetime(2020, 1, 1, 12), datetime(2020, 1, 1, 12, tzinfo=UTC)),
            (None, None),
            ("", None),
            (False, None),
        ],
    )
    def test_parses_to_aware_utc(self, given: Any, expected: datetime | None) -> None:
        got = parse_datetime(given)
        assert got == expected
        if got is not None:
            assert got.utcoffset() is not None and got.utcoffset().total_seconds() == 0

    @pytest.mark.parametrize(
        "bad", ["nonsense", "32 foo 2020", "13-45-2020", "2020-13-01", "Foo 5th 2025", True, [1]]
    )
    def test_bad_input_raises(self, bad: Any) -> None:
        with pytest.raises(ValueError):
            parse_datetime(bad)


class TestParseId:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (False, None),
            (None, None),
            ("", None),
            (0, "0"),
            (5, "5"),
            (2**60 + 1, "1152921504606846977"),
            (5.0, "5"),
            (5.5, "5.5"),
            ("abc", "abc"),
            ("0", "0"),
            ("000123", "000123"),
        ],
    )
    def test_ids_are_text(self, given: Any, expected: str | None) -> None:
        assert parse_id(given) == expected

    def test_true_is_not_an_id(self) -> None:
        with pytest.raises(ValueError):
            parse_id(True)
