"""The per-account `currency` setting: given by the mirror writer to proposals the vendor
sends without one (Quick Quote, StrawBlond), never over a currency the vendor does send."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from syncd.db.session import Database
from syncd.db.tables import proposals
from syncd.engine.pull import Puller
from syncd.engine.remap import remap_accounts
from syncd.engine.runtime import Runtime
from syncd.engine.store import with_currency
from syncd.errors import SettingsError
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.quickquote import QuickQuoteSandbox
from syncd.settings import settings_from_dict


def currencies(rt: Runtime) -> set[str | None]:
    with rt.db.begin() as conn:
        return set(conn.execute(select(proposals.c.currency).where(
            proposals.c.deleted_at.is_(None))).scalars())


def test_a_vendor_currency_wins_over_the_setting() -> None:
    assert with_currency({"remote_id": "1", "currency": "PLN"}, "EUR")["currency"] == "PLN"
    assert with_currency({"remote_id": "1", "currency": None}, "EUR")["currency"] == "EUR"
    assert with_currency({"remote_id": "1"}, "EUR")["currency"] == "EUR"


def test_the_setting_must_be_an_iso_code() -> None:
    with pytest.raises(SettingsError, match="currency"):
        settings_from_dict({"accounts": [{"name": "q", "vendor": "quickquote",
                                          "base_url": "http://127.0.0.1:1", "currency": "usd"}]})


def test_pulled_quotes_get_the_account_currency_and_remap_fills_older_rows(
    served: Callable[[Sandbox], ServedApp], make_runtime: Callable[..., Runtime], sqlite_url: str
) -> None:
    box = QuickQuoteSandbox(requests_per_minute=10_000)
    box.seed_data(companies=4, proposals=12, max_items=3, seed=7)
    served(box)
    entry = {**box.account_entry("q"), "requests_per_minute": 10_000}
    without = make_runtime(sqlite_url, [entry])
    assert Puller(without, without.account("q")).run(sweep=True, kind="backfill").ok
    assert currencies(without) == {None}  # Quick Quote's API carries no currency

    configured = make_runtime(sqlite_url, [{**entry, "currency": "USD"}])
    # rows already mirrored are unchanged at the vendor: `syncd remap` applies the setting
    remap_accounts(configured, ["q"])
    assert currencies(configured) == {"USD"}

    fresh_url = sqlite_url.replace("mirror.db", "fresh.db")
    Database(fresh_url).upgrade()
    fresh = make_runtime(fresh_url, [{**entry, "currency": "USD"}])
    assert Puller(fresh, fresh.account("q")).run(sweep=True, kind="backfill").ok
    assert currencies(fresh) == {"USD"}
