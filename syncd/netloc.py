"""Which hosts count as loopback, and which URLs syncd accepts in settings (https, or plain
http to loopback): shared by settings, the vendors' options models and the sandboxes.

A neutral module so that `syncd.sandbox` and `syncd.vendors` need nothing from `syncd.settings`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


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


def check_url(url: str) -> str:
    """Reject anything but https, except loopback (sandboxes, local tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url.rstrip("/")
    raise ValueError("must be an https URL (plain http is allowed only for loopback)")
