"""Loopback stand-ins for the five vendor APIs, faithful to shared/vendors.md.

Each sandbox is a Starlette (ASGI) app built on `syncd.sandbox.base.Sandbox`, served over
real HTTP on 127.0.0.1 by tests, the demo and `syncd sandbox`.
"""

from importlib import import_module

from syncd.sandbox.base import Sandbox


def sandbox_class(vendor: str) -> type[Sandbox]:
    """The sandbox for a vendor key: the `Sandbox` subclass in `syncd.sandbox.<vendor>`."""
    module = import_module(f"syncd.sandbox.{vendor}")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Sandbox) and value.vendor == vendor:
            return value
    raise LookupError(f"no sandbox for vendor {vendor!r} in syncd.sandbox.{vendor}")
