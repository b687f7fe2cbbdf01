"""syncd.vendors.CONNECTORS and syncd.sandbox.SANDBOXES: the one place a vendor key is resolved."""

from __future__ import annotations

import pytest

from syncd.docs import vendor_table
from syncd.errors import SettingsError
from syncd.sandbox import SANDBOXES, sandbox_class
from syncd.settings import settings_from_dict
from syncd.vendors import CONNECTORS, connector_class, registered_vendors, secret_headers
from tests.toyvendor import registered
from tests.toyvendor.connector import ToyConnector
from tests.toyvendor.sandbox import ToySandbox


def test_a_miss_lists_the_valid_names() -> None:
    with pytest.raises(KeyError, match="known vendors: automa, happyoffer, offorte"):
        connector_class("salesforce")
    with pytest.raises(LookupError, match="known: automa, happyoffer, offorte"):
        sandbox_class("salesforce")


def test_lookups_read_the_maps() -> None:
    assert registered_vendors() == sorted(CONNECTORS)
    assert all(connector_class(k) is CONNECTORS[k] and sandbox_class(k) is SANDBOXES[k]
               for k in CONNECTORS)


def test_a_vendor_registered_by_a_test_is_known_only_inside_the_block() -> None:
    entry = {"name": "t", "vendor": "toy", "base_url": "https://toy.example.com"}
    with registered() as key:
        assert (connector_class(key), sandbox_class(key)) == (ToyConnector, ToySandbox)
        assert settings_from_dict({"accounts": [entry]}).accounts[0].vendor == key
        assert "| Toy | `toy` | proposals with line items" in vendor_table()
    assert "toy" not in CONNECTORS and "toy" not in SANDBOXES
    with pytest.raises(SettingsError, match="unknown vendor 'toy'"):
        settings_from_dict({"accounts": [entry]})


def test_secret_headers_are_collected_from_the_connectors() -> None:
    from syncd.http.redaction import MASK, redact_headers

    declared = secret_headers()
    assert declared and all(h == h.lower() for h in declared)
    shown = redact_headers({name.title(): "abc" for name in declared}, declared)
    assert set(shown.values()) == {MASK}
