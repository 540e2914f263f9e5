"""Whether this machine has what a test of loopback addresses needs."""

from __future__ import annotations

import socket

__all__ = ["has_ipv6_loopback"]


def has_ipv6_loopback() -> bool:
    """::1 can be bound (a container may have no IPv6 at all)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
