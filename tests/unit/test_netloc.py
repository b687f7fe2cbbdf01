"""syncd.netloc: the hosts allowed over plain http are loopback ones, nothing that looks like one."""

from __future__ import annotations

import pytest

from syncd.netloc import is_loopback_host


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True),
    ("127.0.0.1", True),
    ("127.5.6.7", True),
    ("::1", True),
    ("[::1]", True),
    (None, False),
    ("", False),
    ("10.0.0.5", False),
    ("127.0.0.1.evil.example", False),
    ("localhost.example.com", False),
    ("vendor.example.com", False),
])
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
