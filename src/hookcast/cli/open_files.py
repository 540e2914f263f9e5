"""Shares of the process's open-file limit (`ulimit -n`) for what anyone outside can make it
hold: client connections (cli/serving.py) and idle connections to receivers. Without the web
stack's imports: the delivery worker (`hookcast worker`) reads it too."""

from __future__ import annotations

import resource

__all__ = ["idle_outgoing_at_most", "share_of_open_files"]

# The delivery client's idle keep-alive connections to receivers, at most (delivery/http1.py
# Pool's `max_idle`), unless the open-file limit holds fewer.
_IDLE_OUTGOING = 1024


def idle_outgoing_at_most(wanted: int = _IDLE_OUTGOING) -> int:
    """The idle connections to receivers the delivery worker keeps: `wanted`, but never more
    than a quarter of the open-file limit. At `ulimit -n` 1,024 (systemd's default soft
    limit) a deployment delivering to a thousand endpoints could keep 1,024 idle beside
    serve's 512 client connections and the 128 requests in flight: more descriptors than
    the process has, and every further connection, a delivery's or the database's, failed."""
    return share_of_open_files(wanted, parts=4)


def share_of_open_files(wanted: int, *, parts: int) -> int:
    """`wanted`, but at most one in `parts` of the soft open-file limit (at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // parts))
