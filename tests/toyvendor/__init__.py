"""A sixth vendor made only of the pieces the registry asks for, to prove it is enough.

`connector.py` (the connector module), `sandbox.py` (its sandbox and data) and one entry
in each of the two maps (`registered()`, for the test's duration): nothing in `syncd/`
knows this vendor. Not shipped.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tests.registry import register_vendor
from tests.toyvendor.connector import ToyConnector
from tests.toyvendor.sandbox import ToySandbox


def registered() -> AbstractContextManager[str]:
    """The toy vendor in both maps inside the block."""
    return register_vendor(ToyConnector.vendor, ToyConnector, ToySandbox)
