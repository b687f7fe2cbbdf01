"""Tolerant record models: a value syncd cannot read degrades and is noted, the record stays."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from syncd import drift
from syncd.canonical import ProposalStatus
from syncd.drift import (
    AnyMoney,
    Date,
    DriftKind,
    Flag,
    Integer,
    Key,
    Money,
    MoneyText,
    Number,
    Record,
    RefId,
    Text,
    Word,
)
from syncd.errors import SettingsError
from syncd.parsing import parse_datetime
from syncd.settings import settings_from_dict
from syncd.vendors import connector_class


class Item(Record):
    id: Key
    title: Text = None
    quantity: Number = None
    count: Integer = None
    price: Money = None
    total: MoneyText = None
    optional: Flag = None


class Head(Record):
    drift_known = frozenset({"read_from_raw"})
    id: Key
    status: Word = None
    sum: AnyMoney = None
    owner: RefId = None
    created: Date = None
    items: list[Item] = []
    first: Item | None = None


def notes_of(raw: dict[str, Any]) -> tuple[Head, list[tuple[str, str, Any]]]:
    with drift.collecting() as notes:
        model = Head.model_validate(raw)
        drift.unknown_fields(Head, raw)
    return model, [(str(n.kind), n.path, n.value) for n in notes]


class TestTolerantTypes:
    def test_values_of_the_expected_type_pass_unnoted(self) -> None:
        model, notes = notes_of({"id": 7, "status": "Open", "sum": "12.50", "owner": 3,
                                 "created": "2024-01-02T03:04:05Z",
                                 "items": [{"id": "a", "title": "x", "quantity": 2,
                                            "price": 1.5, "total": "3.00", "optional": True}]})
        assert notes == []
        assert model.id == "7" and model.owner == "3" and model.sum == Decimal("12.50")
        assert model.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        item = model.items[0]
        assert (item.price, item.total, item.optional) == (Decimal("1.5"), Decimal("3.00"), True)

    @pytest.mark.parametrize(("field", "value", "expected"), [
        ("quantity", "3", Decimal("3")),
        ("quantity", "2.5", Decimal("2.5")),
        ("count", "4", 4),
        ("count", 4.0, 4),
        ("price", "12.10", Decimal("12.10")),
        ("price", "€ 1.000,50", Decimal("1000.50")),
        ("total", 3.25, Decimal("3.25")),
        ("title", 12, "12"),
        ("optional", "1", True),
        ("optional", "false", False),
    ])
    def test_another_type_with_a_certain_meaning_is_coerced_and_noted(
        self, field: str, value: Any, expected: Any
    ) -> None:
        model, notes = notes_of({"id": 1, "items": [{"id": 1, field: value}]})
        assert getattr(model.items[0], field) == expected
        assert notes == [("coerced_value", f"items[].{field}", value)]

    @pytest.mark.parametrize(("field", "value"), [
        ("price", "n/a"), ("price", True), ("total", "twelve"), ("quantity", "lots"),
        ("count", 2.5), ("title", {"de": "x"}), ("optional", "perhaps"),
    ])
    def test_an_unreadable_value_is_null_and_noted_never_zero(self, field: str, value: Any) -> None:
        model, notes = notes_of({"id": 1, "items": [{"id": 1, field: value}]})
        assert getattr(model.items[0], field) is None
        assert ("unparseable_value", f"items[].{field}", value) in notes

    def test_a_null_title_and_missing_fields_keep_the_record(self) -> None:
        model, notes = notes_of({"id": 1, "items": [{"id": 2, "title": None}]})
        assert model.items[0].title is None and notes == []

    def test_dates_in_any_known_format_are_the_same_instant(self) -> None:
        for text in ("2024-01-02T03:04:05", "2024-01-02T03:04:05.000Z",
                     "2024-01-02T05:04:05+02:00", "2024-01-02 03:04:05", 1704164645):
            model, _ = notes_of({"id": 1, "created": text})
            assert model.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), text
        model, notes = notes_of({"id": 1, "created": "soon"})
        assert model.created is None and notes == [("unparseable_value", "created", "soon")]

    def test_nested_objects_carry_their_path(self) -> None:
        _, notes = notes_of({"id": 1, "first": {"id": 1, "price": "x"}})
        assert notes == [("unparseable_value", "first.price", "x")]

    @pytest.mark.parametrize("bad", [None, True, {"a": 1}, [], "", 1.5, 2.0**60])
    def test_a_record_without_a_usable_id_still_fails(self, bad: Any) -> None:
        with pytest.raises(ValidationError):
            Head.model_validate({"id": bad})

    def test_a_list_that_is_not_a_list_still_fails(self) -> None:
        with pytest.raises(ValidationError):
            Head.model_validate({"id": 1, "items": "none"})

    def test_ids_as_number_or_string_are_the_same_text(self) -> None:
        assert Head.model_validate({"id": 12}).id == Head.model_validate({"id": "12"}).id
        assert Head.model_validate({"id": 12.0}).id == "12"
        assert Head.model_validate({"id": 1, "owner": False}).owner is None


class TestUnknownFields:
    def test_unknown_keys_are_counted_per_path_and_known_ones_are_not(self) -> None:
        _, notes = notes_of({"id": 1, "legacy": 1, "read_from_raw": 2,
                             "items": [{"id": 1, "colour": "red"}, {"id": 2, "colour": "b"}],
                             "first": {"id": 3, "deep": {"x": 1}}})
        assert sorted(n[1] for n in notes if n[0] == "unknown_field") == [
            "first.deep", "items[].colour", "items[].colour", "legacy"]


class TestWords:
    def test_words_match_case_space_hyphen_and_underscore_insensitively(self) -> None:
        table = drift.word_table({"Not Yet Send": "draft"})
        for word in ("not yet send", "NOT_YET_SEND", "not-yet-send", " NotYetSend "):
            assert drift.lookup(table, word, "status") == "draft"

    def test_an_unknown_word_is_none_and_noted_as_unmapped(self) -> None:
        with drift.collecting() as notes:
            assert drift.lookup(drift.word_table({"a": 1}), "Archiviert", "attributes.status") is None
        assert notes == [drift.DriftNote(DriftKind.UNMAPPED_WORD, "attributes.status", "Archiviert")]


def _account(**extra: Any) -> Any:
    settings = settings_from_dict({"accounts": [{
        "name": "qq", "vendor": "quickquote", "base_url": "http://127.0.0.1:9", **extra}]})
    return settings.accounts[0]


class TestAccountOverrides:
    def test_status_map_beats_the_built_in_table(self) -> None:
        connector = connector_class("quickquote")(_account(
            status_map={"Archived": "canceled", "accepted": "ordered"}))
        assert connector.map_status("ARCHIVED") is ProposalStatus.CANCELED
        assert connector.map_status("Accepted") is ProposalStatus.ORDERED
        assert connector.map_status("sent") is ProposalStatus.SENT

    def test_an_unknown_canonical_status_is_a_settings_error_naming_the_key(self) -> None:
        with pytest.raises(SettingsError) as caught:
            _account(status_map={"Archived": "archived"})
        assert "accounts[0].status_map.Archived" in str(caught.value)
        assert caught.value.exit_code == 2

    def test_line_item_types_count_as_priced_lines(self) -> None:
        connector = connector_class("quickquote")(_account(line_item_types=["Bundle Item"]))
        priced, unpriced = frozenset({"price"}), frozenset({"heading"})
        with drift.collecting() as notes:
            assert connector.is_priced_line("bundle_item", priced, unpriced, False, "t")
            assert connector.is_priced_line("PRICE", priced, unpriced, False, "t")
            assert not connector.is_priced_line("Heading", priced, unpriced, True, "t")
            assert connector.is_priced_line("new", priced, unpriced, True, "t")
            assert not connector.is_priced_line("other", priced, unpriced, False, "t")
        assert [n.value for n in notes] == ["new", "other"]

    def test_carries_amount_reads_numbers_and_amount_strings_only(self) -> None:
        assert drift.carries_amount(None, "", "3")
        assert drift.carries_amount(0)
        assert not drift.carries_amount(None, "", "n/a", True)


class TestDates:
    @pytest.mark.parametrize(("text", "expected"), [
        ("1704164645", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("1704164645000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 03:04:05 GMT", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("02.01.2024", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024/01/02", datetime(2024, 1, 2, tzinfo=UTC)),
    ])
    def test_more_date_spellings_parse(self, text: str, expected: datetime) -> None:
        assert parse_datetime(text) == expected


def test_exact_money_reads_plain_decimals_as_written() -> None:
    assert drift.exact_money("1.234") == Decimal("1.234")
    assert drift.exact_money("$1,234.50") == Decimal("1234.50")
    with pytest.raises(ValueError):
        drift.exact_money("about 12")
