"""Vendor connectors. Importing this package registers every connector in the registry.

Adding a vendor: one module here, one sandbox app in `syncd/sandbox/`, one import line below.
"""

from importlib import import_module

for _module in ("offorte", "strawblond", "quickquote", "happyoffer", "automa"):
    try:
        import_module(f"syncd.vendors.{_module}")
    except Exception as exc:  # DEVONLY: connectors being written concurrently
        import sys

        print(f"syncd: connector {_module} not loaded: {exc!r}", file=sys.stderr)
