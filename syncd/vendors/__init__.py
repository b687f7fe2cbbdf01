"""Vendor connectors and the one map from a vendor key to its connector class.

Adding a vendor: one connector module here and one line in `CONNECTORS`, its sandbox
module (and data) with one line in `syncd.sandbox.SANDBOXES`, and its rows in
settings.example.toml; `python -m syncd.docs` then writes its README rows from the
connector. Like dlt's paginator map: a plain dict, and a miss lists the valid names
(tests/toyvendor proves that this is all a vendor needs).
"""

from __future__ import annotations

from syncd.vendors.automa import AutomaConnector
from syncd.vendors.base import Connector
from syncd.vendors.happyoffer import HappyofferConnector
from syncd.vendors.offorte import OfforteConnector
from syncd.vendors.quickquote import QuickQuoteConnector
from syncd.vendors.strawblond import StrawBlondConnector

# vendor key (the `vendor` of an `[[accounts]]` table) -> connector class; tests add a
# vendor for their duration with `unittest.mock.patch.dict(CONNECTORS, {key: cls})`
CONNECTORS: dict[str, type[Connector]] = {
    "offorte": OfforteConnector,
    "strawblond": StrawBlondConnector,
    "quickquote": QuickQuoteConnector,
    "happyoffer": HappyofferConnector,
    "automa": AutomaConnector,
}


def connector_class(vendor: str) -> type[Connector]:
    """The connector class for a vendor key; a miss lists the known keys."""
    try:
        return CONNECTORS[vendor]
    except KeyError:
        raise KeyError(f"unknown vendor {vendor!r}; known vendors: "
                       f"{', '.join(registered_vendors())}") from None


def registered_vendors() -> list[str]:
    """Every vendor key, sorted: what settings accept and the suites run over."""
    return sorted(CONNECTORS)


def secret_headers() -> frozenset[str]:
    """Every vendor's declared secret headers, for `syncd.http.redaction.redact_headers`."""
    return frozenset().union(*(cls.secret_headers for cls in CONNECTORS.values()))
