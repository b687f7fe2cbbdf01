"""Vendor connectors. Importing this package registers every connector in the registry.

Adding a vendor: one module here, one sandbox app in `syncd/sandbox/`, one name below.
"""

from importlib import import_module

VENDOR_MODULES = ("offorte", "strawblond", "quickquote", "happyoffer", "automa")

for _module in VENDOR_MODULES:
    import_module(f"syncd.vendors.{_module}")
