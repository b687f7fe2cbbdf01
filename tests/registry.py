"""Adding a vendor to the two maps for a test's duration (the toy vendor's proof uses it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from syncd.sandbox import SANDBOXES
from syncd.sandbox.base import Sandbox
from syncd.vendors import CONNECTORS
from syncd.vendors.base import Connector


@contextmanager
def register_vendor(key: str, connector: type[Connector], sandbox: type[Sandbox]
                    ) -> Iterator[str]:
    """`key` in `CONNECTORS` and `SANDBOXES` inside the block (the one line each map gets
    for a shipped vendor), and gone again after it."""
    with patch.dict(CONNECTORS, {key: connector}), patch.dict(SANDBOXES, {key: sandbox}):
        yield key
