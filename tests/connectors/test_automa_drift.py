"""Automa.Net vendor drift through the engine: a backfill from the sandbox keeps every quote
syncd can identify, whatever words and types Automa uses, and notes what it could not read.

Each test changes the quotes the sandbox holds (what `GET /quotes/{uuid}` answers), pulls
the account through syncd's engine and asserts the mirror and the drift table. The call
log's entries carry no quote here (no snapshot), so every quote is read by uuid; the
snapshots go through the same model and mapping (tests/connectors/test_automa_snapshot.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import drift, line_items, pending_fetches, proposals, quarantine
from syncd.engine.pull import Puller
from syncd.engine.runtime import Runtime
from syncd.engine.webhooks import run_pending_fetches
from syncd.sandbox.automa import AutomaSandbox

RPM = 10_000


class Pulled:
    """A seeded, served sandbox, its quotes changed by a test, and one account over it."""

    def __init__(self, db_url: str, make_runtime: Callable[..., Runtime], served: Any,
                 **account: Any) -> None:
        self.clock = FakeClock()
        self.sandbox = AutomaSandbox(requests_per_minute=RPM, clock=self.clock)
        self.sandbox.seed_data(companies=2, proposals=4, max_items=2, seed=5)
        served(self.sandbox)
        entry = {**self.sandbox.account_entry("am"), "requests_per_minute": RPM, **account}
        self.runtime = make_runtime(db_url, [entry], self.clock)
        self.quotes = sorted(self.sandbox.collection("quotes").values(),
                             key=lambda q: q["number"])
        for quote in self.quotes:  # the tests change what GET /quotes/{uuid} answers
            self.sandbox.drop_event_objects(quote["uuid"])

    def pull(self) -> None:
        result = Puller(self.runtime, self.runtime.account("am")).run(sweep=True,
                                                                      kind="backfill")
        assert result.ok, result.errors
        assert self.rows(quarantine) == []

    def rows(self, table: Any, **where: Any) -> list[dict[str, Any]]:
        query = select(table).where(table.c.account == "am")
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        with self.runtime.db.begin() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def proposal(self, quote: dict[str, Any]) -> dict[str, Any]:
        (row,) = self.rows(proposals, remote_id=quote["uuid"])
        return row

    def items(self, quote: dict[str, Any]) -> list[dict[str, Any]]:
        row = self.proposal(quote)
        with self.runtime.db.begin() as conn:
            return [dict(r) for r in conn.execute(
                select(line_items).where(line_items.c.proposal_id == row["id"],
                                         line_items.c.deleted_at.is_(None))
                .order_by(line_items.c.position)).mappings()]

    def drift(self, kind: str) -> dict[str, dict[str, Any]]:
        """Drift rows of one kind, by path (and word, for unmapped words)."""
        return {f"{r['path']}={r['word']}" if r["word"] else r["path"]: r
                for r in self.rows(drift, kind=kind)}


@pytest.fixture
def case(db_url: str, make_runtime: Callable[..., Runtime], served: Any) -> Callable[..., Pulled]:
    return lambda **account: Pulled(db_url, make_runtime, served, **account)


def test_automa_unknown_status_word_keeps_the_quote_with_status_null_and_a_drift_row(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    quote = pulled.quotes[0]
    quote["status"]["name"] = "archived"
    pulled.pull()
    row = pulled.proposal(quote)
    assert (row["status"], row["vendor_status"]) == (None, "archived")
    assert len(pulled.items(quote)) == len(quote["items"])
    found = pulled.drift("unmapped_word")["quote.status.name=archived"]
    assert (found["stream"], found["count"], found["example_value"],
            found["example_remote_id"]) == ("webhook_calls", 1, "archived", quote["uuid"])
    assert len(pulled.rows(proposals)) == len(pulled.quotes)


def test_automa_status_in_capitals_or_other_spacing_maps(case: Callable[..., Pulled]) -> None:
    pulled = case()
    words = ["ACCEPTED", "De-clined", " Expired ", "DRAFT"]
    for quote, word in zip(pulled.quotes, words, strict=True):
        quote["status"]["name"] = word
        quote["tracked_openings"] = []
    pulled.pull()
    assert [(pulled.proposal(q)["status"], pulled.proposal(q)["vendor_status"])
            for q in pulled.quotes] == list(zip(
                ["accepted", "rejected", "expired", "draft"], words, strict=True))
    assert pulled.drift("unmapped_word") == {}


def test_automa_account_status_map_entry_maps_an_unknown_word(
    case: Callable[..., Pulled],
) -> None:
    pulled = case(status_map={"Archived": "expired"})
    quote = pulled.quotes[0]
    quote["status"]["name"] = "ARCHIVED"
    pulled.pull()
    assert pulled.proposal(quote)["status"] == "expired"
    assert pulled.drift("unmapped_word") == {}


def test_automa_money_as_numbers_and_numbers_as_strings_are_coerced_exactly(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    quote = pulled.quotes[0]
    item = quote["items"][0]
    item.update(quantity="4", unit_nett_price=19.99, tax_rate=23)
    item["total_price"]["final"]["nett_amount"] = 79.96
    grand = quote["totals"]["grand_price"]["final"]
    grand.update(nett_amount=float(grand["nett_amount"]), tax_amount=int(Decimal("7")))
    pulled.pull()
    line = pulled.items(quote)[0]
    assert (line["quantity"], line["unit_price"], line["tax_rate"], line["total_net"]) == (
        Decimal(4), Decimal("19.99"), Decimal(23), Decimal("79.96"))
    row = pulled.proposal(quote)
    assert row["total_net"] == Decimal(grand["nett_amount"]).quantize(Decimal("0.01"))
    assert row["total_tax"] == Decimal(7)
    coerced = pulled.drift("coerced_value")
    assert {"quote.items[].quantity", "quote.items[].unit_nett_price", "quote.items[].tax_rate",
            "quote.items[].total_price.final.nett_amount",
            "quote.totals.grand_price.final.nett_amount",
            "quote.totals.grand_price.final.tax_amount"} == set(coerced)
    assert coerced["quote.items[].unit_nett_price"]["example_value"] == "19.99"


def test_automa_unparseable_amount_is_null_and_noted_never_0(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    quote = pulled.quotes[0]
    quote["items"][0]["unit_nett_price"] = "on request"
    quote["totals"]["grand_price"]["final"]["gross_amount"] = "—"
    pulled.pull()
    assert pulled.items(quote)[0]["unit_price"] is None
    row = pulled.proposal(quote)
    assert row["total_gross"] is None and row["total_net"] is not None
    assert set(pulled.drift("unparseable_value")) == {
        "quote.items[].unit_nett_price", "quote.totals.grand_price.final.gross_amount"}


def test_automa_null_note_keeps_the_quote(case: Callable[..., Pulled]) -> None:
    pulled = case()
    quote = pulled.quotes[0]
    quote["note"] = None
    quote["buyer"]["user"]["first_name"] = None
    pulled.pull()
    assert pulled.proposal(quote)["title"] is None
    assert pulled.rows(quarantine) == []


def test_automa_currency_outside_the_enum_is_kept_as_an_iso_code_and_noted(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    chf, odd, lower = pulled.quotes[:3]
    chf["currency"], odd["currency"], lower["currency"] = "CHF", "złoty", "eur"
    pulled.pull()
    assert [pulled.proposal(q)["currency"] for q in (chf, odd, lower)] == ["CHF", None, "EUR"]
    assert set(pulled.drift("unmapped_word")) == {"quote.currency=chf", "quote.currency=złoty"}


def test_automa_item_without_uuid_keeps_the_quote_with_a_derived_line_item_id(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    quote = next(q for q in pulled.quotes if len(q["items"]) > 1)
    del quote["items"][1]["uuid"]
    pulled.pull()
    assert [i["remote_id"] for i in pulled.items(quote)] == [
        quote["items"][0]["uuid"], f"{quote['uuid']}:items:2"]
    assert "quote.items[].uuid" in pulled.drift("unparseable_value")


def test_automa_line_item_types_entry_makes_additional_costs_line_items(
    case: Callable[..., Pulled],
) -> None:
    pulled = case(line_item_types=["additional_costs"])
    quote = pulled.quotes[0]
    quote["additional_costs"] = [{"name": "Shipping", "nett_price": "35.00",
                                  "tax_rate": "23.00"}]
    pulled.pull()
    *items, cost = pulled.items(quote)
    assert len(items) == len(quote["items"])
    assert (cost["remote_id"], cost["name"], cost["quantity"], cost["unit_price"]) == (
        f"{quote['uuid']}:additional_costs:1", "Shipping", Decimal(1), Decimal("35.00"))


def test_automa_undocumented_list_stays_in_raw_only_and_is_counted(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    quote = pulled.quotes[0]
    quote["services"] = [{"name": "Installation", "nett_price": "100.00", "quantity": 1}]
    pulled.pull()
    assert len(pulled.items(quote)) == len(quote["items"])
    assert pulled.proposal(quote)["raw"]["webhook_calls"]["services"] == quote["services"]
    assert pulled.drift("unknown_field")["quote.services"]["count"] == 1


def test_automa_a_quote_whose_items_are_not_a_list_is_quarantined_alone(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    bad = pulled.sandbox.corrupt_one_record()
    result = Puller(pulled.runtime, pulled.runtime.account("am")).run(sweep=True)
    assert result.ok
    assert [r["remote_id"] for r in pulled.rows(quarantine)] == [bad]
    assert len(pulled.rows(proposals)) == len(pulled.quotes) - 1


def test_automa_webhook_fetch_notes_drift_under_the_pull_paths(
    case: Callable[..., Pulled],
) -> None:
    pulled = case()
    pulled.pull()
    quote = pulled.quotes[0]
    quote["status"]["name"] = "on hold"
    quote["items"][0]["unit_nett_price"] = 10.5
    account = pulled.runtime.account("am")
    with pulled.runtime.db.begin() as conn:
        conn.execute(pending_fetches.insert().values(
            account="am", entity=str(Entity.PROPOSALS), remote_id=quote["uuid"],
            deleted=False, reason="QUOTE_RECEIVED", created_at=pulled.clock.now()))
    assert run_pending_fetches(pulled.runtime, account.settings.name) == 1
    row = pulled.proposal(quote)
    assert (row["status"], row["vendor_status"]) == (None, "on hold")
    assert "quote.status.name=onhold" in pulled.drift("unmapped_word")
    assert "quote.items[].unit_nett_price" in pulled.drift("coerced_value")


def test_automa_remap_with_a_status_map_entry_fixes_unmapped_words_without_requests(
    db_url: str, make_runtime: Callable[..., Runtime], served: Any,
) -> None:
    """Proposal rows store the fetched quote, not the call-log entry merged with it: the
    stream rebuilds its record from that (`remap_record`), so `syncd remap` re-reads them."""
    remap = pytest.importorskip("syncd.engine.remap")
    pulled = Pulled(db_url, make_runtime, served)
    quote = pulled.quotes[0]
    quote["status"]["name"] = "Archived"
    pulled.pull()
    assert pulled.proposal(quote)["status"] is None
    entry = {**pulled.sandbox.account_entry("am"), "status_map": {"archived": "expired"}}
    runtime = make_runtime(db_url, [entry], pulled.clock)
    pulled.sandbox.reset_log()
    (result,) = remap.remap_accounts(runtime, ["am"])
    assert pulled.sandbox.requests == []
    assert result.records == len(pulled.quotes) and not result.skipped, result.as_json()
    assert pulled.proposal(quote)["status"] == "expired"
    assert pulled.drift("unmapped_word") == {}
