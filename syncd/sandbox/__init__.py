"""Loopback stand-ins for the vendor APIs, faithful to shared/vendors.md.

Each sandbox is a Starlette (ASGI) app built on `syncd.sandbox.base.Sandbox`, served over
real HTTP on 127.0.0.1 by tests, the demo and `syncd sandbox`. `SANDBOXES` is the one map
from a vendor key to its sandbox class (the twin of `syncd.vendors.CONNECTORS`).
"""

from __future__ import annotations

from syncd.sandbox.automa import AutomaSandbox
from syncd.sandbox.base import Sandbox
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.sandbox.offorte import OfforteSandbox
from syncd.sandbox.quickquote import QuickQuoteSandbox
from syncd.sandbox.strawblond import StrawBlondSandbox

# vendor key -> sandbox class; tests add one with `unittest.mock.patch.dict(SANDBOXES, ...)`
SANDBOXES: dict[str, type[Sandbox]] = {
    "offorte": OfforteSandbox,
    "strawblond": StrawBlondSandbox,
    "quickquote": QuickQuoteSandbox,
    "happyoffer": HappyofferSandbox,
    "automa": AutomaSandbox,
}


def sandbox_class(vendor: str) -> type[Sandbox]:
    """The sandbox class for a vendor key; a miss lists the known keys."""
    try:
        return SANDBOXES[vendor]
    except KeyError:
        raise LookupError(f"no sandbox for vendor {vendor!r}; known: "
                          f"{', '.join(sorted(SANDBOXES))}") from None
