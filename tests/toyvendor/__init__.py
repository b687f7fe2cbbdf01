"""A sixth vendor made only of the pieces the registry asks for, to prove it is enough.

`connector.py` (the connector module), `sandbox.py` (its sandbox and data) and one entry
in each of the two maps (`registered()` below, for the test's duration): nothing in
`syncd/` knows this vendor. Not shipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from syncd.sandbox import SANDBOXES
from syncd.vendors import CONNECTORS
from tests.toyvendor.connector import ToyConnector
from tests.toyvendor.sandbox import ToySandbox

KEY = "toy"


@contextmanager
def registered() -> Iterator[str]:
    """The toy vendor in both maps (the one line each a real vendor adds), then out again."""
    with patch.dict(CONNECTORS, {KEY: ToyConnector}), patch.dict(SANDBOXES, {KEY: ToySandbox}):
        yield KEY
