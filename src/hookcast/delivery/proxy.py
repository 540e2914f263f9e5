"""An HTTP CONNECT egress proxy (HOOKCAST_EGRESS_PROXY), such as Stripe's smokescreen, for
platforms whose customers allow-list the addresses webhooks come from.

Every delivery, http:// as well as https://, goes through a tunnel (CONNECT), so there is
one way to send and the request bytes are the same with or without a proxy. The SSRF guard
still runs here first: HookCast resolves the name, checks every address, and asks the proxy
for a tunnel to the checked address (CONNECT 203.0.113.7:443), never to the name, so a
second lookup at the proxy cannot be steered somewhere else (DNS rebinding). The Host
header, TLS's SNI and certificate check keep using the name.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["Proxy", "ProxyError", "open_tunnel"]

_HEAD_LIMIT = 16 * 1024  # a CONNECT answer is a status line and a few headers


class ProxyError(OSError):
    """The proxy, not the endpoint, failed: unreachable, or it refused the tunnel."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # Proxy-Authorization

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """`http://[user:password@]host:port`; ValueError for anything else."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            # The URL itself is not repeated: it may hold a password.
            raise ValueError(
                "HOOKCAST_EGRESS_PROXY must be http://host:port or "
                "http://user:password@host:port (an HTTP CONNECT proxy)"
            )
        authorization = None
        if parts.username is not None:
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(secret.encode()).decode("ascii")
        return cls(parts.hostname, parts.port or 80, authorization)

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


async def open_tunnel(proxy: Proxy, *, address: str, port: int) -> asyncio.Transport:
    """A connection to the proxy on which it has opened a tunnel to `address:port`.
    Raises ProxyError when the proxy cannot be reached or refuses."""
    loop = asyncio.get_running_loop()
    try:
        transport, answer = await loop.create_connection(
            lambda: _Answer(proxy.where), proxy.host, proxy.port
        )
    except OSError as exc:
        raise ProxyError(f"could not connect to the egress proxy {proxy.where}: {exc}") from None
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        status = await answer.status
    except BaseException:
        transport.close()
        raise
    if status[0] != 200:
        transport.close()
        raise ProxyError(
            f"the egress proxy {proxy.where} refused a tunnel to {target}: {status[1]}"
        )
    return transport


class _Answer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: (status, status line)."""

    def __init__(self, where: str) -> None:
        self._where = where
        self.status: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._head = bytearray()

    def data_received(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end >= 0 and end + 4 < len(self._head):
            self._fail("sent bytes after its answer, before the request")
        elif end >= 0:
            self._answered(bytes(self._head[: self._head.find(b"\r\n")]))
        elif len(self._head) > _HEAD_LIMIT:
            self._fail(f"answered with a head over {_HEAD_LIMIT} bytes")

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("closed the connection before answering")

    def _answered(self, line: bytes) -> None:
        parts = line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            self._fail(f"answered with an invalid status line {line[:80]!r}")
        elif not self.status.done():
            self.status.set_result((int(parts[1]), " ".join(parts[1:])))

    def _fail(self, what: str) -> None:
        if not self.status.done():
            self.status.set_exception(ProxyError(f"the egress proxy {self._where} {what}"))
