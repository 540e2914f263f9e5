"""Name lookups (ports.Resolver) on c-ares, through aiodns: asynchronous, bounded in time.

A lookup is a UDP query on the event loop, not a call to getaddrinfo in a thread. With the
loop's thread pool (uvloop has 4 threads), names whose DNS servers never answer, which any
account can point a webhook at, held every thread, and every other account's lookups timed
out behind them. Here a slow name holds only its own query.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import aiodns
import aiodns.error

from hookcast.ports import LookupTimeout

__all__ = ["SystemResolver"]

# c-ares' own status for a query that no server answered (ARES_ETIMEOUT).
_ARES_TIMEOUT = 12


class SystemResolver:
    """Looks names up with the system's DNS configuration (/etc/resolv.conf, /etc/hosts).

    `nameservers` ("ip" or "ip:port") replaces the configured servers (tests use a loopback
    one). A lookup that has no answer after `timeout_seconds` raises LookupTimeout.
    """

    def __init__(
        self, timeout_seconds: float = 3.0, *, nameservers: Sequence[str] | None = None
    ) -> None:
        self._timeout = timeout_seconds
        self._nameservers = None if nameservers is None else list(nameservers)
        self._channel: tuple[asyncio.AbstractEventLoop, aiodns.DNSResolver] | None = None

    async def resolve(self, host: str) -> Sequence[str]:
        """The host's addresses, IPv6 and IPv4 as the servers gave them; [] when the name
        does not resolve."""
        try:
            result = await asyncio.wait_for(
                self._resolver().getaddrinfo(host, type=socket.SOCK_STREAM), self._timeout
            )
        except TimeoutError:
            raise LookupTimeout(f"no DNS answer for {host} in {self._timeout:g} s") from None
        except aiodns.error.DNSError as exc:
            if exc.args and exc.args[0] == _ARES_TIMEOUT:
                raise LookupTimeout(f"no DNS answer for {host}") from None
            return []
        except (UnicodeError, ValueError):  # a name c-ares cannot even encode
            return []
        return list(dict.fromkeys(_text(node.addr[0]) for node in result.nodes))

    async def close(self) -> None:
        """Cancels the lookups under way (their callers get LookupTimeout)."""
        if self._channel is not None:
            channel, self._channel = self._channel[1], None
            await channel.close()

    def _resolver(self) -> aiodns.DNSResolver:
        # One c-ares channel per event loop: its sockets belong to the loop that made them.
        loop = asyncio.get_running_loop()
        if self._channel is None or self._channel[0] is not loop:
            # c-ares' own retries stay inside our timeout (two tries of half of it each).
            resolver = aiodns.DNSResolver(
                self._nameservers, loop=loop, timeout=self._timeout / 2, tries=2
            )
            self._channel = (loop, resolver)
        return self._channel[1]


def _text(address: bytes | str) -> str:
    return address.decode("ascii") if isinstance(address, bytes) else address
