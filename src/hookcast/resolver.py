"""DNS lookups for the create-time SSRF check (ports.Resolver), bounded in time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence


class SystemResolver:
    def __init__(self, timeout_seconds: float = 3.0) -> None:
        self._timeout = timeout_seconds

    async def resolve(self, host: str) -> Sequence[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), self._timeout
            )
        except (OSError, TimeoutError, UnicodeError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
