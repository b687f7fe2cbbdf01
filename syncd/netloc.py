"""Which hosts count as loopback: shared by settings (plain http only there) and the sandboxes.

A neutral module so that `syncd.sandbox` needs nothing from `syncd.settings`.
"""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IPs, the only hosts allowed over plain http."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
